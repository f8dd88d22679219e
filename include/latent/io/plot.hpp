#pragma once
/// @file
/// Plots worth looking at, rendered to an `Image` (write it with `write_png`): loss curves and
/// 2-D scatter plots coloured by label.
///
/// Why our own renderer: a loss curve and a scatter need lines, dots and a few words of text.
/// PLplot or cairo would add a heavy dependency for that, and spawning gnuplot makes a training
/// run depend on what is installed at run time. A 100-line rasterizer (`Canvas`) with a 5x7 bitmap
/// font is enough, has no dependency and renders identically everywhere.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"
#include "latent/io/canvas.hpp"
#include "latent/io/image.hpp"

namespace latent::inline v0 {

/// Size and words of a plot.
struct PlotOptions {
  int width = 720;        ///< pixels
  int height = 480;       ///< pixels
  std::string title{};    ///< drawn large above the plot; none if empty
  std::string x_label{};  ///< under the x axis
  std::string y_label{};  ///< above the y axis
};

/// One line of a line plot: point i is at (x[i], y[i]), or at (i + 1, y[i]) when x is empty
/// (epochs count from 1); non-finite values leave a gap.
struct Series {
  std::string name;         ///< shown in the legend
  std::vector<double> y;    ///< one value per point
  std::vector<double> x{};  ///< the x of each point (as many as y), or empty for 1, 2, ...
  bool markers = true;      ///< a dot on every point; off for densely sampled curves
};

namespace detail {

// Tableau 10 (Stone 2016): ten categorical colours chosen to stay distinct from one another.
inline constexpr Rgb palette[10] = {{78, 121, 167}, {242, 142, 43},  {225, 87, 89},   {118, 183, 178}, {89, 161, 79},
                                    {237, 201, 72}, {176, 122, 161}, {255, 157, 167}, {156, 117, 95},  {186, 176, 172}};
inline constexpr Rgb ink{40, 40, 40}, grid_ink{225, 225, 225}, white{255, 255, 255};
inline constexpr int small = 2, large = 3;  // font scales for labels and title

// Tick positions for [lo, hi]: multiples of a "nice" step (1, 2 or 5 times a power of ten,
// Heckbert 1990) giving about `target` intervals; the range widens to whole steps.
struct Ticks {
  double lo, hi, step;
  [[nodiscard]] std::vector<double> values() const {
    std::vector<double> v;
    for (double t = lo; t <= hi + step * 1e-9; t += step) v.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    return v;
  }
  [[nodiscard]] std::string label(double v) const {
    char buf[32];
    const int decimals = std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
    if (std::max(std::abs(lo), std::abs(hi)) >= 1e6 || decimals > 4)
      std::snprintf(buf, sizeof buf, "%.3g", v);
    else
      std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
  }
};

inline Ticks nice_ticks(double lo, double hi, int target = 6) {
  if (!(lo < hi)) {  // one value, or none: open a unit window around it
    const double pad = std::isfinite(lo) && lo != 0 ? std::abs(lo) * 0.1 : 1.0;
    if (!std::isfinite(lo)) lo = hi = 0;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
}

// The finite minimum and maximum of a vector `v` (lo > hi when there is none).
template <class V>
std::pair<double, double> finite_range(const V& v) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (decltype(v.size()) i = 0; i < v.size(); ++i)
    if (const double x = double(v[i]); std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  return {lo, hi};
}

// A frame with gridlines, tick labels, title and axis labels; maps data to pixels.
class Axes {
 public:
  Axes(Canvas& c, const PlotOptions& o, Ticks x, Ticks y, int right_margin) : x_(x), y_(y) {
    int widest = 0;
    for (double v : y_.values()) widest = std::max(widest, Canvas::text_width(y_.label(v), small));
    const int line = Canvas::text_height(small) + 10;
    left_ = 16 + widest + 10;
    top_ = 16 + (o.title.empty() ? 0 : Canvas::text_height(large) + 14) + (o.y_label.empty() ? 0 : line + 8);
    right_ = o.width - right_margin;
    bottom_ = o.height - 16 - line - (o.x_label.empty() ? 0 : line);
    if (right_ - left_ < 20 || bottom_ - top_ < 20)
      throw ShapeError("plot", std::to_string(o.width) + "x" + std::to_string(o.height) + " pixels is too small");

    c.text((o.width - Canvas::text_width(o.title, large)) / 2, 16, o.title, ink, large);
    c.text(16, top_ - line - 8, o.y_label, ink, small);  // clear of the top tick label
    c.text((left_ + right_ - Canvas::text_width(o.x_label, small)) / 2, bottom_ + line + 6, o.x_label, ink, small);
    for (double v : x_.values()) {
      const int px = x_px(v);
      c.line(px, top_, px, bottom_, grid_ink);
      c.line(px, bottom_, px, bottom_ + 5, ink);
      const auto s = x_.label(v);
      c.text(px - Canvas::text_width(s, small) / 2, bottom_ + 9, s, ink, small);
    }
    for (double v : y_.values()) {
      const int py = y_px(v);
      c.line(left_, py, right_, py, grid_ink);
      c.line(left_ - 5, py, left_, py, ink);
      const auto s = y_.label(v);
      c.text(left_ - 9 - Canvas::text_width(s, small), py - Canvas::text_height(small) / 2, s, ink, small);
    }
    c.line(left_, top_, left_, bottom_, ink);
    c.line(left_, bottom_, right_, bottom_, ink);
  }

  [[nodiscard]] int x_px(double v) const {
    return left_ + int(std::lround((v - x_.lo) / (x_.hi - x_.lo) * (right_ - left_)));
  }
  [[nodiscard]] int y_px(double v) const {
    return bottom_ - int(std::lround((v - y_.lo) / (y_.hi - y_.lo) * (bottom_ - top_)));
  }
  [[nodiscard]] int top() const noexcept { return top_; }
  [[nodiscard]] int right() const noexcept { return right_; }

 private:
  Ticks x_, y_;
  int left_ = 0, top_ = 0, right_ = 0, bottom_ = 0;
};

struct LegendEntry {
  std::string name;
  Rgb colour;
};

// The legend's width in pixels: a 24 px swatch, a gap, the longest name, padding.
inline int legend_width(std::span<const LegendEntry> entries) {
  int w = 0;
  for (const auto& e : entries) w = std::max(w, Canvas::text_width(e.name, small));
  return w + 24 + 8 + 2 * 10;
}

// A boxed legend with its top-right corner at (right, top); `lines` draws line swatches,
// otherwise dots.
inline void legend(Canvas& c, int right, int top, std::span<const LegendEntry> entries, bool lines) {
  const int row = Canvas::text_height(small) + 8, w = legend_width(entries), x = right - w;
  const int h = int(entries.size()) * row + 12;
  c.fill_rect(x, top, w, h, white);
  c.frame(x, top, w, h, ink);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int y = top + 10 + int(i) * row, mid = y + Canvas::text_height(small) / 2;
    if (lines)
      c.line(x + 10, mid, x + 34, mid, entries[i].colour, 3);
    else
      c.dot(x + 22, mid, 4, entries[i].colour);
    c.text(x + 42, y, entries[i].name, ink, small);
  }
}

}  // namespace detail

/// Lines through (x[i], y[i]) (or (i + 1, y[i])) for each series, coloured from a ten-colour
/// palette in order, with axes, tick labels, gridlines and a legend in the top-right corner.
/// Throws `ShapeError` if a series has an x of another size than its y, or the image is too
/// small to hold the plot.
[[nodiscard]] inline Image line_plot(std::span<const Series> series, const PlotOptions& opts) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, x_lo = lo, x_hi = -lo;
  std::size_t n = 1;  // points of the longest series without x
  bool epochs = series.empty(), epochs_only = true;
  for (const auto& s : series) {
    if (!s.x.empty() && s.x.size() != s.y.size())
      throw ShapeError("line_plot", "series '" + s.name + "' has " + std::to_string(s.x.size()) + " x for " +
                                        std::to_string(s.y.size()) + " y");
    const auto [a, b] = detail::finite_range(s.y);
    lo = std::min(lo, a), hi = std::max(hi, b);
    if (s.x.empty()) {
      n = std::max(n, s.y.size()), epochs = true;
    } else {
      const auto [xa, xb] = detail::finite_range(s.x);
      x_lo = std::min(x_lo, xa), x_hi = std::max(x_hi, xb), epochs_only = false;
    }
  }
  if (epochs) x_lo = std::min(x_lo, 1.0), x_hi = std::max(x_hi, double(n));
  Canvas c(opts.width, opts.height);
  // Epochs get a tick per epoch up to 8; real-valued x gets the usual nice ticks.
  const detail::Ticks x_ticks =
      epochs_only ? detail::nice_ticks(1, double(n), std::clamp(int(n) - 1, 1, 8)) : detail::nice_ticks(x_lo, x_hi);
  const detail::Axes axes(c, opts, x_ticks, detail::nice_ticks(lo, hi), 40);  // room for half the last x label
  std::vector<detail::LegendEntry> entries;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Rgb colour = detail::palette[k % 10];
    entries.push_back({series[k].name, colour});
    const auto& y = series[k].y;
    const auto x = [&s = series[k]](std::size_t i) { return s.x.empty() ? double(i + 1) : s.x[i]; };
    const auto finite = [&](std::size_t i) { return std::isfinite(x(i)) && std::isfinite(y[i]); };
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (!finite(i)) continue;
      const int px = axes.x_px(x(i)), py = axes.y_px(y[i]);
      if (i + 1 < y.size() && finite(i + 1)) c.line(px, py, axes.x_px(x(i + 1)), axes.y_px(y[i + 1]), colour, 3);
      if (series[k].markers) c.dot(px, py, 3, colour);  // marks the epoch, and shows isolated points
    }
  }
  if (!entries.empty()) detail::legend(c, axes.right() - 10, axes.top() + 10, entries, true);
  return std::move(c).image();
}

