// Checkpoints: exact round trips, bit-identical resumed training, clean errors for every
// truncation and every flipped byte, float <-> double conversion.

#include <latent/io/checkpoint.hpp>
#include <latent/latent.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

using namespace latent;
using Catch::Matchers::Contains;
using latent_test::TempDir;

namespace {

std::vector<std::uint8_t> read_all(const std::filesystem::path& p) { return read_file_bytes(p); }

void write_all(const std::filesystem::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(out);
}

// Recomputes the trailing CRC, so a corruption reaches the parser instead of the CRC check.
void reseal(std::vector<std::uint8_t>& bytes) {
  const std::uint32_t c = crc32(std::span<const std::uint8_t>(bytes.data(), bytes.size() - 4));
  for (int k = 0; k < 4; ++k) bytes[bytes.size() - 4 + std::size_t(k)] = std::uint8_t(c >> (8 * k));
}

template <class S>
std::vector<Matrix<S>> values_of(Module<S>& m) {
  std::vector<Matrix<S>> v;
  for (Parameter<S>* p : m.parameters()) v.push_back(p->value);
  return v;
}

// One training step whose input and target come from `rng`, so resuming needs its position too.
template <class S>
void train_step(Mlp<S>& mlp, Optimizer<S>& opt, Rng& rng, Tape<S>& tape) {
  Matrix<S> x(3, 5), y(2, 5);
  rng.fill_normal(x);
  rng.fill_normal(y);
  tape.clear();
  opt.zero_grad();
  tape.backward(losses::mse(mlp.forward(tape, tape.constant(x)), tape.constant(y)));
  opt.step();
}

MlpOptions net_options() { return {.sizes = {3, 6, 2}, .hidden = Activation::tanh}; }

}  // namespace

TEST_CASE("save, load and save again gives the same bytes and the same values", "[checkpoint]") {
  TempDir dir;
  Rng rng(1);
  Mlp<double> mlp(net_options(), rng);
  Adam<double> adam(mlp.parameters(), {.lr = 0.01});
  Tape<double> tape;
  for (int t = 0; t < 3; ++t) train_step(mlp, adam, rng, tape);
  save_checkpoint(dir / "a.ckpt", mlp, &adam, &rng);

  Rng other(2);
  Mlp<double> copy(net_options(), other);
  Adam<double> copy_adam(copy.parameters());
  load_checkpoint(dir / "a.ckpt", copy, &copy_adam, &other);
  CHECK(values_of(copy) == values_of(mlp));
  CHECK(copy_adam.steps() == 3);
  CHECK(copy_adam.lr() == 0.01);
  CHECK(other.state() == rng.state());
  save_checkpoint(dir / "b.ckpt", copy, &copy_adam, &other);
  CHECK(read_all(dir / "a.ckpt") == read_all(dir / "b.ckpt"));
  // The atomic write leaves no temporary file behind.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 2);
}

TEMPLATE_TEST_CASE("training resumed from a checkpoint continues bit-identically", "[checkpoint]", float, double) {
  using S = TestType;
  TempDir dir;
  Rng rng(3);
  Mlp<S> mlp(net_options(), rng);
  Adam<S> adam(mlp.parameters(), {.lr = 0.05});
  Tape<S> tape;
  for (int t = 0; t < 10; ++t) {
    if (t == 5) save_checkpoint(dir / "step5.ckpt", mlp, &adam, &rng);
    train_step(mlp, adam, rng, tape);
  }

  Rng resumed_rng(99);  // a different seed and initialisation, all overwritten by the load
  Mlp<S> resumed(net_options(), resumed_rng);
  Adam<S> resumed_adam(resumed.parameters(), {.lr = 0.05});
  Tape<S> resumed_tape;
  load_checkpoint(dir / "step5.ckpt", resumed, &resumed_adam, &resumed_rng);
  CHECK(resumed_adam.steps() == 5);
  for (int t = 5; t < 10; ++t) train_step(resumed, resumed_adam, resumed_rng, resumed_tape);
  CHECK(values_of(resumed) == values_of(mlp));
  CHECK(resumed_adam.state().tensors == adam.state().tensors);
  CHECK(resumed_rng.state() == rng.state());
}

