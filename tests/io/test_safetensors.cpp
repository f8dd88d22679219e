// safetensors: exact round trips, a module by name through a name map, F16/BF16 conversion, and a
// FormatError naming the file for every truncation, flipped byte and lying header.

#include <latent/io/safetensors.hpp>
#include <latent/io/torch_names.hpp>
#include <latent/latent.hpp>

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "support/skip.hpp"
#include "support/temp_dir.hpp"

using namespace latent;
using Catch::Matchers::Contains;
using latent_test::TempDir;

#if defined(LATENT_WITH_JSON)

namespace {

// A safetensors file from a header written by hand and `data` bytes.
std::vector<std::uint8_t> file_of(const std::string& header, const std::vector<std::uint8_t>& data = {}) {
  std::vector<std::uint8_t> out;
  for (int k = 0; k < 8; ++k) out.push_back(std::uint8_t(std::uint64_t(header.size()) >> (8 * k)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::string parse_error(const std::vector<std::uint8_t>& bytes) {
  try {
    (void)parse_safetensors<float>(bytes, "w.safetensors");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "no error";
}

std::vector<std::pair<std::string, Tensor<float>>> sample_tensors() {
  Tensor<float> w{{2, 3}, {1, 2, 3, 4, 5, 6}}, b{{3}, {-0.0f, 1e-40f, 7}}, s{{}, {42}}, e{{0, 4}, {}};
  return {{"w", w}, {"b", b}, {"scalar", s}, {"empty", e}};
}

}  // namespace

TEST_CASE("safetensors: tensors and metadata written and read back bit for bit, float into double exactly", "[io]") {
  TempDir dir;
  const auto tensors = sample_tensors();
  write_safetensors(dir / "t.safetensors", tensors, {{"format", "pt"}});
  const auto f = read_safetensors<float>(dir / "t.safetensors");
  REQUIRE(f.tensors.size() == 4);
  for (const auto& [name, t] : tensors) {
    INFO(name);
    const Tensor<float>* u = f.find(name);
    REQUIRE(u != nullptr);
    CHECK(u->shape == t.shape);
    REQUIRE(u->values.size() == t.values.size());
    for (std::size_t i = 0; i < t.values.size(); ++i)
      CHECK(std::bit_cast<std::uint32_t>(u->values[i]) == std::bit_cast<std::uint32_t>(t.values[i]));
  }
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  CHECK(f.find("nothing") == nullptr);
  const auto d = read_safetensors<double>(dir / "t.safetensors");
  CHECK(d.find("b")->values[1] == double(1e-40f));
  // Row-major: element [i, j] of the (2, 3) tensor is values[3 i + j], and matrix() is that 2x3.
  Matrix<float> w(2, 3);
  w << 1, 2, 3, 4, 5, 6;
  CHECK(f.find("w")->matrix() == w);
  CHECK(Tensor<float>::from_matrix(w).values == tensors[0].second.values);
  // The header is padded to 8 bytes, so the data of an F32 file start aligned.
  const auto bytes = read_file_bytes(dir / "t.safetensors");
  CHECK((bytes[0] | bytes[1] << 8) % 8 == 0);
}

TEST_CASE("safetensors: F16 and BF16 values convert exactly, including subnormals, infinities and NaN", "[io]") {
  // F16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), 2^-14 (smallest normal), inf, NaN.
  // BF16: 1, -0.
  const std::vector<std::uint8_t> data = {0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00, 0x00,
                                          0x04, 0x00, 0x7C, 0x01, 0x7E, 0x80, 0x3F, 0x00, 0x80};
  const auto f = parse_safetensors<double>(file_of(R"({"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},)"
                                                   R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[14,18]}})",
                                                   data),
                                           "h.safetensors");
  const auto& h = f.find("h")->values;
  CHECK(h[0] == 1.0);
  CHECK(h[1] == -2.0);
  CHECK(h[2] == 65504.0);
  CHECK(h[3] == std::ldexp(1.0, -24));
  CHECK(h[4] == std::ldexp(1.0, -14));
  CHECK(std::isinf(h[5]));
  CHECK(std::isnan(h[6]));
  CHECK(f.find("b")->values[0] == 1.0);
  CHECK(f.find("b")->values[1] == 0.0);
  CHECK(std::signbit(f.find("b")->values[1]));
}

