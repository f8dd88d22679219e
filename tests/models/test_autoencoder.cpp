#include <latent/autodiff/grad_check.hpp>
#include <latent/models.hpp>
#include <latent/optim/adam.hpp>

#include <catch2/catch.hpp>

#include "autodiff/gradcheck_helpers.hpp"

using namespace latent;
using Catch::Matchers::Contains;
using latent_test::Md;
using latent_test::random;

TEST_CASE("every autoencoder variant's loss passes grad_check", "[models][autoencoder][gradcheck]") {
  struct Case {
    const char* name;
    AutoencoderOptions options;
  };
  const AutoencoderOptions base{.input = 6, .hidden = {5}, .latent = 3, .activation = Activation::tanh};
  const auto with = [&](auto edit) {
    AutoencoderOptions o = base;
    edit(o);
    return o;
  };
  const Case cases[] = {
      {"undercomplete bernoulli", base},
      {"undercomplete gaussian", with([](auto& o) { o.likelihood = Likelihood::gaussian; })},
      {"regularized l2", with([](auto& o) {
         o.penalty = CodePenalty::l2;
         o.lambda = 0.3;
       })},
      {"regularized l1", with([](auto& o) {
         o.penalty = CodePenalty::l1;
         o.lambda = 0.2;
       })},
      {"sparse kl", with([](auto& o) {
         o.code_activation = Activation::sigmoid;
         o.penalty = CodePenalty::kl_sparsity;
         o.lambda = 0.5;
         o.rho = 0.1;
       })},
      {"denoising gaussian", with([](auto& o) {
         o.corruption = {Noise::gaussian, 0.3};
       })},
      {"denoising masking", with([](auto& o) {
         o.corruption = {Noise::masking, 0.3};
       })},
      {"denoising salt and pepper", with([](auto& o) {
         o.corruption = {Noise::salt_and_pepper, 0.3};
       })},
      {"contractive sigmoid", with([](auto& o) {
         o.hidden = {};
         o.code_activation = Activation::sigmoid;
         o.contractive = 0.7;
       })},
      {"contractive tanh", with([](auto& o) {
         o.hidden = {};
         o.code_activation = Activation::tanh;
         o.contractive = 0.7;
       })},
      {"contractive identity", with([](auto& o) {
         o.hidden = {};
         o.contractive = 0.7;
       })},
      {"denoising + contractive + l2", with([](auto& o) {
         o.hidden = {};
         o.decoder_hidden = std::vector<Index>{4};
         o.code_activation = Activation::sigmoid;
         o.corruption = {Noise::gaussian, 0.2};
         o.contractive = 0.5;
         o.penalty = CodePenalty::l2;
         o.lambda = 0.1;
       })},
  };
  Rng init(5);
  for (const Case& c : cases) {
    auto ae = Autoencoder<double>::mlp(c.options, init);
    const Md x = random(6, 4, init, latent_test::Domain::unit_interval);
    const auto loss = [&](Tape<double>& t) {
      Rng rng(42);  // the same corruption on every evaluation
      return ae.loss(t, t.constant(x), rng).total;
    };
    const auto result = grad_check_parameters(loss, ae.named_parameters());
    INFO(c.name << ": " << result.message());
    CHECK(result.max_rel_error < 1e-6);
  }
}

TEST_CASE("the contractive penalty is the squared Frobenius norm of the encoder's Jacobian", "[models][autoencoder]") {
  for (Activation s : {Activation::sigmoid, Activation::tanh, Activation::identity}) {
    Rng rng(9);
    auto ae =
        Autoencoder<double>::mlp({.input = 5, .hidden = {}, .latent = 3, .code_activation = s, .contractive = 1}, rng);
    const Md x = random(5, 4, rng);
    Tape<double> tape;
    const Md penalty =
        contractive_penalty(tape, dynamic_cast<Mlp<double>&>(ae.encoder()), ae.encode(tape, tape.constant(x))).value();
    REQUIRE(penalty.rows() == 1);
    REQUIRE(penalty.cols() == 4);
    for (Index n = 0; n < x.cols(); ++n) {
      // J_ij = d z_i / d x_j by central differences on the plain forward pass.
      double frobenius = 0;
      for (Index j = 0; j < x.rows(); ++j) {
        Md up = x.col(n), down = x.col(n);
        up(j) += 1e-5;
        down(j) -= 1e-5;
        frobenius += ((ae.encode(up) - ae.encode(down)) / 2e-5).squaredNorm();
      }
      INFO(to_string(s) << " example " << n);
      CHECK(penalty(0, n) == Approx(frobenius).epsilon(1e-7));
    }
  }
}