TEST_CASE("every truncation and every flipped byte gives a clean error and changes nothing", "[checkpoint]") {
  TempDir dir;
  Rng rng(4);
  Mlp<float> mlp({.sizes = {2, 2}}, rng);
  Sgd<float> sgd(mlp.parameters(), {.momentum = 0.9});
  Tape<float> tape;
  tape.backward(sum(mlp.forward(tape, tape.constant(Matrix<float>::Ones(2, 3)))));
  sgd.step();
  save_checkpoint(dir / "good.ckpt", mlp, &sgd, &rng);
  const std::vector<std::uint8_t> good = read_all(dir / "good.ckpt");
  const auto bad = dir / "bad.ckpt";
  const auto load_bad = [&] { load_checkpoint(bad, mlp, &sgd, &rng); };
  // A failed load, however far it got, leaves model, optimizer and Rng as they were.
  const auto values_before = values_of(mlp);
  const auto sgd_before = sgd.state().tensors;
  const auto rng_before = rng.state();
  const auto unchanged = [&] {
    return values_of(mlp) == values_before && sgd.state().tensors == sgd_before && rng.state() == rng_before;
  };

  for (std::size_t n = 0; n < good.size(); ++n) {
    INFO("truncated to " << n << " bytes");
    write_all(bad, std::vector<std::uint8_t>(good.begin(), good.begin() + std::ptrdiff_t(n)));
    CHECK_THROWS_AS(load_bad(), FormatError);
    CHECK(unchanged());
  }
  write_all(bad, std::vector<std::uint8_t>(good.begin(), good.begin() + 40));
  CHECK_THROWS_WITH(load_bad(), Contains("truncated at byte 40 of " + std::to_string(good.size())));

  for (std::size_t i = 0; i < good.size(); ++i) {
    INFO("byte " << i << " flipped");
    std::vector<std::uint8_t> bytes = good;
    bytes[i] ^= 0xFF;
    write_all(bad, bytes);
    // CRC-32 detects every error within 32 consecutive bits, so each flip is refused.
    CHECK_THROWS_AS(load_bad(), FormatError);
    CHECK(unchanged());
    // With the CRC recomputed the parser meets the corruption itself: it may load (a changed
    // value) but must fail only with latent's errors, never crash or over-allocate.
    if (i < good.size() - 4) {
      reseal(bytes);
      write_all(bad, bytes);
      try {
        load_bad();
        load_checkpoint(dir / "good.ckpt", mlp, &sgd, &rng);
      } catch (const Error&) {
        CHECK(unchanged());
      }
    }
  }
  std::vector<std::uint8_t> bytes = good;
  bytes[0] = 'X';
  write_all(bad, bytes);
  CHECK_THROWS_WITH(load_bad(), Contains("bad.ckpt: bad magic"));
  bytes = good;
  bytes[8] = 2;
  write_all(bad, bytes);
  CHECK_THROWS_WITH(load_bad(), Contains("unsupported format version 2 (this build reads 1)"));
  bytes = good;
  bytes[30] ^= 1;
  write_all(bad, bytes);
  CHECK_THROWS_WITH(load_bad(), Contains("CRC mismatch"));
  bytes = good;
  bytes.push_back(0);
  write_all(bad, bytes);
  CHECK_THROWS_WITH(load_bad(), Contains("1 unexpected bytes after the end"));
  // A tensor whose size field claims more than the file holds is refused before allocating.
  bytes = good;
  // Header (24 bytes), parameter count (4), name length (4), "0.weight" (8), then rows.
  for (std::size_t k = 0; k < 8; ++k) bytes[24 + 4 + 4 + 8 + k] = 0xFF;
  reseal(bytes);
  write_all(bad, bytes);
  CHECK_THROWS_WITH(load_bad(), Contains("tensor '0.weight' claims"));
  CHECK(unchanged());
}

TEST_CASE("a float checkpoint loads into a double model and back", "[checkpoint]") {
  TempDir dir;
  Rng rng(5);
  Mlp<float> f(net_options(), rng);
  Adam<float> f_adam(f.parameters());
  Tape<float> tape;
  train_step(f, f_adam, rng, tape);
  save_checkpoint(dir / "float.ckpt", f, &f_adam);

  Mlp<double> d(net_options(), rng);
  Adam<double> d_adam(d.parameters());
  load_checkpoint(dir / "float.ckpt", d, &d_adam);
  for (std::size_t i = 0; i < d.parameters().size(); ++i)
    CHECK(d.parameters()[i]->value == f.parameters()[i]->value.cast<double>());
  CHECK(d_adam.state().tensors[1].second == f_adam.state().tensors[1].second.cast<double>());
  CHECK(d_adam.steps() == 1);

  // Back to float: every value was a float to begin with, so nothing is lost.
  save_checkpoint(dir / "double.ckpt", d, &d_adam);
  Mlp<float> back(net_options(), rng);
  load_checkpoint(dir / "double.ckpt", back);
  CHECK(values_of(back) == values_of(f));
}

