#pragma once
/// @file
/// `Image`: 8-bit gray or RGB pixels in memory, the currency of the PNG writer, grids and plots.

#include <cstdint>
#include <string>
#include <vector>

#include "latent/core/error.hpp"

namespace latent::inline v0 {

/// An 8-bit image, rows top to bottom, pixels left to right, channels interleaved (RGBRGB...).
struct Image {
  int width = 0;                     ///< pixels per row
  int height = 0;                    ///< rows
  int channels = 1;                  ///< 1 (gray) or 3 (RGB)
  std::vector<std::uint8_t> pixels;  ///< height * width * channels bytes

  /// A `width x height` image with `channels` (1 or 3), every byte set to `fill`.
  /// Throws `ShapeError` for other channel counts or negative sizes.
  Image(int width, int height, int channels, std::uint8_t fill = 0) : width(width), height(height), channels(channels) {
    if ((channels != 1 && channels != 3) || width < 0 || height < 0)
      throw ShapeError("Image", std::to_string(width) + "x" + std::to_string(height) + " with " +
                                    std::to_string(channels) + " channels (need 1 or 3)");
    pixels.assign(std::size_t(width) * std::size_t(height) * std::size_t(channels), fill);
  }
  /// An empty gray image.
  Image() = default;

  /// The byte of channel `c` of the pixel in column `x`, row `y` (no bounds check).
  [[nodiscard]] std::uint8_t& at(int x, int y, int c = 0) noexcept {
    return pixels[(std::size_t(y) * std::size_t(width) + std::size_t(x)) * std::size_t(channels) + std::size_t(c)];
  }
  /// The byte of channel `c` of the pixel in column `x`, row `y` (no bounds check).
  [[nodiscard]] std::uint8_t at(int x, int y, int c = 0) const noexcept {
    return pixels[(std::size_t(y) * std::size_t(width) + std::size_t(x)) * std::size_t(channels) + std::size_t(c)];
  }

  /// Same size, channel count and pixel bytes.
  friend bool operator==(const Image&, const Image&) = default;
};

}  // namespace latent::inline v0
