#include <latent/autodiff/grad_check.hpp>
#include <latent/distributions.hpp>
#include <latent/losses.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

namespace {

namespace L = latent::losses;
using latent::Index;
using latent::Reduction;
using Md = Eigen::MatrixXd;
using Col = Eigen::VectorXd;

// Two fixed diagonal Gaussians in D = 2; q is wider than p in both dimensions, so every
// estimator below, alpha = 2 from q included, has a finite variance.
const Col mp = (Col(2) << 0.3, -0.5).finished(), lvp = (Col(2) << 0.2, -0.4).finished();
const Col mq = (Col(2) << -0.2, 0.1).finished(), lvq = (Col(2) << 0.5, 0.1).finished();

// Closed form of int p^a q^(1-a) dx for diagonal Gaussians p = N(m1, s1^2), q = N(m2, s2^2): the
// exponent is quadratic in x with precision a / s1^2 + (1 - a) / s2^2 = v / (s1^2 s2^2),
// v = a s2^2 + (1 - a) s1^2 (> 0 here), and completing the square gives, per dimension,
//   sqrt(s1^(2(1-a)) s2^(2a) / v) exp(-a (1 - a) (m1 - m2)^2 / (2 v)).
// Then D_a(p || q) = (1 - int p^a q^(1-a)) / (a (1 - a)), since int p = int q = 1.
double alpha_closed_form(double a) {
  double log_z = 0;
  for (Index i = 0; i < 2; ++i) {
    const double v = a * std::exp(lvq(i)) + (1 - a) * std::exp(lvp(i)), d = mp(i) - mq(i);
    log_z += 0.5 * ((1 - a) * lvp(i) + a * lvq(i) - std::log(v)) - a * (1 - a) * d * d / (2 * v);
  }
  return -std::expm1(log_z) / (a * (1 - a));
}

// KL(a || b) between the two Gaussians from the library's closed form.
double kl_closed_form(const Col& ma, const Col& lva, const Col& mb, const Col& lvb) {
  latent::Tape<double> t;
  const latent::DiagonalGaussian<double> a(t.constant(ma), t.constant(lva)), b(t.constant(mb), t.constant(lvb));
  return sum(a.kl(b)).item();
}

struct Estimate {
  double mean, standard_error;
};

// The mean of per-sample terms (a 1 x n row) and its standard error.
Estimate summarise(latent::Var<double> terms) {
  const Eigen::ArrayXd x = terms.value().row(0).transpose().array();
  const double m = x.mean();
  return {m, std::sqrt((x - m).square().sum() / double(x.size() - 1) / double(x.size()))};
}

// The estimate is within 5 standard errors of the truth, and the standard error is small
// enough for that to mean something.
void check_estimate(const Estimate& e, double truth) {
  INFO("estimate " << e.mean << " +- " << e.standard_error << ", closed form " << truth);
  CHECK(std::abs(e.mean - truth) < 5 * e.standard_error);
  CHECK(e.standard_error < 0.02 * std::max(1.0, std::abs(truth)));
}

constexpr Index n = 40000;

}  // namespace

TEST_CASE("Gaussian log density and sampling", "[losses]") {
  latent::Tape<double> t;
  const latent::DiagonalGaussian<double> p(t.constant(mp), t.constant(lvp));
  const Md x = (Md(2, 2) << 0.1, -1.5, 2.0, 0.7).finished();
  const Md lp = p.log_prob(t.constant(x)).value();
  for (Index j = 0; j < 2; ++j) {
    double direct = 0;
    for (Index i = 0; i < 2; ++i) {
      const double var = std::exp(lvp(i)), d = x(i, j) - mp(i);
      direct += -0.5 * d * d / var - 0.5 * std::log(2 * std::numbers::pi * var);
    }
    CHECK(lp(0, j) == Approx(direct).epsilon(1e-13));
  }
  latent::Rng rng(3);
  const Md z = p.sample(n, rng).value();
  CHECK(z.rows() == 2);
  const Col mean = z.rowwise().mean();
  const Col var = (z.colwise() - mean).array().square().rowwise().sum() / double(n - 1);
  for (Index i = 0; i < 2; ++i) {
    CHECK(std::abs(mean(i) - mp(i)) < 5 * std::sqrt(std::exp(lvp(i)) / n));
    CHECK(var(i) == Approx(std::exp(lvp(i))).epsilon(0.03));
  }
  CHECK_THROWS_AS(latent::DiagonalGaussian<double>(t.constant(mp), t.constant(Md::Zero(3, 1))), latent::ShapeError);
  CHECK_THROWS_AS(p.sample(0, rng), latent::ShapeError);
}