/// A loss curve: train (and, if not empty, test) loss per epoch, e.g. in nats per example.
/// Throws `ShapeError` if the image is too small to hold the plot.
[[nodiscard]] inline Image loss_curve(std::span<const double> train, std::span<const double> test,
                                      const PlotOptions& opts = {
                                          .title = "Loss", .x_label = "epoch", .y_label = "nats per example"}) {
  std::vector<Series> s{{"train", {train.begin(), train.end()}}};
  if (!test.empty()) s.push_back({"test", {test.begin(), test.end()}});
  return line_plot(s, opts);
}

/// A scatter plot of the columns of `points` (2 x N, e.g. a 2-D latent space), each point
/// coloured by `labels[j]` (palette colour label mod 10), with a legend naming each label present
/// (`names[label]` when given, else the number). Throws `ShapeError` if `points` is not 2 x N,
/// `labels` is not empty and not of size N, or the image is too small.
template <class Derived>
[[nodiscard]] Image scatter_plot(const Eigen::MatrixBase<Derived>& points, std::span<const int> labels,
                                 const PlotOptions& opts, std::span<const char* const> names = {}) {
  const auto n = points.cols();
  if (points.rows() != 2 || (!labels.empty() && Index(labels.size()) != n))
    throw ShapeError("scatter_plot", "points are " + detail::shape_str(points.rows(), n) + " (need 2xN) with " +
                                         std::to_string(labels.size()) + " labels");
  const Eigen::Matrix<double, 2, Eigen::Dynamic> p = points.template cast<double>();
  std::vector<int> present(labels.begin(), labels.end());
  std::sort(present.begin(), present.end());
  present.erase(std::unique(present.begin(), present.end()), present.end());
  std::vector<detail::LegendEntry> entries;
  const auto colour = [](int label) { return detail::palette[((label % 10) + 10) % 10]; };
  for (int l : present)
    entries.push_back({l >= 0 && std::size_t(l) < names.size() ? names[std::size_t(l)] : std::to_string(l), colour(l)});

  Canvas c(opts.width, opts.height);
  const auto range = [&](int r) {
    const auto [lo, hi] = detail::finite_range(p.row(r));
    return detail::nice_ticks(lo, hi);
  };
  const int legend_w = entries.empty() ? 0 : detail::legend_width(entries) + 16;
  const detail::Axes axes(c, opts, range(0), range(1), 40 + legend_w);
  for (Index j = 0; j < n; ++j)
    if (std::isfinite(p(0, j)) && std::isfinite(p(1, j)))
      c.dot(axes.x_px(p(0, j)), axes.y_px(p(1, j)), 2,
            labels.empty() ? detail::palette[0] : colour(labels[std::size_t(j)]));
  if (!entries.empty()) detail::legend(c, opts.width - 16, axes.top(), entries, false);
  return std::move(c).image();
}

}  // namespace latent::inline v0
