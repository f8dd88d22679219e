// The VAE's forward values, computed by hand from encode/decode and the same noise: grad_check
// cannot see a constant offset (iwae without -log k) or a mistake made alike in the forward and
// backward pass (recon divided by B instead of B L, free bits clamping the wrong KL).

#include <latent/models.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Cholesky>

#include <cmath>
#include <limits>
#include <numbers>

#include "autodiff/gradcheck_helpers.hpp"

using namespace latent;
using latent_test::Md;
using latent_test::random;

namespace {

constexpr double log_2pi = 1.8378770664093453;  // log(2 pi)

// -log p(x | p) of a Bernoulli with means p, per column (summed over features).
Md bernoulli_nll(const Md& x, const Md& p) {
  return -(x.array() * p.array().log() + (1 - x.array()) * (1 - p.array()).log()).colwise().sum();
}

// The columns of m, each repeated k times in a row: (m0, m0, .., m1, m1, ..), one block of k
// draws per example as the VAE lays them out.
Md repeat_each(const Md& m, Index k) {
  Md out(m.rows(), m.cols() * k);
  for (Index j = 0; j < m.cols(); ++j)
    for (Index l = 0; l < k; ++l) out.col(j * k + l) = m.col(j);
  return out;
}

// What a VAE whose encoder maps x to (mu, logvar) draws from `seed` for k samples per example:
// eps (D x B k) and z = mu + exp(logvar / 2) eps.
struct Draws {
  Md eps, z, logvar;
};
Draws draws(Vae<double>& vae, const Md& x, std::uint64_t seed, Index k) {
  auto [mu, lv] = vae.encode(x);
  Draws d;
  d.eps.resize(mu.rows(), mu.cols() * k);
  Rng(seed).fill_normal(d.eps);
  d.logvar = repeat_each(lv, k);
  d.z = repeat_each(mu, k).array() + (0.5 * d.logvar.array()).exp() * d.eps.array();
  return d;
}

// A small Bernoulli VAE with its encoder scaled up, so the codes and their KL differ clearly
// between examples and dimensions.
VaeOptions small() { return {.input = 7, .hidden = {6}, .latent = 4, .activation = Activation::tanh}; }
void spread(Vae<double>& vae) {
  for (auto& [name, p] : vae.encoder().named_parameters()) p->value *= 3.0;
}

}  // namespace

TEST_CASE("log_weights are log p(x | z) + log p(z) - log q(z | x), computed by hand", "[models][vae]") {
  Rng rng(31);
  auto vae = Vae<double>::mlp(small(), rng);
  spread(vae);
  const Md x = random(7, 5, rng, latent_test::Domain::unit_interval);
  const Index k = 3;
  Tape<double> t;
  Rng r(9);
  const Md lw = vae.log_weights(t, t.constant(x), r, k).value();
  REQUIRE(lw.rows() == k);
  REQUIRE(lw.cols() == 5);

  const Draws d = draws(vae, x, 9, k);
  const Index D = vae.latent();
  const Md log_px = -bernoulli_nll(repeat_each(x, k), vae.decode(d.z));
  const Md log_pz = -0.5 * d.z.colwise().squaredNorm().array() - 0.5 * double(D) * log_2pi;
  const Md log_q =
      -0.5 * d.eps.colwise().squaredNorm().array() - 0.5 * d.logvar.colwise().sum().array() - 0.5 * double(D) * log_2pi;
  for (Index j = 0; j < 5; ++j)
    for (Index l = 0; l < k; ++l) {
      const Index c = j * k + l;
      INFO("example " << j << " draw " << l);
      CHECK(lw(l, j) == Approx(log_px(c) + log_pz(c) - log_q(c)).epsilon(1e-10));
    }
}

