// Weights and arrays that move between latent and PyTorch / NumPy (torch_vae.py is the Python
// side). Skipped when no python3 with torch and numpy is found (Debian: python3-torch,
// python3-numpy; LATENT_PYTHON names another interpreter).

#include <latent/io/npy.hpp>
#include <latent/io/safetensors.hpp>  // compiles without nlohmann_json; calling it needs it
#include <latent/io/torch_names.hpp>
#include <latent/latent.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <optional>
#include <string>

#include "support/skip.hpp"
#include "support/temp_dir.hpp"

using namespace latent;
using latent_test::TempDir;

namespace {

const std::string script = std::string(LATENT_TEST_DATA_DIR) + "/../interop/torch_vae.py";

// The first interpreter that imports torch and numpy: $LATENT_PYTHON, python3 on the PATH (which
// may be a pyenv or venv without them), then Debian's /usr/bin/python3.
std::optional<std::string> python_with_torch() {
  static const std::optional<std::string> found = [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("LATENT_PYTHON")) candidates.emplace_back(env);
    candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
    for (const std::string& py : candidates)
      if (std::system((py + " -c 'import torch, numpy' >/dev/null 2>&1").c_str()) == 0)
        return std::optional<std::string>(py);
    return std::optional<std::string>();
  }();
  return found;
}

// Runs torch_vae.py with `args`; true when it exits with 0.
bool torch_vae(const std::string& args) {
  const std::string cmd = *python_with_torch() + " " + script + " " + args;
  INFO(cmd);
  return std::system(cmd.c_str()) == 0;
}

constexpr Index batch = 16;

// Fixed inputs in [0, 1] (784 x 16) and the eps that `Vae::elbo` will draw from a copy of `rng`
// (it draws one D x B standard normal matrix after encoding), both written as (B, features)
// arrays for torch.
[[maybe_unused]] Matrix<float> write_inputs(const TempDir& dir, const Rng& rng) {
  Rng data(11);
  Matrix<float> x(784, batch);
  data.fill_uniform(x);
  Rng copy = Rng::from_state(rng.state());
  Matrix<float> eps(20, batch);
  copy.fill_normal(eps);
  write_npy_examples(dir / "x.npy", x);
  write_npy_examples(dir / "eps.npy", eps);
  return x;
}

// latent's ELBO terms [total, recon, kl] on x with the eps of a fresh copy of `rng`.
[[maybe_unused]] std::array<double, 3> latent_elbo(const Vae<float>& vae, const Matrix<float>& x, const Rng& rng) {
  Rng copy = Rng::from_state(rng.state());
  Tape<float> tape;
  const Elbo<float> e = vae.elbo(tape, tape.constant(x), copy);
  return {e.total.value()(0, 0), e.recon.value()(0, 0), e.kl.value()(0, 0)};
}

[[maybe_unused]] void require_same_elbo(const std::array<double, 3>& ours, const NpyArray<double>& theirs) {
  REQUIRE(theirs.values.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    INFO(std::setprecision(9) << "term " << k << " (total, recon, kl): latent " << ours[k] << ", torch "
                              << theirs.values[k]);
    // float sums of 784 BCE terms per example: measured within 2e-7 relative.
    CHECK(ours[k] == Approx(theirs.values[k]).epsilon(1e-5));
  }
}

}  // namespace

#if defined(LATENT_WITH_JSON)
TEST_CASE("a PyTorch reference VAE's state_dict loads into latent's MLP VAE and gives the same ELBO", "[interop]") {
  if (!python_with_torch())
    LATENT_SKIP("no python3 with torch and numpy (apt-get install python3-torch python3-numpy)");
  TempDir dir;
  const Rng rng(5);
  const Matrix<float> x = write_inputs(dir, rng);
  REQUIRE(torch_vae("make " + dir.path().string()));

  Rng init(1);
  auto vae = Vae<float>::mlp({}, init);
  const auto before = latent_elbo(vae, x, rng);
  load_safetensors(vae, dir / "torch.safetensors", {.names = torch_reference_vae_names()});
  const auto torch_elbo = read_npy<double>(dir / "torch.safetensors.elbo.npy");
  require_same_elbo(latent_elbo(vae, x, rng), torch_elbo);
  // The comparison can fail: latent's own initial weights give another ELBO.
  CHECK(std::abs(before[0] - torch_elbo.values[0]) > 1e-2);

  // fc21 is mu's rows of latent's head, fc22 the log-variance's.
  const auto file = read_safetensors<float>(dir / "torch.safetensors");
  const Matrix<float> head = vae.encoder().named_parameters()[2].second->value;  // trunk w, b, head w
  CHECK(head.topRows(20) == file.find("fc21.weight")->matrix());
  CHECK(head.bottomRows(20) == file.find("fc22.weight")->matrix());
  CHECK(file.metadata.at("format") == "pt");
}

