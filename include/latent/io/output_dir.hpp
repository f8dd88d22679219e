#pragma once
/// @file
/// `prepare_output_directory`: make the folder a long run will write into, and prove it is
/// writable, before the run starts. Otherwise a typo or a read-only path is found only when
/// training is over and its results have nowhere to go.

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "latent/core/error.hpp"

namespace latent::inline v0 {

/// Creates `dir` and its parents if needed, then creates and removes a probe file in it. Throws
/// `IoError` naming `dir` and the system's reason if it cannot be created, is not a folder, or
/// refuses a new file (permissions, read-only or full file system, /proc).
inline void prepare_output_directory(const std::filesystem::path& dir) {
  const std::string where = dir.string();
  if (where.empty()) throw IoError("output folder", "the path is empty");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(where, "cannot create the folder: " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) throw IoError(where, "exists but is not a folder");
  const std::string probe = (dir / (".latent-probe." + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(where, "cannot write into the folder: " + std::string(std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace latent::inline v0