TEST_CASE("iwae is minus the mean over examples of the log-mean-exp of the log weights (with -log k)",
          "[models][vae]") {
  Rng rng(32);
  auto vae = Vae<double>::mlp(small(), rng);
  spread(vae);
  const Md x = random(7, 4, rng, latent_test::Domain::unit_interval);
  for (Index k : {1, 2, 7}) {
    Tape<double> t;
    Rng a(5), b(5);
    const Md lw = vae.log_weights(t, t.constant(x), a, k).value();
    double expected = 0;
    for (Index j = 0; j < lw.cols(); ++j) {
      double mean_w = 0;  // (1/k) sum_l w_l, directly: the weights here are far from overflow
      for (Index l = 0; l < k; ++l) mean_w += std::exp(lw(l, j)) / double(k);
      expected -= std::log(mean_w) / double(lw.cols());
    }
    INFO("k = " << k);
    CHECK(vae.iwae(t, t.constant(x), b, k).item() == Approx(expected).epsilon(1e-10));
  }
}

TEST_CASE("ELBO with L samples: recon is the mean of -log p(x | z) over all B L draws", "[models][vae]") {
  Rng rng(33);
  auto vae = Vae<double>::mlp(small(), rng);
  spread(vae);
  const Index B = 5;
  const Md x = random(7, B, rng, latent_test::Domain::unit_interval);
  for (Index L : {1, 3}) {
    Tape<double> t;
    Rng r(12);
    const auto e = vae.elbo(t, t.constant(x), r, {.samples = L, .beta = 0.7});
    const Draws d = draws(vae, x, 12, L);
    const double recon = bernoulli_nll(repeat_each(x, L), vae.decode(d.z)).sum() / double(B * L);
    INFO("L = " << L);
    CHECK(e.recon.item() == Approx(recon).epsilon(1e-10));
    auto [mu, lv] = vae.encode(x);
    const double kl = 0.5 * (mu.array().square() + lv.array().exp() - 1 - lv.array()).sum() / double(B);
    CHECK(e.kl.item() == Approx(kl).epsilon(1e-10));
    CHECK(e.total.item() == Approx(recon + 0.7 * kl).epsilon(1e-10));
  }
}

TEST_CASE("free bits clamp each dimension's batch-mean KL, not the total and not each example", "[models][vae]") {
  Rng rng(34);
  auto vae = Vae<double>::mlp(small(), rng);
  spread(vae);
  const Index B = 6;
  const Md x = random(7, B, rng, latent_test::Domain::unit_interval);
  auto [mu, lv] = vae.encode(x);
  const Md kl = 0.5 * (mu.array().square() + lv.array().exp() - 1 - lv.array());  // D x B, per example and dim
  const Eigen::VectorXd kl_dim = kl.rowwise().mean();
  // lambda between the smallest and the largest dimension's KL, so the clamp bites on some only.
  Eigen::VectorXd sorted = kl_dim;
  std::sort(sorted.begin(), sorted.end());
  const double lambda = 0.5 * (sorted(1) + sorted(2));
  INFO("per-dimension KL " << kl_dim.transpose() << ", lambda " << lambda);

  const double right = kl_dim.array().max(lambda).sum();
  // What the plausible mistakes would give; the test only means something if each differs.
  const double total_clamped = std::max(kl_dim.sum(), lambda * double(vae.latent()));
  const double per_example = kl.array().max(lambda).rowwise().mean().sum();
  REQUIRE(std::abs(right - total_clamped) > 1e-3);
  REQUIRE(std::abs(right - per_example) > 1e-3);
  REQUIRE(std::abs(right - kl_dim.sum()) > 1e-3);

  const double beta = 0.4;
  Tape<double> t;
  Rng r(3);
  const auto e = vae.elbo(t, t.constant(x), r, {.beta = beta, .free_bits = lambda});
  CHECK(e.kl.item() == Approx(kl_dim.sum()).epsilon(1e-10));  // the reported KL is unclamped
  CHECK(e.total.item() == Approx(e.recon.item() + beta * right).epsilon(1e-10));
}

TEST_CASE("reconstruct decodes one draw z = mu + sigma eps from the caller's Rng, not the mean", "[models][vae]") {
  Rng rng(35);
  auto vae = Vae<double>::mlp(small(), rng);
  spread(vae);
  const Md x = random(7, 5, rng, latent_test::Domain::unit_interval);
  Rng r(21);
  const Md out = vae.reconstruct(x, r);
  const Draws d = draws(vae, x, 21, 1);
  CHECK(out.isApprox(vae.decode(d.z), 1e-12));
  auto [mu, lv] = vae.encode(x);
  CHECK_FALSE(out.isApprox(vae.decode(mu), 1e-3));  // the draw is not the mean
}

