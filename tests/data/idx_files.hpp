#pragma once
// Builds IDX files byte by byte for the tests, and writes them plain or gzip-compressed.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#if defined(LATENT_WITH_ZLIB)
#include <zlib.h>
#endif

namespace latent_test {

using Bytes = std::vector<std::uint8_t>;

inline void put_be32(Bytes& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(std::uint8_t(v >> shift));
}

// An unsigned-byte IDX buffer with the given dimensions followed by `data`.
inline Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes b{0, 0, 0x08, std::uint8_t(dims.size())};
  for (auto d : dims) put_be32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline void write_plain(const std::filesystem::path& p, const Bytes& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

#if defined(LATENT_WITH_ZLIB)
inline void write_gz(const std::filesystem::path& p, const Bytes& b) {
  gzFile f = gzopen(p.c_str(), "wb");
  if (!f || gzwrite(f, b.data(), unsigned(b.size())) != int(b.size()) || gzclose(f) != Z_OK)
    throw std::runtime_error("cannot write " + p.string());
}
#endif

}  // namespace latent_test
