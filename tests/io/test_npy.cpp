// .npy: the bytes NumPy writes, C and Fortran order, datasets from arrays, and a FormatError naming
// the file for every truncation, flipped byte and lying header.

#include <latent/io/npy.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

using namespace latent;
using Catch::Matchers::Contains;
using latent_test::TempDir;

namespace {

// A .npy file (version 1.0) from a header dict written by hand and `data` bytes.
std::vector<std::uint8_t> npy_of(const std::string& dict, const std::vector<std::uint8_t>& data = {}) {
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(std::uint8_t(dict.size()));
  out.push_back(std::uint8_t(dict.size() >> 8));
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::string parse_error(const std::vector<std::uint8_t>& bytes) {
  try {
    (void)parse_npy<float>(bytes, "a.npy");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("npy: the header is byte for byte what NumPy writes", "[io]") {
  // np.save of np.zeros((3, 4), dtype='<f4'): 128 header bytes, ending in spaces and a newline.
  const std::vector<float> zeros(12, 0.0f);
  const auto bytes = npy_bytes<float>({3, 4}, zeros);
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
  dict.append(128 - 10 - dict.size() - 1, ' ').push_back('\n');
  const auto expected = npy_of(dict, std::vector<std::uint8_t>(48, 0));
  CHECK(bytes == expected);
  // One dimension is Python's one-element tuple "(5,)"; none is "()".
  const auto vector = npy_bytes<double>({5}, std::vector<double>(5, 1.0));
  CHECK(std::string(vector.begin() + 10, vector.begin() + 70).find("'shape': (5,), }") != std::string::npos);
  CHECK(parse_npy<double>(npy_bytes<double>({}, std::vector<double>{2.5}), "s.npy").values == std::vector<double>{2.5});
}

TEST_CASE("npy: matrices, examples and arrays written and read back exactly", "[io]") {
  TempDir dir;
  Matrix<float> m(2, 3);
  m << 1, 2, 3, 4, 5, -0.0f;
  write_npy(dir / "m.npy", m);  // Fortran order: Eigen's memory as it is
  const auto a = read_npy<float>(dir / "m.npy");
  CHECK(a.shape == std::vector<Index>{2, 3});
  CHECK(a.values == std::vector<float>{1, 2, 3, 4, 5, -0.0f});  // C order after reading
  CHECK(a.matrix() == m);
  CHECK(std::signbit(a.values[5]));

  write_npy_examples(dir / "e.npy", m);  // 2 features x 3 examples: the (3, 2) array
  CHECK(read_npy<double>(dir / "e.npy").shape == std::vector<Index>{3, 2});
  const auto d = read_npy_dataset<float>(dir / "e.npy");
  CHECK(d.features == m);

  NpyArray<std::uint8_t> pixels{{2, 2, 3}, {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}};
  write_npy(dir / "p.npy", pixels);
  const auto images = read_npy_dataset<std::uint8_t>(dir / "p.npy");
  CHECK(images.dim() == 6);
  CHECK(images.size() == 2);
  CHECK(images.features(1 * 3 + 2, 1) == 255);  // example 1, pixel (1, 2)
  CHECK(read_npy<float>(dir / "p.npy").values[6] == 250.0f);
  CHECK_THROWS_WITH(read_npy<std::uint8_t>(dir / "m.npy"),
                    Contains("m.npy: holds <f4 values, which uint8 cannot hold"));
}

TEST_CASE("npy: Fortran order, version 2 headers and integer labels", "[io]") {
  // A (2, 3, 2) array a[i][j][k] = 100 i + 10 j + k stored first index fastest.
  std::vector<double> fortran;
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) fortran.push_back(100 * i + 10 * j + k);
  const auto bytes = npy_bytes<double>({2, 3, 2}, fortran, /*fortran_order=*/true);
  const auto a = parse_npy<double>(bytes, "f.npy");
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) CHECK(a.values[std::size_t(i * 6 + j * 2 + k)] == 100 * i + 10 * j + k);

  // The same bytes under a version 2.0 preamble (a 4-byte header length).
  std::vector<std::uint8_t> v2(bytes.begin(), bytes.begin() + 8);
  v2[6] = 2;
  const std::size_t len = std::size_t(bytes[8] | bytes[9] << 8);
  for (int k = 0; k < 4; ++k) v2.push_back(std::uint8_t(len >> (8 * k)));
  v2.insert(v2.end(), bytes.begin() + 10, bytes.end());
  CHECK(parse_npy<double>(v2, "f2.npy").values == a.values);

  TempDir dir;
  write_npy_examples(dir / "x.npy", Matrix<float>::Ones(4, 3).eval());
  const std::vector<std::int64_t> labels = {7, -1, 2};
  std::ofstream(dir / "y.npy", std::ios::binary)
      .write(reinterpret_cast<const char*>(npy_bytes<std::int64_t>({3}, labels).data()),
             std::streamsize(npy_bytes<std::int64_t>({3}, labels).size()));
  CHECK(read_npy_dataset<float>(dir / "x.npy", dir / "y.npy").labels == std::vector<int>{7, -1, 2});
  CHECK_THROWS_WITH(read_npy_dataset<float>(dir / "y.npy", dir / "x.npy"),
                    Contains("x.npy: labels must be a 1-D integer array"));
  write_npy_examples(dir / "x4.npy", Matrix<float>::Ones(4, 4).eval());
  CHECK_THROWS_WITH(read_npy_dataset<float>(dir / "x4.npy", dir / "y.npy"),
                    Contains("y.npy: holds 3 labels but") && Contains("x4.npy holds 4 examples"));
}

TEST_CASE("npy: every truncation and every flipped byte is a FormatError naming the file, or a valid file", "[io]") {
  const auto bytes = npy_bytes<float>({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("truncated to " << n << " bytes");
    CHECK_THAT(parse_error({bytes.begin(), bytes.begin() + std::ptrdiff_t(n)}), Contains("a.npy: "));
  }
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (const std::uint8_t flip : {0x01, 0x80, 0xFF}) {
      auto b = bytes;
      b[i] ^= flip;
      INFO("byte " << i << " ^ " << int(flip));
      try {
        (void)parse_npy<float>(b, "a.npy");
        (void)parse_npy<std::uint8_t>(b, "a.npy");
      } catch (const FormatError& e) {
        CHECK_THAT(e.what(), Contains("a.npy: "));
      }
    }
}

TEST_CASE("npy: headers that lie about sizes or types are refused before any allocation", "[io]") {
  const auto dict = [](const std::string& descr, const std::string& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }\n";
  };
  const std::vector<std::uint8_t> kb(1024, 0);
  CHECK(parse_error(npy_of(dict("<f4", "(256,)"), kb)) == "no error");
  // 10 GB declared in a 1 KB file.
  CHECK_THAT(parse_error(npy_of(dict("<f4", "(50000, 50000)"), kb)),
             Contains("a.npy: truncated data: shape (50000, 50000) of <f4 needs more than 1024 bytes but 1024 follow"));
  CHECK_THAT(parse_error(npy_of(dict("<f4", "(4294967296, 4294967296, 16)"), kb)), Contains("truncated data"));
  CHECK_THAT(parse_error(npy_of(dict("<f4", "(255,)"), kb)), Contains("trailing data"));
  CHECK_THAT(parse_error(npy_of(dict("<c8", "(128,)"), kb)), Contains("dtype '<c8' is not supported"));
  CHECK_THAT(parse_error(npy_of(dict(">f4", "(256,)"), kb)), Contains("dtype '>f4' is not supported"));
  CHECK_THAT(parse_error(npy_of("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (256,), }", kb)),
             Contains("structured dtypes are not supported"));
  CHECK_THAT(parse_error(npy_of("{'descr': '<f4', 'shape': (256,), }", kb)), Contains("lacks descr, fortran_order"));
  CHECK_THAT(parse_error(npy_of(dict("<f4", "(-1,)"), kb)), Contains("not a non-negative integer"));
  CHECK_THAT(parse_error(npy_of(dict("<f4", "(99999999999999999999,)"), kb)), Contains("too large"));
  CHECK_THAT(parse_error(npy_of(dict("<f4", "(256,)") + "x", kb)), Contains("text after the closing '}'"));
  auto bad_version = npy_of(dict("<f4", "(256,)"), kb);
  bad_version[6] = 4;
  CHECK_THAT(parse_error(bad_version), Contains("unsupported .npy version 4.0"));
  auto long_header = npy_of(dict("<f4", "(256,)"), kb);
  long_header[9] = 0xFF;
  CHECK_THAT(parse_error(long_header), Contains("the header length says"));
  CHECK_THAT(parse_error({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0}), Contains("bad magic string: not a .npy file"));
}
