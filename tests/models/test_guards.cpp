// The guard rails of issue 24 on the models: sizes by option name, empty batches, Bernoulli
// targets outside [0, 1], non-finite and diverging losses, and row counts named at the model.

#include <latent/data/normalizer.hpp>
#include <latent/models.hpp>
#include <latent/optim/adam.hpp>
#include <latent/train/divergence_guard.hpp>

#include <catch2/catch.hpp>

#include <limits>

using namespace latent;
using Catch::Matchers::Contains;
using Mf = Matrix<float>;

namespace {

// A batch of 16 x 8 values in [0, 1], like pixels.
Mf pixels(Rng& rng, Index rows = 16, Index cols = 8) {
  Mf x(rows, cols);
  rng.fill_uniform(x);
  return x;
}

// The message of the latent::Error that f throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("negative or zero sizes are refused by the option's name, not as bad_alloc", "[models][guards]") {
  Rng rng(1);
  CHECK_THROWS_WITH((Vae<float>::mlp({.input = -5}, rng)), Contains("Vae: input must be at least 1, got -5"));
  CHECK_THROWS_WITH((Vae<float>::mlp({.hidden = {400, -3}}, rng)),
                    Contains("Vae: hidden[1] must be at least 1, got -3"));
  CHECK_THROWS_WITH((Vae<float>::mlp({.latent = 0}, rng)), Contains("latent must be at least 1, got 0"));
  CHECK_THROWS_WITH((Vae<float>::mlp({.classes = -2}, rng)), Contains("classes must be at least 0"));
  CHECK_THROWS_WITH((Autoencoder<float>::mlp({.input = -5}, rng)), Contains("Autoencoder: input must be at least 1"));
  CHECK_THROWS_WITH((Autoencoder<float>::mlp({.hidden = {-3}}, rng)), Contains("Autoencoder: hidden[0]"));
  CHECK_THROWS_WITH((Autoencoder<float>::mlp({.decoder_hidden = std::vector<Index>{7, -1}}, rng)),
                    Contains("decoder_hidden[1]"));
  CHECK_THROWS_WITH((Linear<float>(-1, 3, rng)), Contains("Linear: in must be at least 1, got -1"));
  CHECK_THROWS_WITH((Mlp<float>({.sizes = {4, -2, 3}}, rng)), Contains("Mlp: sizes[1]"));
  CHECK_THROWS_WITH((Decoder<float>::mlp({.latent = 2, .output = -4}, rng)), Contains("Decoder: output"));
  CHECK_THROWS_WITH((GaussianEncoder<float>::mlp({.input = 3, .latent = -1}, rng)),
                    Contains("GaussianEncoder: latent"));
  CHECK_THROWS_WITH((Parameter<float>("w", -1, 2)), Contains("w: rows must be at least 0"));
  CHECK_THROWS_WITH(one_hot<float>(std::vector<int>{0}, -1), Contains("one_hot: classes"));

  auto vae = Vae<float>::mlp({.input = 16, .hidden = {8}, .latent = 2}, rng);
  CHECK_THROWS_AS(vae.sample(-5, rng), ShapeError);
  CHECK_THROWS_WITH(vae.sample(-5, rng), Contains("sample: n must be at least 0, got -5"));
  CHECK(vae.sample(0, rng).cols() == 0);
  CHECK_THROWS_WITH(vae.interpolate(Vector<float>::Zero(2), Vector<float>::Zero(2), -1), Contains("steps"));
  CHECK_THROWS_WITH(vae.log_likelihood(pixels(rng), 5, rng, {}, 0), Contains("max_columns"));
  CHECK_THROWS_WITH(vae.sample(3, rng, 1), Contains("unconditional"));
}