TEST_CASE("safetensors: a module saved and loaded by name, through a name map that splits rows", "[io]") {
  TempDir dir;
  Rng rng(3);
  auto vae = Vae<float>::mlp({.input = 6, .hidden = {5}, .latent = 2}, rng);
  save_safetensors(vae, dir / "plain.safetensors");
  save_safetensors(vae, dir / "torch.safetensors", {.names = torch_reference_vae_names()});
  const auto plain = read_safetensors<float>(dir / "plain.safetensors");
  CHECK(plain.find("encoder.head.weight")->shape == std::vector<Index>{4, 5});
  CHECK(plain.find("encoder.head.bias")->shape == std::vector<Index>{4});  // one column: rank 1, as torch's
  const auto torch = read_safetensors<float>(dir / "torch.safetensors");
  CHECK(torch.tensors.size() == 10);
  const Matrix<float>& head = vae.named_parameters()[2].second->value;
  CHECK(torch.find("fc21.weight")->matrix() == head.topRows(2));
  CHECK(torch.find("fc22.weight")->matrix() == head.bottomRows(2));

  Rng other(4);
  auto back = Vae<float>::mlp({.input = 6, .hidden = {5}, .latent = 2}, other);
  load_safetensors(back, dir / "torch.safetensors", {.names = torch_reference_vae_names()});
  for (std::size_t k = 0; k < back.named_parameters().size(); ++k)
    CHECK(back.named_parameters()[k].second->value == vae.named_parameters()[k].second->value);
  auto twice = Vae<double>::mlp({.input = 6, .hidden = {5}, .latent = 2}, other);
  load_safetensors(twice, dir / "plain.safetensors");  // float file, double model
  CHECK(twice.named_parameters()[0].second->value == vae.named_parameters()[0].second->value.cast<double>());
}

TEST_CASE("safetensors: names and shapes that do not match are listed, and the model is left as it was", "[io]") {
  TempDir dir;
  Rng rng(5);
  auto vae = Vae<float>::mlp({.input = 6, .hidden = {5}, .latent = 2}, rng);
  save_safetensors(vae, dir / "torch.safetensors", {.names = torch_reference_vae_names()});
  auto wider = Vae<float>::mlp({.input = 6, .hidden = {7}, .latent = 2}, rng);
  const Matrix<float> before = wider.named_parameters()[0].second->value;
  CHECK_THROWS_WITH(load_safetensors(wider, dir / "torch.safetensors"),
                    Contains("torch.safetensors: tensors do not match the model: missing from the file: "
                             "encoder.trunk.0.weight, encoder.trunk.0.bias") &&
                        Contains("not in the model: fc1.weight"));
  CHECK_THROWS_AS(load_safetensors(wider, dir / "torch.safetensors", {.names = torch_reference_vae_names()}),
                  ShapeError);
  CHECK_THROWS_WITH(load_safetensors(wider, dir / "torch.safetensors", {.names = torch_reference_vae_names()}),
                    Contains("parameter 'encoder.trunk.0.weight' is 7x6 but the file holds fc1.weight [5, 6]"));
  CHECK(wider.named_parameters()[0].second->value == before);
  CHECK_THROWS_WITH(load_safetensors(vae, dir / "torch.safetensors", {.names = {{"encoder.nothing", {"fc1.weight"}}}}),
                    Contains("the name map names parameters the model does not have: encoder.nothing"));
  CHECK_THROWS_WITH(save_safetensors(vae, dir / "x.safetensors", {.names = {{"encoder.head.weight", {"a", "b", "c"}}}}),
                    Contains("splits 'encoder.head.weight' (4 rows) into 3 tensors"));
  CHECK_THROWS_AS(load_safetensors(vae, dir / "missing.safetensors"), IoError);
}