TEST_CASE("loss terms: total = reconstruction + weighted penalty, in per-example units", "[models][autoencoder]") {
  Rng rng(11);
  auto ae = Autoencoder<double>::mlp({.input = 6,
                                      .hidden = {5},
                                      .latent = 2,
                                      .likelihood = Likelihood::gaussian,
                                      .penalty = CodePenalty::l2,
                                      .lambda = 0.25},
                                     rng);
  const Md x = random(6, 7, rng, latent_test::Domain::unit_interval);
  Tape<double> tape;
  const auto l = ae.loss(tape, tape.constant(x), rng);
  // Gaussian: the squared error summed over features, averaged over examples.
  CHECK(l.reconstruction.item() == Approx((ae.reconstruct(x) - x).squaredNorm() / 7).epsilon(1e-12));
  CHECK(l.penalty.item() == Approx(0.25 * ae.encode(x).squaredNorm() / 7).epsilon(1e-12));
  CHECK(l.total.item() == Approx(l.reconstruction.item() + l.penalty.item()).epsilon(1e-12));

  auto plain = Autoencoder<double>::mlp({.input = 6, .hidden = {5}, .latent = 2}, rng);
  tape.clear();
  const auto p = plain.loss(tape, tape.constant(x), rng);
  CHECK(p.penalty.item() == 0);
  CHECK(p.total.item() == p.reconstruction.item());
}

TEST_CASE("denoising: fresh noise every training step, clean targets, no noise in eval mode", "[models][autoencoder]") {
  Rng init(13);
  const Md x = random(6, 8, init, latent_test::Domain::unit_interval);
  auto ae =
      Autoencoder<double>::mlp({.input = 6, .hidden = {5}, .latent = 2, .corruption = {Noise::masking, 0.5}}, init);
  Tape<double> tape;
  Rng rng(1);
  const double first = ae.loss(tape, tape.constant(x), rng).total.item();
  tape.clear();
  const double second = ae.loss(tape, tape.constant(x), rng).total.item();
  CHECK(first != second);
  // Each step is the clean-target BCE of the model on x masked by the next draws of `rng` (one
  // uniform per entry, column by column; an entry drawn below 0.5 is zeroed): fresh noise every
  // step, and the targets are the clean x, not the masked input.
  Rng hand(1);
  for (double loss : {first, second}) {
    Md masked = x;
    for (Index j = 0; j < x.cols(); ++j)
      for (Index i = 0; i < x.rows(); ++i)
        if (hand.uniform() < 0.5) masked(i, j) = 0;
    REQUIRE(masked != x);
    tape.clear();
    const auto out = ae.forward(tape, tape.constant(masked));
    CHECK(loss == Approx(mean(Bernoulli<double>::nll(out, tape.constant(x))).item()).epsilon(1e-12));
    CHECK(loss != Approx(mean(Bernoulli<double>::nll(out, tape.constant(masked))).item()).epsilon(1e-6));
  }

  // Eval mode: the loss is the clean reconstruction's BCE, whatever the Rng.
  ae.eval();
  tape.clear();
  const double eval_a = ae.loss(tape, tape.constant(x), rng).total.item();
  tape.clear();
  const auto clean = ae.forward(tape, tape.constant(x));
  const double expected = mean(Bernoulli<double>::nll(clean, tape.constant(x))).item();
  tape.clear();
  Rng other(99);
  CHECK(ae.loss(tape, tape.constant(x), other).total.item() == eval_a);
  CHECK(eval_a == Approx(expected).epsilon(1e-12));
}

