#pragma once
/// @file
/// A tiny RGB raster renderer, just enough for plots: filled rectangles, thick lines, dots and
/// 5x7 bitmap text. Everything is clipped to the image, so callers never index out of bounds.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "latent/io/font5x7.hpp"
#include "latent/io/image.hpp"

namespace latent::inline v0 {

/// An 8-bit RGB colour.
struct Rgb {
  /// Red, green and blue intensity, 0-255.
  ///@{
  std::uint8_t r, g, b;
  ///@}
};

/// Draws on an RGB `Image` it owns.
class Canvas {
 public:
  /// A `width x height` canvas filled with `background`.
  Canvas(int width, int height, Rgb background = {255, 255, 255}) : image_(width, height, 3) {
    fill_rect(0, 0, width, height, background);
  }

  /// Sets one pixel; ignored outside the image.
  void set(int x, int y, Rgb c) noexcept {
    if (x < 0 || y < 0 || x >= image_.width || y >= image_.height) return;
    image_.at(x, y, 0) = c.r;
    image_.at(x, y, 1) = c.g;
    image_.at(x, y, 2) = c.b;
  }

  /// Fills the `w x h` rectangle whose top-left corner is (x, y).
  void fill_rect(int x, int y, int w, int h, Rgb c) noexcept {
    for (int j = y; j < y + h; ++j)
      for (int i = x; i < x + w; ++i) set(i, j, c);
  }

  /// The 1-pixel outline of the `w x h` rectangle whose top-left corner is (x, y).
  void frame(int x, int y, int w, int h, Rgb c) noexcept {
    fill_rect(x, y, w, 1, c);
    fill_rect(x, y + h - 1, w, 1, c);
    fill_rect(x, y, 1, h, c);
    fill_rect(x + w - 1, y, 1, h, c);
  }

  /// A line from (x0, y0) to (x1, y1), `thickness` pixels wide (Bresenham's algorithm with a
  /// square pen).
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1) noexcept {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    const int lo = -(thickness - 1) / 2;
    for (int err = dx + dy;;) {
      fill_rect(x0 + lo, y0 + lo, thickness, thickness, c);
      if (x0 == x1 && y0 == y1) return;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }

  /// A filled disc of radius `r` centred on (x, y).
  void dot(int x, int y, int r, Rgb c) noexcept {
    for (int j = -r; j <= r; ++j)
      for (int i = -r; i <= r; ++i)
        if (i * i + j * j <= r * r + r) set(x + i, y + j, c);
  }

  /// `s` in the 5x7 font, each font pixel a `scale x scale` square, top-left corner at (x, y).
  void text(int x, int y, std::string_view s, Rgb c, int scale = 1) noexcept {
    for (char ch : s) {
      const auto& g = detail::glyph(ch);
      for (int col = 0; col < 5; ++col)
        for (int row = 0; row < 7; ++row)
          if (g.cols[std::size_t(col)] >> row & 1) fill_rect(x + col * scale, y + row * scale, scale, scale, c);
      x += advance(scale);
    }
  }

  /// Width in pixels of `s` drawn by `text` (one column of spacing per glyph, none after the last).
  [[nodiscard]] static int text_width(std::string_view s, int scale = 1) noexcept {
    return s.empty() ? 0 : int(s.size()) * advance(scale) - scale;
  }
  /// Height in pixels of a line of text.
  [[nodiscard]] static int text_height(int scale = 1) noexcept { return 7 * scale; }

  /// The picture drawn so far.
  [[nodiscard]] const Image& image() const& noexcept { return image_; }
  /// The picture drawn so far, moved out.
  [[nodiscard]] Image image() && noexcept { return std::move(image_); }

 private:
  static int advance(int scale) noexcept { return 6 * scale; }
  Image image_;
};

}  // namespace latent::inline v0