TEST_CASE("mixture log density matches a direct computation, and stays finite far away", "[losses]") {
  latent::Rng rng(5);
  Md logits(3, 1), means(2, 3), logvars(2, 3);
  rng.fill_uniform(logits, -1, 1);
  rng.fill_uniform(means, -2, 2);
  rng.fill_uniform(logvars, -1, 0.5);
  Md x(2, 5);
  rng.fill_uniform(x, -3, 3);
  x.col(4) << 600, -450;  // every component density underflows to 0 here
  latent::Tape<double> t;
  const latent::GaussianMixture<double> p(t.constant(logits), t.constant(means), t.constant(logvars));
  const Md lp = p.log_prob(t.constant(x)).value();

  const Col w = logits.array().exp() / logits.array().exp().sum();
  for (Index j = 0; j < x.cols(); ++j) {
    // log w_k + log N(x; m_k, diag(exp(lv_k))), then the sum over k directly and in log space.
    Col log_terms(3);
    for (Index k = 0; k < 3; ++k) {
      log_terms(k) = std::log(w(k));
      for (Index i = 0; i < 2; ++i) {
        const double d = x(i, j) - means(i, k);
        log_terms(k) -= 0.5 * (d * d * std::exp(-logvars(i, k)) + logvars(i, k) + std::log(2 * std::numbers::pi));
      }
    }
    double density = 0;  // std::exp, not Eigen's vectorised exp, which saturates near e^-709
    for (Index k = 0; k < 3; ++k) density += std::exp(log_terms(k));
    const double direct = std::log(density);
    if (j < 4) {
      CHECK(lp(0, j) == Approx(direct).epsilon(1e-12));
    } else {
      CHECK(direct == -INFINITY);
      const double top = log_terms.maxCoeff();
      CHECK(lp(0, j) == Approx(top + std::log((log_terms.array() - top).exp().sum())).epsilon(1e-12));
    }
  }

  // One component is a Gaussian.
  const latent::GaussianMixture<double> one(t.constant(Md::Constant(1, 1, 0.7)), t.constant(mp), t.constant(lvp));
  const latent::DiagonalGaussian<double> g(t.constant(mp), t.constant(lvp));
  CHECK((one.log_prob(t.constant(x)).value() - g.log_prob(t.constant(x)).value()).cwiseAbs().maxCoeff() < 1e-12);

  // Draws have the mixture's mean sum_k w_k m_k.
  const Md z = p.sample(n, rng).value();
  const Col expected = means * w;
  const Col mean = z.rowwise().mean();
  const Col sd = ((z.colwise() - mean).array().square().rowwise().sum() / double(n - 1)).sqrt();
  for (Index i = 0; i < 2; ++i) CHECK(std::abs(mean(i) - expected(i)) < 5 * sd(i) / std::sqrt(double(n)));
  CHECK_THROWS_AS(latent::GaussianMixture<double>(t.constant(logits), t.constant(means), t.constant(Md::Zero(2, 2))),
                  latent::ShapeError);
}

TEST_CASE("forward and reverse KL estimators match the closed form", "[losses]") {
  latent::Tape<double> t;
  const latent::DiagonalGaussian<double> p(t.constant(mp), t.constant(lvp)), q(t.constant(mq), t.constant(lvq));
  latent::Rng rng(11);
  check_estimate(summarise(L::forward_kl(p, q, n, rng, Reduction::none)), kl_closed_form(mp, lvp, mq, lvq));
  check_estimate(summarise(L::reverse_kl(p, q, n, rng, Reduction::none)), kl_closed_form(mq, lvq, mp, lvp));
  CHECK(L::forward_kl(p, q, 100, rng).rows() == 1);
}

