#pragma once
/// @file
/// Writing a file so that readers see the old content or the new, never half of it: write
/// `path.tmp.<pid>`, fsync it, then rename over `path` (rename is atomic on POSIX file systems).

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>

#include <fcntl.h>
#include <unistd.h>

#include "latent/core/error.hpp"

namespace latent::inline v0 {

/// Replaces the file at `path` by `bytes` atomically (see the file comment).
/// Throws `IoError` naming the file and the system's reason if any step fails; the temporary
/// file is removed then.
inline void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  // `err` is captured before close/unlink can overwrite errno.
  const auto fail = [&](const char* step, int err) {
    const std::string reason = std::strerror(err);
    ::unlink(tmp.c_str());
    throw IoError(path.string(), std::string(step) + " failed: " + reason);
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("open", errno);
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      fail("write", err);
    }
    done += std::size_t(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("fsync", err);
  }
  if (::close(fd) != 0) fail("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
}

}  // namespace latent::inline v0
