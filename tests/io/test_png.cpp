#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "latent/io/image.hpp"
#include "support/skip.hpp"
#include "support/temp_dir.hpp"

#if defined(LATENT_WITH_PNG)
#include "latent/io/png.hpp"

#include <string>
#include <vector>

using Catch::Matchers::Contains;

namespace {

// An image whose every byte differs from its neighbours, so a swapped channel or row shows.
latent::Image pattern(int w, int h, int channels) {
  latent::Image img(w, h, channels);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = std::uint8_t(i * 37 + i / 7);
  return img;
}

}  // namespace

TEST_CASE("PNG written by latent decodes with libpng to the same gray and RGB pixels", "[io]") {
  latent_test::TempDir dir;
  for (int channels : {1, 3}) {
    const auto img = pattern(13, 7, channels);
    const auto path = dir / (std::to_string(channels) + "-channel.png");
    latent::write_png(img, path);
    const auto back = latent::read_png(path);
    CHECK(back.width == 13);
    CHECK(back.height == 7);
    CHECK(back.channels == channels);
    CHECK(back == img);
  }
  // The atomic write leaves only the two PNGs behind (no path.tmp.<pid>).
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 2);
}

TEST_CASE("PNG pixels land where the PNG format puts them, not only where read_png looks", "[io]") {
  // A round trip through write_png and read_png passes for a writer and reader that agree on a
  // wrong layout (rows bottom-up, width and height swapped). Here the header is read from the
  // bytes (IHDR: width and height big-endian at offsets 16 and 20) and the pixels by libpng
  // with its own top-down row order, each compared with Image::at(x, y).
  latent_test::TempDir dir;
  for (int channels : {1, 3}) {
    const auto img = pattern(13, 7, channels);
    const auto path = dir / "layout.png";
    latent::write_png(img, path);
    const auto bytes = latent::read_file_bytes(path);
    REQUIRE(bytes.size() > 24);
    const auto be32 = [&](std::size_t i) {
      return std::uint32_t(bytes[i]) << 24 | std::uint32_t(bytes[i + 1]) << 16 | std::uint32_t(bytes[i + 2]) << 8 |
             bytes[i + 3];
    };
    CHECK(std::string(bytes.begin() + 12, bytes.begin() + 16) == "IHDR");
    CHECK(be32(16) == 13);
    CHECK(be32(20) == 7);
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_file(&png, path.c_str()));
    png.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    std::vector<std::uint8_t> rows(PNG_IMAGE_SIZE(png));
    REQUIRE(png_image_finish_read(&png, nullptr, rows.data(), 0, nullptr));
    bool all_match = true;
    for (int y = 0; y < 7; ++y)
      for (int x = 0; x < 13; ++x)
        for (int c = 0; c < channels; ++c)
          all_match = all_match && rows[std::size_t((y * 13 + x) * channels + c)] == img.at(x, y, c);
    CHECK(all_match);
  }
}

TEST_CASE("overwriting a PNG replaces it", "[io]") {
  latent_test::TempDir dir;
  latent::write_png(pattern(4, 4, 1), dir / "x.png");
  latent::write_png(latent::Image(2, 3, 3, 200), dir / "x.png");
  CHECK(latent::read_png(dir / "x.png") == latent::Image(2, 3, 3, 200));
}

TEST_CASE("reading something that is not a PNG is a FormatError naming the file", "[io]") {
  latent_test::TempDir dir;
  std::ofstream(dir / "bad.png") << "definitely not a PNG";
  CHECK_THROWS_AS(latent::read_png(dir / "bad.png"), latent::FormatError);
  CHECK_THROWS_WITH(latent::read_png(dir / "bad.png"), Contains("bad.png") && Contains("not a valid PNG"));
  CHECK_THROWS_AS(latent::read_png(dir / "missing.png"), latent::IoError);
}

TEST_CASE("writing into a missing directory is an IoError naming the file", "[io]") {
  CHECK_THROWS_AS(latent::write_png(pattern(2, 2, 1), "/nonexistent/dir/x.png"), latent::IoError);
  CHECK_THROWS_WITH(latent::write_png(pattern(2, 2, 1), "/nonexistent/dir/x.png"),
                    Contains("/nonexistent/dir/x.png") && Contains("open failed"));
}
#else
TEST_CASE("PNG written by latent decodes with libpng to the same gray and RGB pixels", "[io]") {
  LATENT_SKIP("built without libpng (apt-get install libpng-dev and reconfigure)");
}
#endif

TEST_CASE("Image rejects channel counts other than 1 and 3", "[io]") {
  CHECK_THROWS_AS(latent::Image(2, 2, 4), latent::ShapeError);
  const latent::Image img(3, 2, 3, 9);
  CHECK(img.pixels.size() == 18);
  CHECK(img.at(2, 1, 2) == 9);
}