TEST_CASE("corruption processes do what their names say", "[models][autoencoder]") {
  Rng rng(17);
  const Md x = Md::Constant(50, 200, 0.5);
  const Md masked = corrupt(x, {Noise::masking, 0.3}, rng);
  const double zeros = double((masked.array() == 0).count()) / double(x.size());
  CHECK(zeros == Approx(0.3).margin(0.02));
  CHECK(((masked.array() == 0) || (masked.array() == 0.5)).all());

  const Md sp = corrupt(x, {Noise::salt_and_pepper, 0.4}, rng);
  CHECK(double((sp.array() == 0).count()) / double(x.size()) == Approx(0.2).margin(0.02));
  CHECK(double((sp.array() == 1).count()) / double(x.size()) == Approx(0.2).margin(0.02));

  const Md g = corrupt(x, {Noise::gaussian, 0.2}, rng);
  const double sd = std::sqrt((g - x).squaredNorm() / double(x.size()));
  CHECK(sd == Approx(0.2).epsilon(0.03));
  CHECK(corrupt(x, {}, rng) == x);
}

TEST_CASE("on the same corrupted inputs, a denoising AE reconstructs the clean data better", "[models][autoencoder]") {
  // Data on a 2-D curved manifold in R^16; D = 8 leaves the undercomplete AE room to copy
  // noise, which the denoising AE learns to remove.
  Rng rng(21);
  const Index F = 16;
  Md a(F, 2), c(F, 1);
  rng.fill_normal(a);
  rng.fill_normal(c);
  const auto sample = [&](Index n) {
    Md z(2, n);
    rng.fill_normal(z);
    return Md((1 + (-((a * z).colwise() + c.col(0)).array()).exp()).inverse().matrix());
  };
  const Md train = sample(1024), test = sample(512);
  const Corruption noise{Noise::gaussian, 0.2};

  const auto fit = [&](Corruption corruption) {
    Rng init(3);
    auto ae = Autoencoder<double>::mlp(
        {.input = F, .hidden = {32}, .latent = 8, .likelihood = Likelihood::gaussian, .corruption = corruption}, init);
    Adam<double> opt(ae.parameters(), {.lr = 3e-3});
    Tape<double> tape;
    Rng steps(4);
    for (int epoch = 0; epoch < 60; ++epoch)
      for (Index j = 0; j < train.cols(); j += 64) {
        tape.clear();
        opt.zero_grad();
        tape.backward(ae.loss(tape, tape.constant(train.middleCols(j, 64)), steps).total);
        opt.step();
      }
    ae.eval();
    Rng same(77);  // both models see the same corrupted test inputs
    return (ae.reconstruct(corrupt(test, noise, same)) - test).squaredNorm() / double(test.size());
  };
  const double undercomplete = fit({}), denoising = fit(noise);
  INFO("test MSE per feature from noisy inputs: undercomplete " << undercomplete << ", denoising " << denoising);
  CHECK(denoising < 0.8 * undercomplete);
}

TEST_CASE("matrix encode/decode/reconstruct agree with the tape and cover every chunk", "[models][autoencoder]") {
  Rng rng(23);
  auto ae = Autoencoder<float>::mlp({.input = 4, .hidden = {3}, .latent = 2}, rng);
  latent::Matrix<float> x(4, 2500);  // more columns than one scratch-tape chunk
  rng.fill_uniform(x);
  const latent::Matrix<float> z = ae.encode(x);
  const latent::Matrix<float> r = ae.reconstruct(x);
  REQUIRE(z.rows() == 2);
  REQUIRE(z.cols() == 2500);
  REQUIRE(r.rows() == 4);
  REQUIRE(r.cols() == 2500);
  CHECK(r.isApprox(ae.decode(z)));
  CHECK((r.array() > 0).all());  // Bernoulli means are probabilities
  CHECK((r.array() < 1).all());
  Tape<float> tape;
  const latent::Matrix<float> tail = ae.encode(tape, tape.constant(x.rightCols(3))).value();
  CHECK(tail.isApprox(z.rightCols(3)));

  std::vector<std::string> names;
  for (const auto& [name, p] : ae.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
                                          "decoder.0.weight", "decoder.0.bias", "decoder.1.weight", "decoder.1.bias"});
}

