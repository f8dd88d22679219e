#include <latent/autodiff/grad_check.hpp>
#include <latent/distributions.hpp>
#include <latent/losses.hpp>

#include <catch2/catch.hpp>

#include <numbers>

#include "autodiff/gradcheck_helpers.hpp"

using namespace latent_test;
namespace L = latent::losses;
using latent::Reduction;

TEST_CASE("every loss passes grad_check", "[losses][gradcheck]") {
  const auto any2 = same_shape({Domain::any, Domain::any});
  check_on_all_shapes(
      "mse", [](auto&, auto v) { return L::mse(v[0], v[1], Reduction::none); }, any2);
  check_on_all_shapes(
      "bce_with_logits", [](auto&, auto v) { return L::bce_with_logits(v[0], v[1]); },
      same_shape({Domain::any, Domain::unit_interval}));
  check_on_all_shapes(
      "bce", [](auto&, auto v) { return L::bce(sigmoid(v[0]), v[1], Reduction::sum); },
      same_shape({Domain::any, Domain::unit_interval}));
  check_on_all_shapes(
      "gaussian_nll", [](auto&, auto v) { return L::gaussian_nll(v[0], v[1], v[2], Reduction::none); },
      same_shape({Domain::any, Domain::any, Domain::any}));
  check_on_all_shapes(
      "gaussian_nll shared logvar",
      [](auto&, auto v) { return L::gaussian_nll(v[0], v[1], slice_rows(rowwise_sum(v[2]), 0, v[2].rows())); },
      same_shape({Domain::any, Domain::any, Domain::any}));
  check_on_all_shapes(
      "gaussian_kl",
      [](auto&, auto v) { return latent::mean(latent::DiagonalGaussian(v[0], v[1]).kl_to_standard_normal()); }, any2);
  check_on_all_shapes(
      "gaussian_kl q||p",
      [](auto&, auto v) {
        return latent::DiagonalGaussian(v[0], v[1]).kl(latent::DiagonalGaussian(v[2], v[3]));
      },
      same_shape({Domain::any, Domain::any, Domain::any, Domain::any}));
  check_on_all_shapes(
      "l1_penalty", [](auto&, auto v) { return L::l1_penalty(v[0]); }, same_shape({Domain::away_from_zero}));
  check_on_all_shapes(
      "l2_penalty", [](auto&, auto v) { return L::l2_penalty(v[0], Reduction::sum); }, same_shape({Domain::any}));
  check_on_all_shapes(
      "kl_sparsity", [](auto&, auto v) { return L::kl_sparsity(sigmoid(v[0]), 0.05); }, same_shape({Domain::any}));
}

TEST_CASE("reductions: mean is per example, sum is total, none keeps the batch", "[losses]") {
  latent::Tape<double> t;
  const Md a = Md::Constant(3, 4, 2.0), b = Md::Zero(3, 4);
  CHECK(L::mse(t.constant(a), t.constant(b)).item() == Approx(12.0));  // 3 features x 4
  CHECK(L::mse(t.constant(a), t.constant(b), Reduction::sum).item() == Approx(48.0));
  CHECK(L::mse(t.constant(a), t.constant(b), Reduction::none).cols() == 4);
}

