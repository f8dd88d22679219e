#pragma once
/// @file
/// Reading a whole file into memory, decompressing it when it is gzip.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/data/gzip.hpp"

namespace latent::inline v0 {

/// The bytes of the file at `path`, exactly as stored.
/// Throws `IoError` (naming the file and the reason) if it is missing or cannot be read.
[[nodiscard]] inline std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError(path.string(), "cannot read: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  std::vector<std::uint8_t> bytes(size);
  if (!in || !in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
    throw IoError(path.string(), "cannot read " + std::to_string(size) + " bytes");
  return bytes;
}

/// The content of the file at `path`, gunzipped when it starts with the gzip magic number
/// (whatever its name). Throws `IoError` as `read_file_bytes` and `FormatError` as `gunzip`.
[[nodiscard]] inline std::vector<std::uint8_t> read_file_content(const std::filesystem::path& path) {
  auto bytes = read_file_bytes(path);
  return is_gzip(bytes) ? gunzip(bytes, path.string()) : bytes;
}

}  // namespace latent::inline v0