TEST_CASE("autoencoder misuse is refused with a clear message", "[models][autoencoder]") {
  Rng rng(29);
  auto ae = Autoencoder<double>::mlp({.input = 6, .hidden = {5}, .latent = 3}, rng);
  Tape<double> tape;
  CHECK_THROWS_AS(ae.loss(tape, tape.constant(Md::Zero(5, 2)), rng), ShapeError);
  CHECK_THROWS_WITH(ae.loss(tape, tape.constant(Md::Zero(5, 2)), rng),
                    Contains("x is 5x2") && Contains("reads 6 features"));
  CHECK_THROWS_WITH(ae.decode(tape, tape.constant(Md::Zero(4, 2))), Contains("z is 4x2") && Contains("3 dimensions"));
  CHECK_THROWS_AS(ae.encode(Md::Zero(7, 1)), ShapeError);

  CHECK_THROWS_WITH((Autoencoder<double>::mlp({.input = 6, .hidden = {5}, .latent = 3, .contractive = 0.1}, rng)),
                    Contains("one-layer encoder") && Contains("2 layers"));
  CHECK_THROWS_WITH(
      (Autoencoder<double>::mlp(
          {.input = 6, .hidden = {}, .latent = 3, .code_activation = Activation::relu, .contractive = 0.1}, rng)),
      Contains("not relu"));
  CHECK_THROWS_WITH(
      (Autoencoder<double>::mlp({.input = 6, .latent = 3, .penalty = CodePenalty::kl_sparsity, .lambda = 1}, rng)),
      Contains("needs sigmoid codes"));
  CHECK_THROWS_WITH((Autoencoder<double>::mlp({.input = 6, .latent = 3, .corruption = {Noise::masking, 1.5}}, rng)),
                    Contains("p in [0, 1]"));
  CHECK_THROWS_AS((Autoencoder<double>::mlp({.input = 6, .latent = 3, .lambda = -1}, rng)), NumericError);
  CHECK_THROWS_WITH(parse_noise("pink"), Contains("unknown noise 'pink'"));
  CHECK(parse_noise("salt_and_pepper") == Noise::salt_and_pepper);
  CHECK(parse_code_penalty("kl_sparsity") == CodePenalty::kl_sparsity);
}

namespace {
// A user's encoder: x -> tanh(W x + b) -> Linear to D, with a skip of the first D features of x
// into the code (z = V tanh(W x + b) + c + x[0:D]), written outside the library.
template <class S>
class SkipEncoder : public Module<S> {
 public:
  SkipEncoder(Index in, Index hidden, Index code, Rng& rng)
      : inner_(in, hidden, rng), outer_(hidden, code, rng), code_(code) {}
  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    return outer_.forward(tape, tanh(inner_.forward(tape, x))) + slice_rows(x, 0, code_);
  }

 protected:
  void visit_children(const typename Module<S>::ChildVisitor& f) override {
    f("inner", inner_);
    f("outer", outer_);
  }

 private:
  Linear<S> inner_, outer_;
  Index code_;
};
}  // namespace

TEST_CASE("an autoencoder composed from user-written modules passes grad_check and learns",
          "[models][autoencoder][gradcheck]") {
  Rng rng(4);
  const Index F = 6, D = 2;
  Autoencoder<double> ae(
      SkipEncoder<double>(F, 5, D, rng), Mlp<double>({.sizes = {D, 5, F}, .hidden = Activation::tanh}, rng),
      {.input = F, .latent = D, .likelihood = Likelihood::gaussian, .penalty = CodePenalty::l2, .lambda = 0.1});
  std::vector<std::string> names;
  for (const auto& [name, p] : ae.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"encoder.inner.weight", "encoder.inner.bias", "encoder.outer.weight",
                                          "encoder.outer.bias", "decoder.0.weight", "decoder.0.bias",
                                          "decoder.1.weight", "decoder.1.bias"});
  const Md x = random(F, 7, rng);
  const auto loss = [&](Tape<double>& t) {
    Rng unused(1);
    return ae.loss(t, t.constant(x), unused).total;
  };
  const auto result = grad_check_parameters(loss, ae.named_parameters());
  INFO(result.message());
  CHECK(result.max_rel_error < 1e-6);

  Adam<double> opt(ae.parameters(), {.lr = 1e-2});
  Tape<double> t;
  const double before = loss(t).item();
  for (int step = 0; step < 300; ++step) {
    t.clear();
    opt.zero_grad();
    t.backward(loss(t));
    opt.step();
  }
  t.clear();
  CHECK(loss(t).item() < 0.5 * before);
  // The contractive penalty's closed form needs the library's one-layer Mlp encoder.
  CHECK_THROWS_WITH((Autoencoder<double>(SkipEncoder<double>(F, 5, D, rng), Mlp<double>({.sizes = {D, F}}, rng),
                                         {.input = F, .latent = D, .contractive = 0.1})),
                    Contains("needs the library's one-layer Mlp encoder"));
}
