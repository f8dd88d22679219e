#include <latent/autodiff/grad_check.hpp>
#include <latent/layers.hpp>

#include <catch2/catch.hpp>

#include "autodiff/gradcheck_helpers.hpp"

using namespace latent;
using Catch::Matchers::Contains;
using latent_test::Md;
using latent_test::random;

TEST_CASE("Linear computes W x + b and names its parameters", "[layers]") {
  Rng rng(1);
  Linear<double> layer(3, 2, rng);
  const Md x = random(3, 4, rng);
  Tape<double> t;
  const Md y = layer.forward(t, t.constant(x)).value();
  const Md expected = (layer.weight().value * x).colwise() + layer.bias().value.col(0);
  CHECK(y.isApprox(expected, 1e-14));
  const auto named = layer.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(layer.num_parameters() == 8);
  Linear<double> no_bias(3, 2, rng, {.bias = false});
  CHECK(no_bias.num_parameters() == 6);
  CHECK_THROWS_WITH(layer.forward(t, t.constant(Md::Zero(4, 2))), Contains("linear: W is 2x3 but x is 4x2"));
}

TEST_CASE("every layer passes grad_check with respect to its parameters and input", "[layers][gradcheck]") {
  Rng rng(2);
  for (Activation hidden : {Activation::relu, Activation::leaky_relu, Activation::elu, Activation::sigmoid,
                            Activation::tanh, Activation::softplus, Activation::identity}) {
    Mlp<double> mlp({.sizes = {5, 7, 4, 3}, .hidden = hidden, .output = Activation::sigmoid}, rng);
    Md x = random(5, 6, rng);
    auto params = mlp.named_parameters();
    const auto result = grad_check_parameters([&](Tape<double>& t) { return mlp.forward(t, t.constant(x)); }, params);
    INFO(to_string(hidden) << ": " << result.message());
    CHECK(result.max_rel_error < 1e-6);
    // And with respect to the input.
    const auto wrt_x = grad_check([&](Tape<double>& t, auto v) { return mlp.forward(t, v[0]); }, {x});
    INFO(wrt_x.message());
    CHECK(wrt_x.max_rel_error < 1e-6);
  }
}

TEST_CASE("Sequential chains modules and names children by position", "[layers][gradcheck]") {
  Rng rng(3);
  Sequential<double> seq;
  seq.emplace<Linear<double>>(4, 6, rng);
  seq.emplace<Tanh<double>>();
  seq.emplace<Linear<double>>(6, 2, rng, LinearOptions{.init = Init::glorot_normal()});
  seq.emplace<LeakyReLU<double>>(0.2);
  const auto named = seq.named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "0.weight");
  CHECK(named[3].first == "2.bias");
  CHECK(seq.num_parameters() == 4 * 6 + 6 + 6 * 2 + 2);
  const Md x = random(4, 3, rng);
  const auto result = grad_check_parameters([&](Tape<double>& t) { return seq.forward(t, t.constant(x)); }, named);
  INFO(result.message());
  CHECK(result.max_rel_error < 1e-6);
}

TEST_CASE("train and eval reach every child", "[layers]") {
  Rng rng(4);
  Sequential<float> seq;
  auto& inner = seq.emplace<Mlp<float>>(MlpOptions{.sizes = {2, 2}}, rng);
  CHECK(inner.is_training());
  seq.eval();
  CHECK_FALSE(inner.is_training());
  CHECK_FALSE(inner.layer(0).is_training());
  seq.train();
  CHECK(inner.layer(0).is_training());
}

TEST_CASE("init policies draw with the spread their formulas promise", "[layers]") {
  Rng rng(5);
  const Index in = 400, out = 300;
  const auto spread = [&](Init init) {
    Md w(out, in);
    init.apply(w, in, out, rng);
    return std::sqrt(w.squaredNorm() / double(w.size()));
  };
  // Uniform on (-a, a) has standard deviation a / sqrt(3).
  CHECK(spread(Init::glorot_uniform()) == Approx(std::sqrt(6.0 / 700) / std::sqrt(3.0)).epsilon(0.02));
  CHECK(spread(Init::glorot_normal()) == Approx(std::sqrt(2.0 / 700)).epsilon(0.02));
  CHECK(spread(Init::he_uniform()) == Approx(std::sqrt(6.0 / 400) / std::sqrt(3.0)).epsilon(0.02));
  CHECK(spread(Init::he_normal()) == Approx(std::sqrt(2.0 / 400)).epsilon(0.02));
  CHECK(spread(Init::lecun_normal()) == Approx(std::sqrt(1.0 / 400)).epsilon(0.02));
  CHECK(spread(Init::uniform_fan_in()) == Approx(1 / std::sqrt(400.0) / std::sqrt(3.0)).epsilon(0.02));
  CHECK(spread(Init::normal(0.3)) == Approx(0.3).epsilon(0.02));
  CHECK(spread(Init::zeros()) == 0.0);
  // Same seed, same weights.
  Rng a(9), b(9);
  CHECK(Linear<float>(5, 4, a).weight().value == Linear<float>(5, 4, b).weight().value);
}

TEST_CASE("activation names parse and unknown ones are refused", "[layers]") {
  CHECK(parse_activation("tanh") == Activation::tanh);
  CHECK_THROWS_WITH(parse_activation("swish"), Contains("unknown activation 'swish'"));
}