TEST_CASE("an empty batch is its own error, and log_likelihood/active_units refuse 0 columns", "[models][guards]") {
  Rng rng(2);
  auto vae = Vae<float>::mlp({.input = 16, .hidden = {8}, .latent = 2}, rng);
  auto ae = Autoencoder<float>::mlp({.input = 16, .hidden = {8}, .latent = 2}, rng);
  Tape<float> t;
  const Mf empty(16, 0);
  CHECK_THROWS_AS(vae.elbo(t, t.constant(empty), rng), ShapeError);
  CHECK_THROWS_WITH(vae.elbo(t, t.constant(empty), rng), Contains("elbo: x is 16x0: an empty batch"));
  CHECK_THROWS_WITH(vae.iwae(t, t.constant(empty), rng, 3), Contains("empty batch"));
  CHECK_THROWS_WITH(ae.loss(t, t.constant(empty), rng), Contains("loss: x is 16x0: an empty batch"));
  // The crash of `vae --eval-images 0`: the mean of an empty answer.
  CHECK_THROWS_WITH(vae.log_likelihood(empty, 10, rng), Contains("log_likelihood: x is 16x0: an empty batch"));
  CHECK_THROWS_WITH(vae.active_units(empty), Contains("active_units: x is 16x0"));
  // Maps of 0 columns stay empty answers.
  CHECK(vae.encode(empty).first.cols() == 0);
  CHECK(ae.reconstruct(empty).cols() == 0);
}

TEST_CASE("wrong row counts are named at the model, with its input size", "[models][guards]") {
  Rng rng(3);
  auto vae = Vae<float>::mlp({.input = 64, .hidden = {32}, .latent = 4}, rng);
  auto ae = Autoencoder<float>::mlp({.input = 64, .hidden = {32}, .latent = 4}, rng);
  const Mf x = pixels(rng, 65, 3), z = pixels(rng, 5, 3);
  const std::string wrong = ": x is 65x3 but the model reads 64 features (one example per column)";
  CHECK(error_of([&] { vae.encode(x); }) == "encode" + wrong);
  CHECK(error_of([&] { vae.reconstruct(x, rng); }) == "reconstruct" + wrong);
  CHECK(error_of([&] { vae.log_likelihood(x, 3, rng); }) == "log_likelihood" + wrong);
  CHECK_THROWS_WITH(vae.decode(z), Contains("decode: z is 5x3 but the model reads 4 dimensions of z"));
  CHECK(error_of([&] { ae.encode(x); }) == "encode" + wrong);
  CHECK(error_of([&] { ae.reconstruct(x); }) == "reconstruct" + wrong);
  CHECK_THROWS_WITH(ae.decode(z), Contains("decode: z is 5x3 but the model reads 4 dimensions of z"));
  auto cvae = Vae<float>::mlp({.input = 64, .hidden = {32}, .latent = 4, .classes = 3}, rng);
  CHECK_THROWS_WITH(cvae.encode(pixels(rng, 64, 3), Mf::Zero(2, 3)), Contains("encode: labels are 2x3"));
  CHECK_THROWS_WITH(cvae.encode(pixels(rng, 64, 3)), Contains("encode: a conditional VAE needs labels"));
}

TEST_CASE("Bernoulli targets outside [0, 1] are refused with the value, its place and the fix", "[models][guards]") {
  Rng rng(4);
  auto vae = Vae<float>::mlp({.input = 16, .hidden = {8}, .latent = 2}, rng);
  auto ae = Autoencoder<float>::mlp({.input = 16, .hidden = {8}, .latent = 2}, rng);
  Tape<float> t;
  Mf x = pixels(rng);
  x(3, 5) = 16;  // pixels 0..16
  x(7, 6) = -1;
  const std::string message =
      ": the bernoulli likelihood needs targets in [0, 1], but x(3, 5) = 16.000000 (feature 3 of example 5 of a 16x8 "
      "batch); scale the data with to_unit or Normalizer::min_max, or use a Gaussian likelihood (likelihood = "
      "gaussian)";
  CHECK(error_of([&] { vae.elbo(t, t.constant(x), rng); }) == "elbo" + message);
  CHECK(error_of([&] { vae.elbo(t, t.constant(x), rng, {.samples = 3}); }) == "elbo" + message);
  CHECK(error_of([&] { vae.log_likelihood(x, 4, rng); }) == "log_likelihood" + message);
  CHECK(error_of([&] { vae.log_likelihood(x, 4, rng, {}, 4); }) == "log_likelihood" + message);
  CHECK(error_of([&] { ae.loss(t, t.constant(x), rng); }) == "loss" + message);
  CHECK(error_of([&] { losses::bce_with_logits(t.constant(x), t.constant(x)); }) ==
        "losses::bce_with_logits" + message);
  x(3, 5) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(ae.loss(t, t.constant(x), rng), Contains("x(3, 5) = nan"));
  // The fix the message names works, and a Gaussian model reads any finite data.
  x(3, 5) = 16;
  CHECK_NOTHROW(vae.elbo(t, t.constant(to_unit(x)), rng));
  auto gaussian = Vae<float>::mlp({.input = 16, .hidden = {8}, .latent = 2, .likelihood = Likelihood::gaussian}, rng);
  CHECK_NOTHROW(gaussian.elbo(t, t.constant(x), rng));
  // The edges 0 and 1 are fine.
  CHECK_NOTHROW(vae.elbo(t, t.constant(Mf::Zero(16, 2)), rng));
  CHECK_NOTHROW(vae.elbo(t, t.constant(Mf::Ones(16, 2)), rng));
}

