#pragma once
/// @file
/// Reading gzip data in memory. Decompression needs zlib: define `LATENT_WITH_ZLIB` and link
/// `ZLIB::ZLIB` (Debian: apt-get install zlib1g-dev). Without it, `gunzip` throws `FormatError`.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#if defined(LATENT_WITH_ZLIB)
#include <zlib.h>
#endif

#include "latent/core/error.hpp"

namespace latent::inline v0 {

/// Whether `bytes` start with the gzip magic number 1f 8b (RFC 1952).
[[nodiscard]] inline bool is_gzip(std::span<const std::uint8_t> bytes) noexcept {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

/// Whether this translation unit can decompress gzip (it defines `LATENT_WITH_ZLIB`).
inline constexpr bool has_zlib =
#if defined(LATENT_WITH_ZLIB)
    true;
#else
    false;
#endif

/// Decompresses a complete gzip stream (one or more members, RFC 1952) held in memory.
/// `where` names the source (usually the file) in error messages.
/// Throws `FormatError` if the data are not gzip, are truncated or corrupt (bad CRC or deflate
/// data), carry trailing garbage, or if latent was built without zlib.
[[nodiscard]] inline std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> bytes, const std::string& where) {
#if !defined(LATENT_WITH_ZLIB)
  (void)bytes;
  throw FormatError(where,
                    "is gzip-compressed but latent was built without zlib: define "
                    "LATENT_WITH_ZLIB and link ZLIB::ZLIB, or decompress it with gunzip");
#else
  if (!is_gzip(bytes)) throw FormatError(where, "not a gzip stream (bad magic number)");
  std::vector<std::uint8_t> out;
  // The trailer's ISIZE (size mod 2^32) is only a hint from untrusted data; deflate never expands
  // more than 1032:1, so the reservation is also capped by what the input can possibly produce.
  const auto n = bytes.size();
  // A gzip member is at least 18 bytes (10 header, 8 trailer); shorter input is left to inflate
  // to report as truncated.
  const std::uint64_t isize = n < 18 ? 0
                                     : std::uint64_t(bytes[n - 4]) | std::uint64_t(bytes[n - 3]) << 8 |
                                           std::uint64_t(bytes[n - 2]) << 16 | std::uint64_t(bytes[n - 1]) << 24;
  out.reserve(std::size_t(std::min<std::uint64_t>(isize, 1032 * std::uint64_t(n))));

  z_stream zs{};
  // 16 + MAX_WBITS: expect a gzip header and trailer and check the CRC-32.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw FormatError(where, "zlib inflateInit2 failed");
  struct Guard {
    z_stream* zs;
    ~Guard() { inflateEnd(zs); }
  } guard{&zs};

  const std::uint8_t* in = bytes.data();
  std::size_t in_left = n;
  constexpr std::size_t chunk = std::size_t(1) << 16;
  for (;;) {
    // zlib counts in uInt; feed at most 1 GiB at a time so the count never wraps.
    const auto feed = std::min<std::size_t>(in_left, std::size_t(1) << 30);
    zs.next_in = const_cast<Bytef*>(in);  // zlib's API is not const-correct; it only reads
    zs.avail_in = uInt(feed);
    if (out.capacity() - out.size() < chunk) out.reserve(std::max(2 * out.capacity(), out.size() + chunk));
    const std::size_t old = out.size();
    out.resize(out.capacity());
    zs.next_out = out.data() + old;
    zs.avail_out = uInt(std::min<std::size_t>(out.size() - old, std::numeric_limits<uInt>::max()));
    const std::size_t avail_out = zs.avail_out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + (avail_out - zs.avail_out));
    const std::size_t used = feed - zs.avail_in;
    in += used;
    in_left -= used;
    if (rc == Z_STREAM_END) {
      if (in_left == 0) return out;
      // Concatenated members are valid gzip (`cat a.gz b.gz`); anything else is garbage.
      if (!is_gzip({in, in_left}))
        throw FormatError(where, std::to_string(in_left) + " trailing bytes after the gzip stream");
      inflateReset(&zs);
    } else if (rc == Z_BUF_ERROR && in_left == 0) {
      throw FormatError(where, "truncated gzip stream (ends after " + std::to_string(n) + " compressed bytes, " +
                                   std::to_string(out.size()) + " decompressed)");
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw FormatError(where, std::string("corrupt gzip stream: ") + (zs.msg ? zs.msg : zError(rc)));
    }
  }
#endif
}

}  // namespace latent::inline v0