TEST_CASE("closed forms: Gaussian NLL and KL match their formulas", "[losses]") {
  latent::Rng rng(8);
  const Md x = random(4, 3, rng), mu = random(4, 3, rng), lv = random(4, 3, rng);
  const Md mq = random(4, 3, rng), lq = random(4, 3, rng);
  latent::Tape<double> t;
  const Md nll = L::gaussian_nll(t.constant(x), t.constant(mu), t.constant(lv), Reduction::none).value();
  const latent::DiagonalGaussian<double> q(t.constant(mq), t.constant(lq));
  const Md kl = q.kl(latent::DiagonalGaussian<double>(t.constant(mu), t.constant(lv))).value();
  const Md kl0 = q.kl_to_standard_normal().value();
  const Md kl_std =
      q.kl(latent::DiagonalGaussian<double>(t.constant(Md::Zero(4, 3)), t.constant(Md::Zero(4, 3)))).value();
  for (Index j = 0; j < 3; ++j) {
    double n = 0, k = 0;
    for (Index i = 0; i < 4; ++i) {
      // -log N(x; mu, s^2) = (x - mu)^2 / (2 s^2) + log s + log(2 pi) / 2, with log s^2 the soft
      // clamp of lv into (-8, 8): u = -8 + softplus(lv + 8), then 8 - softplus(8 - u).
      const auto softplus = [](double v) { return std::log1p(std::exp(v)); };
      const double clamped = 8 - softplus(8 - (-8 + softplus(lv(i, j) + 8)));
      const double s2 = std::exp(clamped);
      n += (x(i, j) - mu(i, j)) * (x(i, j) - mu(i, j)) / (2 * s2) + 0.5 * std::log(s2) +
           0.5 * std::log(2 * std::numbers::pi);
      // KL(N(a, s^2) || N(b, r^2)) = log(r / s) + (s^2 + (a - b)^2) / (2 r^2) - 1/2.
      const double q2 = std::exp(lq(i, j)), p2 = std::exp(lv(i, j));
      k += 0.5 * (lv(i, j) - lq(i, j)) + (q2 + (mq(i, j) - mu(i, j)) * (mq(i, j) - mu(i, j))) / (2 * p2) - 0.5;
    }
    CHECK(nll(0, j) == Approx(n).epsilon(1e-12));
    CHECK(kl(0, j) == Approx(k).epsilon(1e-12));
    CHECK(kl0(0, j) == Approx(kl_std(0, j)).epsilon(1e-12));  // to N(0, I) is the special case
  }
}

TEST_CASE("gaussian_nll stays finite for any log-variance", "[losses]") {
  latent::Tape<double> t;
  for (double lv : {-1e4, -50.0, 50.0, 1e4}) {
    const auto l =
        L::gaussian_nll(t.constant(Md::Ones(3, 2)), t.constant(Md::Zero(3, 2)), t.variable(Md::Constant(3, 2, lv)));
    CHECK(std::isfinite(l.item()));
  }
}

TEST_CASE("kl_sparsity is zero exactly at the target rate and positive elsewhere", "[losses]") {
  latent::Tape<double> t;
  CHECK(L::kl_sparsity(t.constant(Md::Constant(5, 8, 0.05)), 0.05).item() == Approx(0.0).margin(1e-12));
  CHECK(L::kl_sparsity(t.constant(Md::Constant(5, 8, 0.5)), 0.05).item() > 1.0);
  CHECK_THROWS_AS(L::kl_sparsity(t.constant(Md::Constant(5, 8, 0.5)), 1.5), latent::NumericError);
}

TEST_CASE("kl_sparsity away from rho is the sum over units of KL(rho || batch mean)", "[losses]") {
  // Hand values: a constant 0.5 on 5 units with rho = 0.05 is
  // 5 (0.05 log(0.05 / 0.5) + 0.95 log(0.95 / 0.5)) = 2.4731...
  latent::Tape<double> t;
  const double half = 5 * (0.05 * std::log(0.1) + 0.95 * std::log(1.9));
  CHECK(L::kl_sparsity(t.constant(Md::Constant(5, 8, 0.5)), 0.05).item() == Approx(half).epsilon(1e-12));
  // Units with different batch means, each entry different: the KL of each row's mean, summed.
  latent::Rng rng(41);
  const Md h = random(4, 6, rng, Domain::unit_interval);
  for (double rho : {0.05, 0.3, 0.9}) {
    double expected = 0;
    for (Index j = 0; j < h.rows(); ++j) {
      const double m = h.row(j).mean();
      expected += rho * std::log(rho / m) + (1 - rho) * std::log((1 - rho) / (1 - m));
    }
    INFO("rho " << rho);
    CHECK(L::kl_sparsity(t.constant(h), rho).item() == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("bce on probabilities agrees with bce_with_logits and stays finite at 0 and 1", "[losses]") {
  latent::Rng rng(6);
  const Md z = random(6, 5, rng), x = random(6, 5, rng, Domain::unit_interval);
  latent::Tape<double> t;
  const double a = L::bce_with_logits(t.constant(z), t.constant(x)).item();
  const double b = L::bce(sigmoid(t.constant(z)), t.constant(x)).item();
  CHECK(a == Approx(b).epsilon(1e-9));
  const double edge = L::bce(t.constant(Md::Zero(2, 1)), t.constant(Md::Ones(2, 1))).item();
  CHECK(std::isfinite(edge));
  CHECK(edge == Approx(-2 * std::log(1e-7)).epsilon(1e-6));
}
