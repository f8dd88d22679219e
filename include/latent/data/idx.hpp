#pragma once
/// @file
/// The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian header, then the data.
/// Bytes 0-1 are zero, byte 2 is the element type (0x08 = unsigned byte, the only one supported),
/// byte 3 the number of dimensions d, then d big-endian uint32 sizes, then the elements in
/// row-major order. Images are idx3 (N x rows x cols), labels idx1 (N).
/// Every size in the header is checked against the bytes that actually follow before anything
/// is allocated, so a hostile header (0xFFFFFFFF dims) costs nothing but an exception.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/read_bytes.hpp"

namespace latent::inline v0 {

/// A validated IDX header: the sizes and where the elements start.
struct IdxHeader {
  std::vector<std::uint32_t> dims;  ///< e.g. {60000, 28, 28} for idx3 images
  std::size_t data_offset = 0;      ///< bytes from the start of the buffer to the first element
};

/// Reads and validates the header of unsigned-byte IDX data with `expected_dims` dimensions.
/// `where` names the source in messages. Throws `FormatError` on a bad magic number, another
/// element type, another number of dimensions, a truncated header, or a data size that differs
/// from the product of the dimensions (truncated data or trailing bytes).
[[nodiscard]] inline IdxHeader parse_idx_header(std::span<const std::uint8_t> bytes, const std::string& where,
                                                int expected_dims) {
  const std::string kind = "idx" + std::to_string(expected_dims);
  if (bytes.size() < 4)
    throw FormatError(where, "truncated " + kind + " header: " + std::to_string(bytes.size()) +
                                 " bytes, the magic number alone needs 4");
  const auto be32 = [&](std::size_t at) {
    return std::uint32_t(bytes[at]) << 24 | std::uint32_t(bytes[at + 1]) << 16 | std::uint32_t(bytes[at + 2]) << 8 |
           std::uint32_t(bytes[at + 3]);
  };
  if (bytes[0] != 0 || bytes[1] != 0) {
    char magic[11];
    std::snprintf(magic, sizeof magic, "0x%08X", unsigned(be32(0)));
    throw FormatError(where, std::string("bad magic number ") + magic + ", not an IDX file (" + kind +
                                 " starts with 0x0000080" + std::to_string(expected_dims) + ")");
  }
  if (bytes[2] != 0x08)
    throw FormatError(where, "element type " + std::to_string(bytes[2]) + " is not supported, only unsigned byte (8)");
  if (bytes[3] != expected_dims)
    throw FormatError(where, "wrong number of dimensions: " + std::to_string(bytes[3]) + ", expected " +
                                 std::to_string(expected_dims) + " (" + kind + ")");
  IdxHeader h;
  h.data_offset = 4 + 4 * std::size_t(expected_dims);
  if (bytes.size() < h.data_offset)
    throw FormatError(where, "truncated " + kind + " header: " + std::to_string(bytes.size()) + " bytes, expected " +
                                 std::to_string(h.data_offset));
  const std::uint64_t available = bytes.size() - h.data_offset;
  std::string promised;
  for (int i = 0; i < expected_dims; ++i) {
    h.dims.push_back(be32(4 + 4 * std::size_t(i)));
    promised += (i ? " x " : "") + std::to_string(h.dims.back());
  }
  // The product of the dims, compared before each multiplication (count * dim > available <=>
  // count > available / dim for integers) so that a hostile header cannot make it wrap around.
  const bool empty = std::find(h.dims.begin(), h.dims.end(), 0u) != h.dims.end();
  bool too_big = false;
  std::uint64_t count = empty ? 0 : 1;
  for (std::size_t i = 0; i < h.dims.size() && !empty && !too_big; ++i) {
    too_big = count > available / h.dims[i];
    count *= too_big ? 1 : h.dims[i];
  }
  if (too_big || count < available)
    throw FormatError(
        where, (too_big ? "truncated data: the header promises " : "trailing data: the header promises ") + promised +
                   " bytes but " + std::to_string(available) + " follow");
  return h;
}

/// Parses idx3 unsigned-byte images held in memory into a `rows*cols x N` dataset (no labels);
/// pixel (r, c) of image j is `features(r * cols + c, j)`. Throws `FormatError` as
/// `parse_idx_header`, and for images with zero rows or columns.
[[nodiscard]] inline Uint8Dataset parse_idx_images(std::span<const std::uint8_t> bytes, const std::string& where) {
  const IdxHeader h = parse_idx_header(bytes, where, 3);
  // With N = 0 the data size does not bound rows x cols, so bound it here (2^31 - 1 pixels keeps
  // every later index computation in range).
  const std::uint64_t pixels = std::uint64_t(h.dims[1]) * h.dims[2];
  if (pixels == 0 || pixels > std::uint64_t(std::numeric_limits<std::int32_t>::max()))
    throw FormatError(where, std::string(pixels ? "too large" : "zero-sized") + " images (" +
                                 std::to_string(h.dims[1]) + " x " + std::to_string(h.dims[2]) + ")");
  Uint8Dataset d;
  d.features.resize(Index(pixels), Index(h.dims[0]));
  // IDX stores image after image, each row-major: that is already column-major `pixels x N`.
  if (d.features.size() > 0)
    std::memcpy(d.features.data(), bytes.data() + h.data_offset, std::size_t(d.features.size()));
  return d;
}

/// Parses idx1 unsigned-byte labels held in memory. Throws `FormatError` as `parse_idx_header`.
[[nodiscard]] inline std::vector<int> parse_idx_labels(std::span<const std::uint8_t> bytes, const std::string& where) {
  const IdxHeader h = parse_idx_header(bytes, where, 1);
  const auto data = bytes.subspan(h.data_offset);
  return {data.begin(), data.end()};
}

/// Reads idx3 images from a file, plain or gzip-compressed (see `read_file_content`).
/// Throws `IoError` if the file cannot be read, `FormatError` if it is malformed.
[[nodiscard]] inline Uint8Dataset read_idx_images(const std::filesystem::path& path) {
  return parse_idx_images(read_file_content(path), path.string());
}

/// Reads idx1 labels from a file, plain or gzip-compressed.
/// Throws `IoError` if the file cannot be read, `FormatError` if it is malformed.
[[nodiscard]] inline std::vector<int> read_idx_labels(const std::filesystem::path& path) {
  return parse_idx_labels(read_file_content(path), path.string());
}

/// Reads matching idx3 images and idx1 labels into one labelled dataset.
/// Throws `IoError` / `FormatError` as the two readers, and `FormatError` naming both files when
/// the number of labels differs from the number of images.
[[nodiscard]] inline Uint8Dataset read_idx(const std::filesystem::path& images, const std::filesystem::path& labels) {
  Uint8Dataset d = read_idx_images(images);
  d.labels = read_idx_labels(labels);
  if (Index(d.labels.size()) != d.size())
    throw FormatError(labels.string(), "holds " + std::to_string(d.labels.size()) + " labels but " + images.string() +
                                           " holds " + std::to_string(d.size()) + " images");
  return d;
}

}  // namespace latent::inline v0