TEST_CASE("a conditional sample decodes z ~ N(0, I) beside the one-hot label it was given", "[models][vae]") {
  Rng rng(36);
  auto vae =
      Vae<double>::mlp({.input = 7, .hidden = {6}, .latent = 3, .activation = Activation::tanh, .classes = 3}, rng);
  for (int label : {0, 2}) {
    Rng r(22), same(22);
    const Md s = vae.sample(4, r, label);
    Md z(3, 4);
    same.fill_normal(z);
    const Md y = one_hot<double>(std::vector<int>(4, label), 3);
    INFO("label " << label);
    CHECK(s.isApprox(vae.decode(z, y), 1e-12));
    // Another label gives other images from the same z: the label reaches the decoder.
    const Md other = one_hot<double>(std::vector<int>(4, label == 0 ? 1 : 0), 3);
    CHECK_FALSE(s.isApprox(vae.decode(z, other), 1e-3));
  }
}

TEST_CASE("interpolation: linear steps evenly, spherical follows slerp, at every interior step", "[models][vae]") {
  Rng rng(37);
  auto vae = Vae<double>::mlp(small(), rng);
  Eigen::VectorXd a(4), b(4);
  a << 1.5, -0.5, 0.2, 1.0;
  b << -0.3, 1.2, 0.8, -1.1;
  const double omega = std::acos(a.dot(b) / (a.norm() * b.norm()));
  const Index steps = 5;
  Md linear(4, steps), spherical(4, steps);
  for (Index s = 0; s < steps; ++s) {
    const double t = double(s) / double(steps - 1);
    linear.col(s) = (1 - t) * a + t * b;
    spherical.col(s) = (std::sin((1 - t) * omega) * a + std::sin(t * omega) * b) / std::sin(omega);
  }
  // slerp keeps the path off the chord: its midpoint is longer than the linear one.
  REQUIRE(spherical.col(2).norm() > linear.col(2).norm() + 0.1);
  CHECK(vae.interpolate(a, b, steps, Interpolation::linear).isApprox(vae.decode(linear), 1e-12));
  CHECK(vae.interpolate(a, b, steps, Interpolation::spherical).isApprox(vae.decode(spherical), 1e-12));
}

TEST_CASE("active_units counts latent dimensions whose posterior mean varies by more than the threshold",
          "[models][vae]") {
  Rng rng(38);
  auto vae = Vae<double>::mlp({.input = 7, .hidden = {}, .latent = 4}, rng);
  // The head is linear from x to [mu; logvar]: zero the mu rows of dimensions 1 and 3 (mu
  // constant over the data: inactive), scale up those of 0 and 2.
  Parameter<double>* weight = nullptr;
  for (auto& [name, p] : vae.encoder().named_parameters())
    if (name == "head.weight") weight = p;
  REQUIRE(weight != nullptr);
  REQUIRE(weight->value.rows() == 8);
  weight->value.row(1).setZero();
  weight->value.row(3).setZero();
  weight->value.row(0) *= 4.0;
  weight->value.row(2) *= 4.0;
  const Md x = random(7, 50, rng, latent_test::Domain::unit_interval);
  const Md mu = vae.encode(x).first;
  const Eigen::VectorXd variance = (mu.colwise() - mu.rowwise().mean()).rowwise().squaredNorm() / 49.0;
  INFO("variance of each dimension's mean " << variance.transpose());
  REQUIRE(variance(0) > 0.02);
  REQUIRE(variance(2) > 0.02);
  REQUIRE(variance(1) < 1e-20);
  REQUIRE(variance(3) < 1e-20);
  CHECK(vae.active_units(x) == 2);
  // The threshold is on the variance: just above the smaller active one leaves one unit.
  CHECK(vae.active_units(x, std::min(variance(0), variance(2)) * 1.01) == 1);
  CHECK(vae.active_units(x, std::max(variance(0), variance(2)) * 1.01) == 0);
}

