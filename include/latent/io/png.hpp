#pragma once
/// @file
/// PNG files through libpng (the reference implementation: it both encodes and decodes, so tests
/// can round-trip, and it is already on most systems). Opt-in: define `LATENT_WITH_PNG` and link
/// `PNG::PNG` (Debian: apt-get install libpng-dev). Uses libpng's simplified API (1.6), which
/// reports errors through `png_image::message` instead of longjmp, so C++ destructors are safe.

#if !defined(LATENT_WITH_PNG)
#error "latent/io/png.hpp needs libpng: define LATENT_WITH_PNG and link PNG::PNG (apt-get install libpng-dev)"
#endif

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <png.h>

#include "latent/core/error.hpp"
#include "latent/data/read_bytes.hpp"
#include "latent/io/atomic_write.hpp"
#include "latent/io/image.hpp"

namespace latent::inline v0 {

/// Writes `image` (8-bit gray or RGB) as a PNG file at `path`, atomically (`write_file_atomic`).
/// Throws `FormatError` if libpng cannot encode it and `IoError` if the file cannot be written.
inline void write_png(const Image& image, const std::filesystem::path& path) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = png_uint_32(image.width);
  png.height = png_uint_32(image.height);
  png.format = image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  // First call with no buffer asks for the encoded size, the second encodes.
  png_alloc_size_t size = 0;
  std::vector<std::uint8_t> encoded;
  if (png_image_write_to_memory(&png, nullptr, &size, 0, image.pixels.data(), 0, nullptr)) {
    encoded.resize(size);
    if (png_image_write_to_memory(&png, encoded.data(), &size, 0, image.pixels.data(), 0, nullptr)) {
      encoded.resize(size);
      write_file_atomic(path, encoded);
      return;
    }
  }
  const std::string message = png.message;
  png_image_free(&png);
  throw FormatError(path.string(), "libpng cannot encode the image: " + message);
}

/// Reads a PNG file as 8-bit gray (1 channel) if it has no colour, else RGB (3 channels); any
/// alpha channel is composited away. Throws `IoError` if the file cannot be read and
/// `FormatError` (with libpng's reason) if it is not a valid PNG.
[[nodiscard]] inline Image read_png(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path);
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  const auto fail = [&](const std::string& what) {
    const std::string message = png.message;
    png_image_free(&png);
    throw FormatError(path.string(), what + message);
  };
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) fail("not a valid PNG: ");
  const int channels = (png.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
  // Deflate expands at most 1032:1, so a header promising more pixels than that is lying;
  // checking first keeps a hostile header from allocating gigabytes.
  const auto claimed = std::uint64_t(png.width) * png.height * std::uint64_t(channels);
  if (claimed / 1032 > bytes.size())
    fail(std::to_string(png.width) + "x" + std::to_string(png.height) + " pixels cannot fit in " +
         std::to_string(bytes.size()) + " bytes");
  png.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  Image image(int(png.width), int(png.height), channels);
  if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) fail("corrupt PNG: ");
  return image;
}

}  // namespace latent::inline v0