TEST_CASE("a checkpoint that does not fit the model is refused with names and shapes", "[checkpoint]") {
  TempDir dir;
  Rng rng(6);
  Mlp<double> two({.sizes = {3, 4, 4}}, rng);
  Sgd<double> sgd(two.parameters());
  save_checkpoint(dir / "two.ckpt", two, &sgd);

  Mlp<double> three({.sizes = {3, 4, 4, 4}}, rng);
  CHECK_THROWS_AS(load_checkpoint(dir / "two.ckpt", three), FormatError);
  CHECK_THROWS_WITH(load_checkpoint(dir / "two.ckpt", three),
                    Contains("missing from the checkpoint: 2.weight, 2.bias"));
  save_checkpoint(dir / "three.ckpt", three);
  CHECK_THROWS_WITH(load_checkpoint(dir / "three.ckpt", two), Contains("not in the model: 2.weight, 2.bias"));

  Mlp<double> wide({.sizes = {3, 5, 4}}, rng);
  CHECK_THROWS_AS(load_checkpoint(dir / "two.ckpt", wide), ShapeError);
  CHECK_THROWS_WITH(load_checkpoint(dir / "two.ckpt", wide),
                    Contains("parameter '0.weight' is 4x3 in the checkpoint but 5x3 in the model"));

  Adam<double> adam(two.parameters());
  CHECK_THROWS_WITH(load_checkpoint(dir / "two.ckpt", two, &adam),
                    Contains("cannot load the state of a Sgd optimizer"));
  CHECK_THROWS_WITH(load_checkpoint(dir / "three.ckpt", three, nullptr, &rng), Contains("holds no Rng state"));
  Sgd<double> three_sgd(three.parameters());
  CHECK_THROWS_WITH(load_checkpoint(dir / "three.ckpt", three, &three_sgd), Contains("holds no optimizer state"));
}

TEST_CASE("system failures name the file", "[checkpoint]") {
  TempDir dir;
  Rng rng(7);
  Mlp<float> mlp(net_options(), rng);
  CHECK_THROWS_AS(save_checkpoint(dir / "no" / "such" / "dir.ckpt", mlp), IoError);
  CHECK_THROWS_WITH(load_checkpoint(dir / "missing.ckpt", mlp), Contains("missing.ckpt"));
}

TEST_CASE("a corrupt size field is reported as such, a truncated file as truncated", "[checkpoint]") {
  TempDir dir;
  Rng rng(9);
  Mlp<float> mlp({.sizes = {3, 2}}, rng);
  save_checkpoint(dir / "good.ckpt", mlp);
  const std::vector<std::uint8_t> good = read_all(dir / "good.ckpt");
  std::vector<std::uint8_t> bytes = good;
  bytes[16 + 5] = 0x7F;  // the size field (bytes 16..23) now claims ~1.4e14 bytes; nothing else changed
  write_all(dir / "bad.ckpt", bytes);
  CHECK_THROWS_AS(load_checkpoint(dir / "bad.ckpt", mlp), FormatError);
  const std::string intact = std::to_string(good.size()) + "-byte file is otherwise intact";
  CHECK_THROWS_WITH(load_checkpoint(dir / "bad.ckpt", mlp),
                    Contains("the header's size field is corrupt") && Contains(intact) && !Contains("truncated"));
  // A genuinely truncated file still says so.
  write_all(dir / "bad.ckpt", std::vector<std::uint8_t>(good.begin(), good.end() - 3));
  CHECK_THROWS_WITH(load_checkpoint(dir / "bad.ckpt", mlp),
                    Contains("truncated at byte " + std::to_string(good.size() - 3)));
}

TEST_CASE("a double checkpoint loads into a float model rounded to nearest, not truncated", "[checkpoint]") {
  TempDir dir;
  Rng rng(6);
  Mlp<double> d(net_options(), rng);
  // Around 1 the float spacing is 2^-23. 1 + 0.75 spacing rounds up to 1 + 2^-23 (truncation
  // would give 1); 1 + 0.25 spacing rounds down to 1; the same with the sign flipped; and
  // 1 + 0.5 spacing is a tie, which goes to the even neighbour, 1.
  const double u = std::ldexp(1.0, -23);
  const std::vector<std::pair<double, float>> cases = {{1 + 0.75 * u, 1.0f + std::ldexp(1.0f, -23)},
                                                       {1 + 0.25 * u, 1.0f},
                                                       {-(1 + 0.75 * u), -(1.0f + std::ldexp(1.0f, -23))},
                                                       {-(1 + 0.25 * u), -1.0f},
                                                       {1 + 0.5 * u, 1.0f},
                                                       {1 + 1.5 * u, 1.0f + std::ldexp(2.0f, -23)}};
  auto* w = d.parameters()[0];
  REQUIRE(w->value.size() >= Index(cases.size()));
  for (std::size_t i = 0; i < cases.size(); ++i) w->value(Index(i)) = cases[i].first;
  save_checkpoint(dir / "double.ckpt", d);
  Mlp<float> f(net_options(), rng);
  load_checkpoint(dir / "double.ckpt", f);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("entry " << i << ": " << cases[i].first);
    CHECK(f.parameters()[0]->value(Index(i)) == cases[i].second);
  }
}