TEST_CASE("safetensors: every truncation and every flipped byte is a FormatError naming the file, or a valid file",
          "[io]") {
  const auto bytes = safetensors_bytes(sample_tensors(), {{"format", "pt"}});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("truncated to " << n << " bytes");
    CHECK_THAT(parse_error({bytes.begin(), bytes.begin() + std::ptrdiff_t(n)}), Contains("w.safetensors: "));
  }
  int refused = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (const std::uint8_t flip : {0x01, 0x80, 0xFF}) {
      auto b = bytes;
      b[i] ^= flip;
      INFO("byte " << i << " ^ " << int(flip));
      try {
        (void)parse_safetensors<float>(b, "w.safetensors");
      } catch (const FormatError& e) {
        CHECK_THAT(e.what(), Contains("w.safetensors: "));
        ++refused;
      }
    }
  CHECK(refused > int(bytes.size()));  // every header byte matters; data bytes are just other values
}

TEST_CASE("safetensors: headers that lie about sizes, offsets or types are refused before any allocation", "[io]") {
  const auto f32 = [](const std::string& shape, const std::string& offsets) {
    return R"({"t":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
  };
  const std::vector<std::uint8_t> eight(8, 0);
  CHECK(parse_error(file_of(f32("[2]", "[0,8]"), eight)) == "no error");
  // A 10 GB tensor declared in a file of a few bytes.
  CHECK_THAT(parse_error(file_of(f32("[50000,50000]", "[0,10000000000]"), eight)),
             Contains("data_offsets [0, 10000000000] lie outside the 8 bytes of data"));
  CHECK_THAT(parse_error(file_of(f32("[50000,50000]", "[0,8]"), eight)),
             Contains("tensor 't': shape [50000, 50000] of F32 does not fit its 8 bytes"));
  CHECK_THAT(parse_error(file_of(f32("[4294967296,4294967296,16]", "[0,8]"), eight)), Contains("does not fit"));
  CHECK_THAT(parse_error(file_of(f32("[2]", "[0,8]"), std::vector<std::uint8_t>(12))),
             Contains("4 bytes after the last tensor's data"));
  CHECK_THAT(parse_error(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                 eight)),
             Contains("starts at data byte 4 but the tensors before it end at 8 (they overlap)"));
  CHECK_THAT(parse_error(file_of(f32("[1]", "[4,8]"), eight)), Contains("(a hole)"));
  CHECK_THAT(parse_error(file_of(R"({"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", eight)),
             Contains("tensor 't': dtype 'I64' is not supported (F64, F32, F16 and BF16 are read)"));
  CHECK_THAT(parse_error(file_of(f32("[-2]", "[0,8]"), eight)), Contains("not a non-negative integer"));
  CHECK_THAT(parse_error(file_of(f32("[2]", "[0]"), eight)), Contains("'data_offsets' is not [begin, end]"));
  CHECK_THAT(parse_error(file_of(f32("[2]", "[8,0]"), eight)), Contains("lie outside"));
  CHECK_THAT(parse_error(file_of(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", eight)), Contains("no string 'dtype'"));
  CHECK_THAT(parse_error(file_of(R"({"__metadata__":{"a":1}})")), Contains("__metadata__ 'a' is not a string"));
  CHECK_THAT(parse_error(file_of(R"({"t":)")), Contains("the header is not a JSON object"));
  CHECK_THAT(parse_error(file_of(R"(["t"])")), Contains("does not start with '{'"));
  auto huge = file_of("{}");
  huge[4] = 1;  // the header length says 2^32 + 2 bytes
  CHECK_THAT(parse_error(huge), Contains("the header length says 4294967298 bytes but only 2 follow"));
  CHECK_THAT(parse_error({1, 2, 3}), Contains("truncated: 3 bytes, the header length alone needs 8"));
}

#else
TEST_CASE("safetensors needs nlohmann_json", "[io]") {
  LATENT_SKIP("latent built without nlohmann_json (apt-get install nlohmann-json3-dev)");
}
#endif