TEST_CASE("a NaN in the ELBO or the IWAE bound is a NumericError naming the term", "[models][vae]") {
  Rng rng(39);
  // Gaussian likelihood: the targets are not range-checked, so the NaN reaches the bound.
  auto vae = Vae<double>::mlp({.input = 7, .hidden = {6}, .latent = 3, .likelihood = Likelihood::gaussian}, rng);
  Md x = random(7, 4, rng);
  x(2, 1) = std::numeric_limits<double>::quiet_NaN();
  Tape<double> t;
  CHECK_THROWS_WITH(vae.elbo(t, t.constant(x), rng),
                    Catch::Matchers::Contains("elbo: the reconstruction term became NaN"));
  CHECK_THROWS_WITH(vae.iwae(t, t.constant(x), rng, 3),
                    Catch::Matchers::Contains("iwae: the importance-weighted bound became NaN"));
  x(2, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(vae.iwae(t, t.constant(x), rng, 3), NumericError);
}

TEST_CASE("log_likelihood in several passes (k = 5000 > max_columns) converges to the exact log p(x)",
          "[models][vae]") {
  // A linear-Gaussian decoder x = w z + b + sigma n with a 1-D z: p(x) = N(b, w w^T + sigma^2 I)
  // in closed form. The encoder is set to the true posterior's mean with 1.1 times its variance,
  // so the importance weights vary (relative variance 1.1 / sqrt(1.2) - 1 = 0.004) but stay tame:
  // with k = 5000 the estimate has sd about 0.001 nats around log p(x), however the draws are cut
  // into passes. A pass dropped, or -log of the pass size instead of -log k, is off by 0.2 nats
  // or more.
  const Index F = 3;
  const double sigma = 0.6;
  Rng rng(40);
  auto vae = Vae<double>::mlp(
      {.input = F, .hidden = {}, .latent = 1, .likelihood = Likelihood::gaussian, .sigma = sigma}, rng);
  Md w(F, 1), b(F, 1);
  w << 1.0, -0.5, 0.8;
  b << 0.2, 0.1, -0.3;
  auto& dec = dynamic_cast<Mlp<double>&>(vae.decoder().network()).layer(0);
  dec.weight().value = w;
  dec.bias().value = b;
  // Posterior of z given x: variance s2 = 1 / (1 + |w|^2 / sigma^2), mean s2 w^T (x - b) / sigma^2.
  const double s2 = 1.0 / (1.0 + w.squaredNorm() / (sigma * sigma));
  Parameter<double>*head_w = nullptr, *head_b = nullptr;
  for (auto& [name, p] : vae.encoder().named_parameters()) {
    if (name == "head.weight") head_w = p;
    if (name == "head.bias") head_b = p;
  }
  REQUIRE(head_w != nullptr);
  REQUIRE(head_b != nullptr);
  head_w->value.row(0) = s2 * w.transpose() / (sigma * sigma);
  head_w->value.row(1).setZero();
  head_b->value(0) = -(head_w->value.row(0) * b)(0);
  head_b->value(1) = std::log(1.1 * s2);

  Md x(F, 4);
  x << 0.5, -1.0, 1.2, 0.0,  //
      0.3, 0.4, -0.9, 0.1,   //
      -0.2, -1.1, 1.0, 0.5;
  const Md c = w * w.transpose() + sigma * sigma * Md::Identity(F, F);
  const Eigen::LLT<Md> llt(c);
  const double log_det = 2 * Eigen::MatrixXd(llt.matrixL()).diagonal().array().log().sum();
  for (Index max_columns : {Index(1) << 12, Index(1000), Index(7), Index(30000)}) {
    Rng r(41);
    const Eigen::VectorXd ll = vae.log_likelihood(x, 5000, r, {}, max_columns);
    for (Index j = 0; j < x.cols(); ++j) {
      const Md d = x.col(j) - b;
      const double exact = -0.5 * ((d.transpose() * llt.solve(d))(0) + log_det + double(F) * log_2pi);
      INFO("max_columns " << max_columns << ", example " << j);
      CHECK(ll(j) == Approx(exact).margin(5e-3));
    }
  }
}