TEST_CASE("the autoencoder stops on NaN data or a learning rate that overflows it, as the VAE does",
          "[models][guards]") {
  Rng rng(5);
  Tape<float> t;
  auto ae = Autoencoder<float>::mlp({.input = 16, .hidden = {8}, .latent = 2, .likelihood = Likelihood::gaussian}, rng);
  Mf x = pixels(rng);
  x(2, 2) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(ae.loss(t, t.constant(x), rng), NumericError);
  CHECK_THROWS_WITH(ae.loss(t, t.constant(x), rng), Contains("loss: the reconstruction term became NaN"));

  for (const bool vae_model : {false, true}) {
    INFO((vae_model ? "vae" : "autoencoder"));
    auto vae = Vae<float>::mlp({.input = 16, .hidden = {8}, .latent = 2}, rng);
    auto ae2 = Autoencoder<float>::mlp({.input = 16, .hidden = {8}, .latent = 2}, rng);
    Module<float>& model = vae_model ? static_cast<Module<float>&>(vae) : ae2;
    // An infinite rate is refused by the optimizer; 1e30 is finite and overflows the weights.
    CHECK_THROWS_AS(Adam<float>(model.parameters(), {.lr = std::numeric_limits<double>::infinity()}), NumericError);
    Adam<float> opt(model.parameters(), {.lr = 1e30});
    const Mf batch = pixels(rng);
    const auto step = [&] {
      t.clear();
      opt.zero_grad();
      const Var<float> loss =
          vae_model ? vae.elbo(t, t.constant(batch), rng).total : ae2.loss(t, t.constant(batch), rng).total;
      t.backward(loss);
      opt.step();
    };
    CHECK_THROWS_AS((step(), step(), step()), NumericError);
  }
}

TEST_CASE("a loss that grows by orders of magnitude is stopped, naming the learning rate", "[train][guards]") {
  DivergenceGuard guard({.lr = 1000});
  guard.check(546.9);
  guard.check(300);
  CHECK_THROWS_AS(guard.check(1.5e14), NumericError);
  DivergenceGuard again({.lr = 1000});
  again.check(546.9);
  CHECK_THROWS_WITH(again.check(1.5e14), Contains("loss diverged: 1.5e+14 at step 2 after 546.9 at step 1") &&
                                             Contains("lower the learning rate, now 1000"));
  DivergenceGuard nan;
  CHECK_THROWS_WITH(nan.check(std::numeric_limits<double>::quiet_NaN()), Contains("loss became NaN at step 1"));

  // Normal training, spikes and losses below zero included, passes.
  DivergenceGuard normal;
  for (double loss : {544.0, 300.0, 260.0, 900.0, 250.0, 240.0}) CHECK_NOTHROW(normal.check(loss));
  DivergenceGuard negative;
  for (double loss : {100.0, -50.0, -400.0, -300.0, 200.0}) CHECK_NOTHROW(negative.check(loss));
  CHECK_THROWS_AS(DivergenceGuard({.factor = 0}), Error);

  // The real thing: Adam at lr 1e3 on the autoencoder, and the guard in the loop.
  for (const double lr : {1e3, 1e8}) {
    Rng rng(6);
    auto ae = Autoencoder<float>::mlp({.input = 16, .hidden = {8}, .latent = 2}, rng);
    Adam<float> opt(ae.parameters(), {.lr = lr});
    DivergenceGuard watch({.lr = lr});
    const Mf batch = pixels(rng);
    Tape<float> t;
    const auto train = [&] {
      for (int s = 0; s < 50; ++s) {
        t.clear();
        opt.zero_grad();
        const auto loss = ae.loss(t, t.constant(batch), rng).total;
        watch.check(loss.item());
        t.backward(loss);
        opt.step();
      }
    };
    CHECK_THROWS_WITH(train(), Contains("lower the learning rate"));
  }
}
