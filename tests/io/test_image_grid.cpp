#include <catch2/catch.hpp>

#include "latent/io/image_grid.hpp"

namespace {

// n 2x3 images (6 x n) whose every pixel of image j has value j / 10.
latent::Matrix<float> flat_images(int n) {
  latent::Matrix<float> m(6, n);
  for (int j = 0; j < n; ++j) m.col(j).setConstant(float(j) / 10.0f);
  return m;
}

std::uint8_t byte(float v) { return std::uint8_t(std::lround(v * 255.0f)); }

}  // namespace

TEST_CASE("image_grid tiles columns left to right, top to bottom, with borders", "[io]") {
  const auto m = flat_images(5);
  const auto img = latent::image_grid(m, 2, 3, {.columns = 3, .border = 1, .border_value = 77});
  CHECK(img.channels == 1);
  CHECK(img.width == 3 * (3 + 1) + 1);
  CHECK(img.height == 2 * (2 + 1) + 1);
  CHECK(img.at(0, 0) == 77);
  CHECK(img.at(1, 1) == byte(0.0f));  // image 0, top-left
  CHECK(img.at(3, 2) == byte(0.0f));  // image 0, bottom-right
  CHECK(img.at(4, 1) == 77);          // border between images 0 and 1
  CHECK(img.at(5, 1) == byte(0.1f));  // image 1
  CHECK(img.at(1, 4) == byte(0.3f));  // image 3 starts row 2
  CHECK(img.at(9, 4) == 77);          // cell 5 is empty
}

TEST_CASE("image_grid keeps pixel (r, c) at row r * width + c and clamps to [0, 1]", "[io]") {
  latent::Matrix<double> one(6, 1);
  one << 0, 1, 2, 3, 4, 5;
  one /= 5;
  one(0, 0) = -3;
  one(5, 0) = 7;
  const auto img = latent::image_grid(one, 2, 3, {.border = 0});
  CHECK(img.at(0, 0) == 0);
  CHECK(img.at(1, 0) == byte(0.2f));
  CHECK(img.at(0, 1) == byte(0.6f));
  CHECK(img.at(2, 1) == 255);
  CHECK_THROWS_AS(latent::image_grid(one, 4, 4), latent::ShapeError);
}

TEST_CASE("image_rows puts originals above reconstructions, wrapping into bands", "[io]") {
  const auto a = flat_images(4);
  const latent::Matrix<float> b = latent::Matrix<float>::Ones(6, 4);
  const auto img = latent::image_rows<float>({a, b}, 2, 3, {.columns = 2, .border = 1, .border_value = 9});
  const int band = 2 * (2 + 1) + 1;
  CHECK(img.width == 2 * (3 + 1) + 1);
  CHECK(img.height == 2 * band + 1);
  CHECK(img.at(5, 1) == byte(0.1f));         // band 0, line 0 (originals), example 1
  CHECK(img.at(5, 4) == 255);                // band 0, line 1 (reconstructions), example 1
  CHECK(img.at(1, band + 2) == byte(0.2f));  // band 1 starts with example 2
  CHECK(img.at(1, band) == 9);               // double border between bands
  const latent::Matrix<float> short_row = latent::Matrix<float>::Ones(6, 3);
  CHECK_THROWS_AS(latent::image_rows<float>({a, short_row}, 2, 3), latent::ShapeError);
}

TEST_CASE("GridOptions::scale draws every pixel as a k x k block, borders unscaled", "[io]") {
  latent::Matrix<float> two(6, 2);  // two 2x3 images with distinct pixels
  for (int i = 0; i < 12; ++i) two(i) = float(i) / 11.0f;
  const auto img = latent::image_grid(two, 2, 3, {.columns = 2, .border = 1, .border_value = 77, .scale = 4});
  CHECK(img.width == 2 * (3 * 4 + 1) + 1);
  CHECK(img.height == 2 * 4 + 2);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 12; ++c) {
      INFO("r " << r << " c " << c);
      CHECK(img.at(1 + c, 1 + r) == byte(two((r / 4) * 3 + c / 4, 0)));
      CHECK(img.at(14 + c, 1 + r) == byte(two((r / 4) * 3 + c / 4, 1)));
    }
  CHECK(img.at(13, 1) == 77);
  const auto rows = latent::image_rows<float>({two, two}, 2, 3, {.columns = 2, .border = 1, .scale = 2});
  CHECK(rows.width == 2 * (3 * 2 + 1) + 1);
  CHECK(rows.height == 2 * (2 * 2 + 1) + 1);
}

TEST_CASE("grid options that cannot be drawn are refused by name", "[io]") {
  const auto m = flat_images(4);
  CHECK_THROWS_WITH(latent::image_grid(m, 2, 3, {.scale = 0}), Catch::Matchers::Contains("GridOptions::scale"));
  CHECK_THROWS_WITH(latent::image_grid(m, 2, 3, {.columns = 0}), Catch::Matchers::Contains("GridOptions::columns"));
  CHECK_THROWS_WITH(latent::image_grid(m, 2, 3, {.border = -3}), Catch::Matchers::Contains("GridOptions::border"));
  CHECK_THROWS_AS(latent::image_rows<float>({m}, 2, 3, {.scale = -1}), latent::Error);
}