TEST_CASE("alpha-divergence estimator matches the Gaussian closed form", "[losses]") {
  latent::Tape<double> t;
  const latent::DiagonalGaussian<double> p(t.constant(mp), t.constant(lvp)), q(t.constant(mq), t.constant(lvq));
  latent::Rng rng(13);
  for (double a : {-0.5, 0.25, 0.5, 0.75, 2.0}) {
    INFO("alpha " << a << " from q");
    check_estimate(summarise(L::alpha_divergence(p, q, a, n, rng, L::Proposal::q, Reduction::none)),
                   alpha_closed_form(a));
  }
  for (double a : {0.5, 2.0}) {
    INFO("alpha " << a << " from p");
    check_estimate(summarise(L::alpha_divergence(p, q, a, n, rng, L::Proposal::p, Reduction::none)),
                   alpha_closed_form(a));
  }
  CHECK_THROWS_AS(L::alpha_divergence(p, q, NAN, 10, rng), latent::NumericError);
}

TEST_CASE("alpha-divergence tends to forward KL as alpha -> 1 and reverse KL as alpha -> 0", "[losses]") {
  const double forward = kl_closed_form(mp, lvp, mq, lvq), reverse = kl_closed_form(mq, lvq, mp, lvp);
  // The closed form: D_a = KL + O(a) at each end.
  for (double e : {1e-2, 1e-3, 1e-4}) {
    CHECK(std::abs(alpha_closed_form(1 - e) - forward) < 10 * e);
    CHECK(std::abs(alpha_closed_form(e) - reverse) < 10 * e);
  }
  // The estimator is continuous at both ends (same draws) and its limits estimate the KLs.
  latent::Tape<double> t;
  const latent::DiagonalGaussian<double> p(t.constant(mp), t.constant(lvp)), q(t.constant(mq), t.constant(lvq));
  const auto estimate = [&](double a) {
    latent::Rng rng(17);
    return L::alpha_divergence(p, q, a, n, rng, L::Proposal::q, Reduction::none);
  };
  CHECK(estimate(1e-7).value().mean() == Approx(estimate(0).value().mean()).epsilon(1e-6));
  CHECK(estimate(1 - 1e-7).value().mean() == Approx(estimate(1).value().mean()).epsilon(1e-6));
  check_estimate(summarise(estimate(0)), reverse);
  check_estimate(summarise(estimate(1)), forward);
}

TEST_CASE("divergence estimators pass grad_check with fixed noise", "[losses][gradcheck]") {
  // p: a 3-component mixture in D = 2 (inputs 0-2), q: a Gaussian (inputs 3-4). The seeded Rng
  // inside makes every evaluation draw the same noise and the same mixture components.
  latent::Rng init(19);
  std::vector<Md> inputs = {Md(3, 1), Md(2, 3), Md(2, 3), Md(2, 1), Md(2, 1)};
  for (auto& m : inputs) init.fill_uniform(m, -0.8, 0.8);
  const auto check = [&](const char* label, auto estimator) {
    const auto result = latent::grad_check(
        [&](latent::Tape<double>&, std::span<const latent::Var<double>> v) {
          const latent::GaussianMixture<double> p(v[0], v[1], v[2]);
          const latent::DiagonalGaussian<double> q(v[3], v[4]);
          latent::Rng rng(23);
          return estimator(p, q, rng);
        },
        inputs);
    INFO(label << ": " << result.message());
    CHECK(result.max_rel_error < 1e-6);
  };
  check("forward_kl", [](const auto& p, const auto& q, auto& rng) { return L::forward_kl(p, q, 8, rng); });
  check("reverse_kl", [](const auto& p, const auto& q, auto& rng) { return L::reverse_kl(p, q, 8, rng); });
  for (double a : {0.0, 0.5, 1.0, 2.0}) {
    check("alpha from q",
          [a](const auto& p, const auto& q, auto& rng) { return L::alpha_divergence(p, q, a, 8, rng); });
    check("alpha from p", [a](const auto& p, const auto& q, auto& rng) {
      return L::alpha_divergence(p, q, a, 8, rng, L::Proposal::p);
    });
  }
}
