#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "latent/io/plot.hpp"

namespace {

// How many pixels of `img` have exactly colour `c`.
long count(const latent::Image& img, latent::Rgb c) {
  long n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) n += img.at(x, y, 0) == c.r && img.at(x, y, 1) == c.g && img.at(x, y, 2) == c.b;
  return n;
}

// The median x and median y (pixels) of the pixels of `img` with colour `c`: where a group of
// points sits, robust to the few pixels of its legend swatch.
std::pair<int, int> median_position(const latent::Image& img, latent::Rgb c) {
  std::vector<int> xs, ys;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (img.at(x, y, 0) == c.r && img.at(x, y, 1) == c.g && img.at(x, y, 2) == c.b) {
        xs.push_back(x);
        ys.push_back(y);
      }
  if (xs.empty()) return {-1, -1};
  std::nth_element(xs.begin(), xs.begin() + long(xs.size() / 2), xs.end());
  std::nth_element(ys.begin(), ys.begin() + long(ys.size() / 2), ys.end());
  return {xs[xs.size() / 2], ys[ys.size() / 2]};
}

}  // namespace

TEST_CASE("nice ticks are 1, 2 or 5 times a power of ten and cover the data", "[io]") {
  const auto t = latent::detail::nice_ticks(253.7, 311.2);
  CHECK(t.step == 10.0);
  CHECK(t.lo == 250.0);
  CHECK(t.hi == 320.0);
  CHECK(t.label(260.0) == "260");
  const auto small = latent::detail::nice_ticks(0.0013, 0.0021);
  CHECK(small.step == Approx(0.0001));  // 0.0008 / 6 = 1.3e-4 rounds to 1e-4
  CHECK(small.label(0.0014) == "0.0014");
  CHECK(latent::detail::nice_ticks(5.0, 5.0).lo < 5.0);  // a flat series still gets a range
}

TEST_CASE("loss curve: RGB image with both series' colours and the legend", "[io]") {
  const std::vector<double> train = {300, 270, 255, 248, 244, 241}, test = {305, 280, 266, 260, 258, NAN};
  const auto img = latent::loss_curve(train, test);
  CHECK(img.width == 720);
  CHECK(img.height == 480);
  CHECK(img.channels == 3);
  CHECK(count(img, latent::detail::palette[0]) > 500);  // train: blue lines
  CHECK(count(img, latent::detail::palette[1]) > 500);  // test: orange lines
  CHECK(count(img, latent::detail::palette[2]) == 0);   // no third series
}

TEST_CASE("scatter plot colours points by label", "[io]") {
  latent::Matrix<float> z(2, 300);
  std::vector<int> labels;
  for (int j = 0; j < 300; ++j) {
    const int l = j % 3;
    z(0, j) = float(l) * 3 + std::cos(float(j));
    z(1, j) = float(l) + std::sin(float(j));
    labels.push_back(l);
  }
  const char* names[] = {"zero", "one", "two"};
  const auto img = latent::scatter_plot(z, labels, {.title = "latent space"}, names);
  for (int l = 0; l < 3; ++l) CHECK(count(img, latent::detail::palette[l]) > 300);
  CHECK(count(img, latent::detail::palette[3]) == 0);
  // Label l sits around (3 l, l): left to right in x, and upwards (smaller pixel y) in y. Counting
  // colours alone passes a flipped axis.
  const auto p0 = median_position(img, latent::detail::palette[0]),
             p1 = median_position(img, latent::detail::palette[1]),
             p2 = median_position(img, latent::detail::palette[2]);
  INFO("medians (" << p0.first << ", " << p0.second << ") (" << p1.first << ", " << p1.second << ") (" << p2.first
                   << ", " << p2.second << ")");
  CHECK(p0.first + 100 < p1.first);
  CHECK(p1.first + 100 < p2.first);
  CHECK(p0.second > p1.second + 30);
  CHECK(p1.second > p2.second + 30);
  CHECK_THROWS_AS(latent::scatter_plot(z, std::vector<int>(5), {}), latent::ShapeError);
}

TEST_CASE("line plot: series with their own x, with and without markers", "[io]") {
  std::vector<double> x, bell;
  for (int i = 0; i <= 200; ++i) {
    x.push_back(-5 + 0.05 * i);
    bell.push_back(std::exp(-0.5 * x.back() * x.back()));
  }
  const std::vector<latent::Series> curve = {{.name = "bell", .y = bell, .x = x, .markers = false}};
  const std::vector<latent::Series> dotted = {{.name = "bell", .y = bell, .x = x}};
  const auto img = latent::line_plot(curve, {});
  CHECK(count(img, latent::detail::palette[0]) > 1000);
  // Markers widen the 3-pixel line to the 7-pixel dots.
  CHECK(count(latent::line_plot(dotted, {}), latent::detail::palette[0]) >
        count(img, latent::detail::palette[0]) + 500);
  const std::vector<latent::Series> bad = {{.name = "bad", .y = bell, .x = {1.0, 2.0}}};
  CHECK_THROWS_AS(latent::line_plot(bad, {}), latent::ShapeError);
}

TEST_CASE("loss curve: epochs run left to right and a falling loss falls on the image", "[io]") {
  // Train falls from 300 to 240 over 10 epochs; test stays at 270. The train line must start above
  // (smaller pixel y) the test line and end below it, left to right: a flipped axis or reversed
  // epochs pass a count of coloured pixels but not this.
  std::vector<double> train, test;
  for (int e = 0; e < 10; ++e) {
    train.push_back(300 - 6.0 * e);
    test.push_back(270);
  }
  const auto img = latent::loss_curve(train, test, {.title = "loss"});
  const latent::Rgb train_ink = latent::detail::palette[0];
  const auto is_train = [&](int x, int y) {
    return img.at(x, y, 0) == train_ink.r && img.at(x, y, 1) == train_ink.g && img.at(x, y, 2) == train_ink.b;
  };
  // The first train pixel scanning columns from the left, and from the right below the top third
  // (the legend's swatch, in the top-right corner, has the train colour too).
  const auto first_from = [&](bool left) {
    for (int i = 0; i < img.width; ++i) {
      const int x = left ? i : img.width - 1 - i;
      for (int y = left ? 0 : img.height / 3; y < img.height; ++y)
        if (is_train(x, y)) return std::pair{x, y};
    }
    return std::pair{-1, -1};
  };
  const auto train_start = first_from(true), train_end = first_from(false);
  INFO("train line from (" << train_start.first << ", " << train_start.second << ") to (" << train_end.first << ", "
                           << train_end.second << ")");
  REQUIRE(train_start.first >= 0);
  CHECK(train_start.first + 200 < train_end.first);   // epochs go left to right
  CHECK(train_start.second + 100 < train_end.second);  // 300 nats is higher up than 240
}
