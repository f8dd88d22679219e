#include <catch2/catch.hpp>

#include "data/idx_files.hpp"
#include "latent/data/idx.hpp"
#include "support/skip.hpp"
#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;
using latent_test::Bytes;
using latent_test::idx_bytes;

namespace {

// Three 2x3 images whose pixel k of image j is 10 * j + k, and their labels.
const Bytes pixels = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25};
const Bytes images = idx_bytes({3, 2, 3}, pixels);
const Bytes labels = idx_bytes({3}, {7, 0, 9});

void check_small(const latent::Uint8Dataset& d) {
  REQUIRE(d.dim() == 6);
  REQUIRE(d.size() == 3);
  for (int j = 0; j < 3; ++j)
    for (int k = 0; k < 6; ++k) CHECK(int(d.features(k, j)) == 10 * j + k);
  CHECK(d.labels == std::vector<int>{7, 0, 9});
}

// The message of the FormatError thrown by parsing `bytes` as images or labels.
template <class Parse>
std::string format_error(Parse parse, const Bytes& bytes) {
  try {
    (void)parse(bytes, "mem.idx");
  } catch (const latent::FormatError& e) {
    return e.what();
  }
  FAIL("no FormatError");
  return {};
}
const auto parse_images = [](const Bytes& b, const std::string& w) { return latent::parse_idx_images(b, w); };
const auto parse_labels = [](const Bytes& b, const std::string& w) { return latent::parse_idx_labels(b, w); };

}  // namespace

TEST_CASE("IDX images and labels parse from memory, pixel order preserved", "[data]") {
  auto d = latent::parse_idx_images(images, "mem");
  d.labels = latent::parse_idx_labels(labels, "mem");
  check_small(d);
  const auto h = latent::parse_idx_header(images, "mem", 3);
  CHECK(h.dims == std::vector<std::uint32_t>{3, 2, 3});
  CHECK(h.data_offset == 16);
}

TEST_CASE("IDX round-trips through plain files", "[data]") {
  latent_test::TempDir dir;
  latent_test::write_plain(dir / "img", images);
  latent_test::write_plain(dir / "lab", labels);
  check_small(latent::read_idx(dir / "img", dir / "lab"));
}

#if defined(LATENT_WITH_ZLIB)
TEST_CASE("IDX round-trips through gzip files", "[data]") {
  latent_test::TempDir dir;
  latent_test::write_gz(dir / "img.gz", images);
  latent_test::write_gz(dir / "lab.gz", labels);
  check_small(latent::read_idx(dir / "img.gz", dir / "lab.gz"));
}

TEST_CASE("a truncated or corrupt gzip file is a FormatError naming the file", "[data]") {
  latent_test::TempDir dir;
  const auto gz = dir / "img.gz";
  latent_test::write_gz(gz, images);
  auto bytes = latent::read_file_bytes(gz);
  const auto cut = dir / "cut.gz";
  latent_test::write_plain(cut, Bytes(bytes.begin(), bytes.end() - 6));
  CHECK_THROWS_WITH(latent::read_idx_images(cut), Contains("cut.gz") && Contains("truncated gzip"));
  bytes[bytes.size() - 6] ^= 0xff;  // flip a CRC-32 byte of the trailer
  const auto bad = dir / "bad.gz";
  latent_test::write_plain(bad, bytes);
  CHECK_THROWS_WITH(latent::read_idx_images(bad), Contains("bad.gz") && Contains("corrupt gzip"));
  bytes[bytes.size() - 6] ^= 0xff;
  bytes.push_back(42);
  latent_test::write_plain(bad, bytes);
  CHECK_THROWS_WITH(latent::read_idx_images(bad), Contains("trailing bytes"));
  // Found by the fuzzer: the bare magic number once read the trailer from before the buffer.
  CHECK_THROWS_WITH(latent::gunzip(Bytes{0x1f, 0x8b}, "two.gz"), Contains("two.gz: truncated gzip"));
}
#else
TEST_CASE("IDX round-trips through gzip files", "[data]") {
  LATENT_SKIP("built without zlib (apt-get install zlib1g-dev and reconfigure)");
}

TEST_CASE("without zlib a gzip file is a FormatError saying so", "[data]") {
  const Bytes gz = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  CHECK_THROWS_WITH(latent::gunzip(gz, "x.gz"), Contains("x.gz") && Contains("without zlib"));
}
#endif

TEST_CASE("malformed IDX data is a FormatError naming the source and the problem", "[data]") {
  CHECK_THAT(format_error(parse_images, {1, 2}), Contains("mem.idx") && Contains("truncated idx3 header"));
  CHECK_THAT(format_error(parse_images, {0x12, 0x34, 0x56, 0x78}), Contains("bad magic number 0x12345678"));
  CHECK_THAT(format_error(parse_images, {0, 0, 0x0d, 3}), Contains("element type 13"));
  CHECK_THAT(format_error(parse_images, labels), Contains("wrong number of dimensions: 1, expected 3"));
  CHECK_THAT(format_error(parse_labels, images), Contains("wrong number of dimensions: 3, expected 1"));
  CHECK_THAT(format_error(parse_images, {0, 0, 8, 3, 0, 0, 0, 1}), Contains("truncated idx3 header"));
  CHECK_THAT(format_error(parse_images, Bytes(images.begin(), images.end() - 1)),
             Contains("truncated data: the header promises 3 x 2 x 3 bytes but 17 follow"));
  auto longer = images;
  longer.push_back(0);
  CHECK_THAT(format_error(parse_images, longer), Contains("trailing data"));
  CHECK_THAT(format_error(parse_images, idx_bytes({2, 0, 5}, {})), Contains("zero-sized images"));
  // Found by the fuzzer: no images of 0xFBFCFDFC x 0xFBFAF9EE pixels overflowed rows * cols.
  CHECK_THAT(format_error(parse_images, idx_bytes({0, 0xFBFCFDFC, 0xFBFAF9EE}, {})), Contains("too large images"));
}

TEST_CASE("hostile 0xFFFFFFFF dimensions are rejected before any allocation", "[data]") {
  CHECK_THAT(format_error(parse_images, idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {1, 2, 3})),
             Contains("4294967295 x 4294967295 x 4294967295 bytes but 3 follow"));
  CHECK_THAT(format_error(parse_labels, idx_bytes({0xFFFFFFFF}, {})), Contains("truncated data"));
}

TEST_CASE("label and image counts must match", "[data]") {
  latent_test::TempDir dir;
  latent_test::write_plain(dir / "img", images);
  latent_test::write_plain(dir / "lab", idx_bytes({2}, {1, 2}));
  CHECK_THROWS_AS(latent::read_idx(dir / "img", dir / "lab"), latent::FormatError);
  CHECK_THROWS_WITH(latent::read_idx(dir / "img", dir / "lab"),
                    Contains("lab") && Contains("holds 2 labels but") && Contains("holds 3 images"));
}

TEST_CASE("a missing file is an IoError naming it", "[data]") {
  CHECK_THROWS_AS(latent::read_idx_images("/nonexistent/latent.idx"), latent::IoError);
  CHECK_THROWS_WITH(latent::read_idx_images("/nonexistent/latent.idx"), Contains("/nonexistent/latent.idx"));
}
