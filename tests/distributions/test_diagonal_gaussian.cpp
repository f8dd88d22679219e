#include <latent/autodiff/grad_check.hpp>
#include <latent/distributions.hpp>
#include <latent/losses.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

namespace {

using latent::DiagonalGaussian;
using latent::Index;
using Md = Eigen::MatrixXd;

Md uniform(Index rows, Index cols, latent::Rng& rng, double lo = -1, double hi = 1) {
  Md m(rows, cols);
  rng.fill_uniform(m, lo, hi);
  return m;
}

}  // namespace

TEST_CASE("a batched DiagonalGaussian draws k points per column, column j k + l from distribution j",
          "[distributions]") {
  latent::Rng init(5);
  const Md mean = uniform(3, 2, init), logvar = uniform(3, 2, init);
  latent::Tape<double> t;
  const DiagonalGaussian<double> q(t.constant(mean), t.constant(logvar));
  latent::Rng a(7), b(7);
  const Md z = q.sample(6, a).value();
  Md eps(3, 6);
  b.fill_normal(eps);  // the same stream, drawn by hand
  for (Index j = 0; j < 2; ++j)
    for (Index l = 0; l < 3; ++l)
      for (Index i = 0; i < 3; ++i)
        CHECK(z(i, j * 3 + l) == Approx(mean(i, j) + std::exp(logvar(i, j) / 2) * eps(i, j * 3 + l)).epsilon(1e-15));
}

TEST_CASE("a batched DiagonalGaussian scores each column under its own distribution", "[distributions]") {
  latent::Rng init(6);
  const Md mean = uniform(4, 3, init), logvar = uniform(4, 3, init), x = uniform(4, 6, init, -2, 2);
  latent::Tape<double> t;
  const Md lp = DiagonalGaussian<double>(t.constant(mean), t.constant(logvar)).log_prob(t.constant(x)).value();
  REQUIRE(lp.cols() == 6);
  for (Index c = 0; c < 6; ++c) {
    const Index j = c / 2;  // two points per distribution
    double expected = -2 * std::log(2 * std::numbers::pi);
    for (Index i = 0; i < 4; ++i) {
      const double d = x(i, c) - mean(i, j);
      expected -= 0.5 * (d * d * std::exp(-logvar(i, j)) + logvar(i, j));
    }
    CHECK(lp(0, c) == Approx(expected).epsilon(1e-13));
  }
}

TEST_CASE("KL to N(0, I) is the KL against a standard normal of the same shape", "[distributions]") {
  latent::Rng init(8);
  latent::Tape<double> t;
  const DiagonalGaussian<double> q(t.constant(uniform(5, 4, init)), t.constant(uniform(5, 4, init)));
  const DiagonalGaussian<double> standard(t.constant(Md::Zero(5, 4)), t.constant(Md::Zero(5, 4)));
  const Md closed = q.kl_to_standard_normal().value(), general = q.kl(standard).value();
  REQUIRE(closed.cols() == 4);
  for (Index j = 0; j < 4; ++j) CHECK(closed(0, j) == Approx(general(0, j)).epsilon(1e-13));
}

TEST_CASE("DiagonalGaussian: sampling, scoring and both KLs pass grad_check", "[distributions][gradcheck]") {
  latent::Rng init(9);
  const std::vector<Md> inputs = {uniform(3, 2, init), uniform(3, 2, init), uniform(3, 2, init), uniform(3, 2, init)};
  const auto result = latent::grad_check(
      [](latent::Tape<double>&, std::span<const latent::Var<double>> v) {
        const DiagonalGaussian<double> q(v[0], v[1]), p(v[2], v[3]);
        latent::Rng rng(3);
        const auto z = q.sample(4, rng);  // two draws per distribution
        return latent::sum(q.log_prob(z)) + latent::sum(q.kl(p)) + latent::sum(p.kl_to_standard_normal());
      },
      inputs);
  INFO(result.message());
  CHECK(result.max_rel_error < 1e-6);
}

TEST_CASE("DiagonalGaussian refuses draws or points that do not divide among its distributions", "[distributions]") {
  latent::Tape<double> t;
  const DiagonalGaussian<double> q(t.constant(Md::Zero(2, 2)), t.constant(Md::Zero(2, 2)));
  latent::Rng rng(1);
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(q.sample(5, rng), Contains("5 columns for 2 distributions: needs a positive multiple of 2"));
  CHECK_THROWS_AS(q.log_prob(t.constant(Md::Zero(2, 3))), latent::ShapeError);
  CHECK_THROWS_AS(DiagonalGaussian<double>(t.constant(Md::Zero(2, 2)), t.constant(Md::Zero(2, 1))), latent::ShapeError);
}

TEST_CASE("likelihood objects: Bernoulli and Gaussian nll match their formulas", "[distributions]") {
  latent::Rng init(10);
  const Md out = uniform(3, 2, init, -3, 3), x = uniform(3, 2, init, 0, 1), lv = uniform(3, 1, init);
  latent::Tape<double> t;
  const Md bernoulli = latent::Bernoulli<double>::nll(t.constant(out), t.constant(x)).value();
  const Md fixed =
      latent::Gaussian<double>{.sigma = 0.5, .logvar = std::nullopt}.nll(t.constant(out), t.constant(x)).value();
  const Md learned =
      latent::Gaussian<double>{.sigma = 1, .logvar = t.constant(lv)}.nll(t.constant(out), t.constant(x)).value();
  const Md learned_loss =
      latent::losses::gaussian_nll(t.constant(x), t.constant(out), t.constant(lv), latent::Reduction::none).value();
  const Md p = latent::Bernoulli<double>::mean(out);
  for (Index j = 0; j < 2; ++j) {
    double b = 0, g = 0;
    for (Index i = 0; i < 3; ++i) {
      CHECK(p(i, j) == Approx(1 / (1 + std::exp(-out(i, j)))));
      b -= x(i, j) * std::log(p(i, j)) + (1 - x(i, j)) * std::log(1 - p(i, j));
      const double d = x(i, j) - out(i, j);
      g += d * d / (2 * 0.25) + std::log(0.5) + 0.5 * std::log(2 * std::numbers::pi);
    }
    CHECK(bernoulli(0, j) == Approx(b).epsilon(1e-12));
    CHECK(fixed(0, j) == Approx(g).epsilon(1e-12));
    CHECK(learned(0, j) == learned_loss(0, j));
  }
  CHECK(latent::Gaussian<double>::mean(out) == out);
}
