#pragma once
/// @file
/// Tiling images stored as matrix columns (one `height*width` column per image, pixel (r, c) at
/// row r*width + c as in `read_idx_images`, values in [0, 1]) into one gray `Image`.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>

#include <Eigen/Core>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"
#include "latent/io/image.hpp"

namespace latent::inline v0 {

/// Layout of an image grid.
struct GridOptions {
  int columns = 8;                  ///< images per grid row
  int border = 2;                   ///< pixels between images and around the grid
  std::uint8_t border_value = 128;  ///< gray level of the border (mid-gray sets off both
                                    ///< black and white backgrounds)
  int scale = 1;                    ///< each image pixel drawn as scale x scale output pixels
                                    ///< (8x8 digits are unreadable at 1; try 4)
};

namespace detail {

// Maps [0, 1] to 0..255, clamping outside values; NaN shows as black.
template <class S>
std::uint8_t to_byte(S v) noexcept {
  return !(v > S(0)) ? 0 : v >= S(1) ? 255 : std::uint8_t(std::lround(double(v) * 255.0));
}

// Draws column `j` of `images` as a height x width tile, each pixel a k x k block, whose
// top-left pixel is (x0, y0).
template <class Derived>
void draw_tile(Image& out, const Eigen::MatrixBase<Derived>& images, Index j, int height, int width, int x0, int y0,
               int k) {
  for (int r = 0; r < height * k; ++r)
    for (int c = 0; c < width * k; ++c) out.at(x0 + c, y0 + r) = to_byte(images(Index(r / k) * width + c / k, j));
}

[[noreturn]] inline void throw_tile_shape(const char* where, Index rows, Index cols, int height, int width) {
  throw ShapeError(where, "images are " + shape_str(rows, cols) + " but height x width is " + std::to_string(height) +
                              "x" + std::to_string(width));
}

inline void check_tile_shape(const char* where, Index rows, Index cols, int height, int width) {
  if (height < 1 || width < 1 || rows != Index(height) * width) throw_tile_shape(where, rows, cols, height, width);
}

// Options that would draw nothing sensible (or a negative-size image) are refused by name.
inline void check_grid_options(const char* where, const GridOptions& o) {
  if (o.columns < 1) throw Error(where, "GridOptions::columns must be at least 1, got " + std::to_string(o.columns));
  if (o.border < 0) throw Error(where, "GridOptions::border must be >= 0, got " + std::to_string(o.border));
  if (o.scale < 1 || o.scale > 64)
    throw Error(where, "GridOptions::scale must be in 1..64, got " + std::to_string(o.scale));
}

}  // namespace detail

/// The images (columns of `images`) tiled left to right, top to bottom, `opts.columns` per row,
/// e.g. 64 samples as 8 x 8, each image `opts.scale` times its size. Throws `ShapeError` if
/// `images.rows() != height * width`, `Error` for columns < 1, border < 0 or scale outside 1..64.
template <class Derived>
[[nodiscard]] Image image_grid(const Eigen::MatrixBase<Derived>& images, int height, int width,
                               const GridOptions& opts = {}) {
  detail::check_tile_shape("image_grid", images.rows(), images.cols(), height, width);
  detail::check_grid_options("image_grid", opts);
  const int n = int(images.cols()), k = opts.scale;
  const int cols = std::max(1, std::min(opts.columns, n));
  const int rows = (n + cols - 1) / cols;
  const int b = opts.border, w = width * k, h = height * k;
  Image out(cols * (w + b) + b, rows * (h + b) + b, 1, opts.border_value);
  for (int j = 0; j < n; ++j)
    detail::draw_tile(out, images, j, height, width, b + (j % cols) * (w + b), b + (j / cols) * (h + b), k);
  return out;
}

/// Side-by-side comparison: band k of the picture shows column j of every matrix in `rows`, one
/// matrix per line (e.g. {originals, reconstructions} or {originals, noisy, reconstructions}),
/// `opts.columns` examples per band, bands separated by a double border.
/// Throws `ShapeError` if the matrices differ in column count or are not `height*width` tall,
/// `Error` for bad options as `image_grid`.
template <Scalar S>
[[nodiscard]] Image image_rows(std::initializer_list<Eigen::Ref<const Matrix<S>>> rows, int height, int width,
                               const GridOptions& opts = {}) {
  detail::check_grid_options("image_rows", opts);
  const int lines = int(rows.size());
  const int n = lines ? int(rows.begin()->cols()) : 0;
  for (const auto& m : rows) {
    detail::check_tile_shape("image_rows", m.rows(), m.cols(), height, width);
    if (m.cols() != n)
      throw ShapeError("image_rows", "rows hold " + std::to_string(n) + " and " + std::to_string(m.cols()) + " images");
  }
  const int cols = std::max(1, std::min(opts.columns, n));
  const int bands = (n + cols - 1) / cols;
  const int b = opts.border, k = opts.scale, w = width * k, h = height * k;
  const int band_height = lines * (h + b) + b;  // plus one more border between bands
  Image out(cols * (w + b) + b, std::max(0, bands * (band_height + b) - b), 1, opts.border_value);
  int line = 0;
  for (const auto& m : rows) {
    for (int j = 0; j < n; ++j)
      detail::draw_tile(out, m, j, height, width, b + (j % cols) * (w + b),
                        (j / cols) * (band_height + b) + b + line * (h + b), k);
    ++line;
  }
  return out;
}

}  // namespace latent::inline v0