TEST_CASE("latent's trained VAE loads into the PyTorch reference VAE and gives the same ELBO", "[interop]") {
  if (!python_with_torch())
    LATENT_SKIP("no python3 with torch and numpy (apt-get install python3-torch python3-numpy)");
  TempDir dir;
  const Rng rng(6);
  const Matrix<float> x = write_inputs(dir, rng);
  Rng train(2);
  auto vae = Vae<float>::mlp({}, train);
  Adam<float> opt(vae.parameters(), {.lr = 1e-3});
  Tape<float> tape;
  for (int step = 0; step < 20; ++step) {
    tape.clear(), opt.zero_grad();
    tape.backward(vae.elbo(tape, tape.constant(x), train).total);
    opt.step();
  }
  save_safetensors(vae, dir / "latent.safetensors", {.names = torch_reference_vae_names()});
  REQUIRE(torch_vae("eval " + dir.path().string() + " latent.safetensors"));
  require_same_elbo(latent_elbo(vae, x, rng), read_npy<double>(dir / "latent.safetensors.elbo.npy"));

  // torch's state_dict, saved again, is latent's weights bit for bit.
  Rng other(3);
  auto back = Vae<float>::mlp({}, other);
  load_safetensors(back, dir / "latent.safetensors.resaved.safetensors", {.names = torch_reference_vae_names()});
  const auto a = vae.named_parameters(), b = back.named_parameters();
  for (std::size_t k = 0; k < a.size(); ++k) {
    INFO(a[k].first);
    CHECK(a[k].second->value == b[k].second->value);
  }
}

TEST_CASE("F16 and BF16 tensors written by torch read as torch's own float conversion", "[interop]") {
  if (!python_with_torch())
    LATENT_SKIP("no python3 with torch and numpy (apt-get install python3-torch python3-numpy)");
  TempDir dir;
  REQUIRE(torch_vae("halves " + dir.path().string()));
  const auto file = read_safetensors<float>(dir / "halves.safetensors");
  for (const auto& [half, reference] : {std::pair{"h", "h32"}, {"b", "b32"}}) {
    INFO(half);
    const auto& h = file.find(half)->values;
    const auto& f = file.find(reference)->values;
    REQUIRE(h.size() == 15);
    REQUIRE(f.size() == 15);
    for (std::size_t i = 0; i < h.size(); ++i)
      CHECK(std::bit_cast<std::uint32_t>(h[i]) == std::bit_cast<std::uint32_t>(f[i]));
  }
  CHECK(std::isinf(file.find("h")->values[2]));    // 70000 is beyond F16
  CHECK(file.find("h")->values[0] > 0);            // 1e-6 is an F16 subnormal, not zero
  CHECK(std::signbit(file.find("b")->values[1]));  // -0 stays negative
}
#else
TEST_CASE("PyTorch round trips of safetensors need nlohmann_json", "[interop]") {
  LATENT_SKIP("latent built without nlohmann_json (apt-get install nlohmann-json3-dev)");
}
#endif

TEST_CASE(".npy arrays written by numpy read bit-exact, and numpy reads latent's copies bit-exact", "[interop]") {
  if (!python_with_torch())
    LATENT_SKIP("no python3 with torch and numpy (apt-get install python3-torch python3-numpy)");
  TempDir dir;
  REQUIRE(torch_vae("npy " + dir.path().string()));
  const auto c = read_npy<float>(dir / "f4_c.npy");
  REQUIRE(c.shape == std::vector<Index>{5, 7});
  CHECK(std::signbit(c.values[1]));
  CHECK(std::isnan(c.values[4]));
  CHECK(c.values[5] > 0);  // the smallest float subnormal, kept
  const auto fortran = read_npy<double>(dir / "f8_fortran.npy");
  REQUIRE(fortran.shape == std::vector<Index>{3, 4, 2});
  const auto images = read_npy_dataset<std::uint8_t>(dir / "u1_images.npy", dir / "labels.npy");
  CHECK(images.dim() == 12);
  CHECK(images.size() == 6);
  CHECK(images.labels.size() == 6);
  const auto raw = read_npy<std::uint8_t>(dir / "u1_images.npy");
  CHECK(images.features(1 * 3 + 2, 4) == raw.values[4 * 12 + 1 * 3 + 2]);  // example 4, pixel (1, 2)

  write_npy(dir / "f4_c.back.npy", c);
  write_npy(dir / "f8_fortran.back.npy", fortran);
  write_npy(dir / "u1_images.back.npy", raw);
  write_npy(dir / "f8_vector.back.npy", read_npy<double>(dir / "f8_vector.npy"));
  write_npy(dir / "f4_v2.back.npy", read_npy<float>(dir / "f4_v2.npy"));
  Rng rng(4);
  auto vae = Vae<float>::mlp({}, rng);
  Matrix<float> x(784, batch);
  rng.fill_uniform(x);
  write_npy_examples(dir / "latents.npy", vae.encode(x).first);
  REQUIRE(torch_vae("npy-check " + dir.path().string()));
}
