#pragma once
/// @file
/// Distributions on the tape, for the divergence estimators of `latent/losses/divergences.hpp`:
/// each one samples with the reparameterization trick (gradients flow to its parameters) and
/// scores points with its log density (also on the tape). A distribution is a cheap view of Vars
/// recorded for this step: make its parameters constants to hold it fixed, or `Parameter::on`
/// leaves to learn it.
///
/// They live in `losses/` because the divergences are their only user; a folder of their own
/// would be one more module to include for two small types.

#include <cmath>
#include <concepts>
#include <numbers>
#include <string>

#include "latent/autodiff/ops/elementwise.hpp"
#include "latent/autodiff/ops/fused.hpp"
#include "latent/autodiff/ops/linear.hpp"
#include "latent/autodiff/ops/reduce.hpp"
#include "latent/autodiff/ops/shape.hpp"
#include "latent/core/rng.hpp"

namespace latent::inline v0::losses {

/// What the divergence estimators need of a distribution over R^D: `sample(n, rng)` returns
/// D x n reparameterized draws (one per column) and `log_prob(x)` the 1 x n log densities of
/// the columns of x, in nats, both on the tape of its parameters.
template <class Dist>
concept Distribution = requires(const Dist& d, Var<typename Dist::Scalar> x, Index n, Rng& rng) {
  { d.sample(n, rng) } -> std::same_as<Var<typename Dist::Scalar>>;
  { d.log_prob(x) } -> std::same_as<Var<typename Dist::Scalar>>;
  { d.dim() } -> std::same_as<Index>;
};

namespace detail {

// A rows x cols constant of N(0, 1) draws, written straight into the tape's arena (no heap
// allocation per step).
template <class S>
Var<S> standard_normal(Tape<S>& tape, Index rows, Index cols, Rng& rng) {
  const Var<S> eps = tape.record("standard_normal", rows, cols);
  rng.fill_normal(tape.value_of(eps));
  return eps;
}

// log N(x_j; m_j, diag(exp(lv_j))) for each column j of same-shaped x, m, lv (D x n), 1 x n:
// -1/2 sum_i [(x_ij - m_ij)^2 exp(-lv_ij) + lv_ij] - D/2 log 2 pi. The difference is formed
// before squaring, so there is no cancellation between x^2 and m^2.
template <class S>
Var<S> gaussian_log_density(Var<S> x, Var<S> mean, Var<S> logvar) {
  const Var<S> terms = mul(square(x - mean), exp(-logvar)) + logvar;
  const S log_2pi = S(std::log(2 * std::numbers::pi));
  return shift(scale(colwise_sum(terms), S(-0.5)), S(-0.5) * log_2pi * S(x.rows()));
}

inline void require_samples(const char* op, Index n) {
  if (n < 1) throw ShapeError(op, "needs at least 1 sample, got " + std::to_string(n));
}

}  // namespace detail

/// N(mean, diag(exp(logvar))) over R^D: `mean` and `logvar` are D x 1 Vars.
template <class S>
class DiagonalGaussian {
 public:
  /// The scalar type of the Vars.
  using Scalar = S;

  /// Throws `ShapeError` unless mean and logvar are both D x 1 on one tape.
  DiagonalGaussian(Var<S> mean, Var<S> logvar) : mean_(mean), logvar_(logvar) {
    latent::detail::require_same_tape("DiagonalGaussian", mean, logvar);
    latent::detail::require_shapes(mean.cols() == 1 && logvar.rows() == mean.rows() && logvar.cols() == 1,
                                   "DiagonalGaussian", "mean", mean, "logvar", logvar, " (both must be D x 1)");
  }

  /// D, the dimension of a point.
  [[nodiscard]] Index dim() const noexcept { return mean_.rows(); }
  /// The mean, D x 1.
  [[nodiscard]] Var<S> mean() const noexcept { return mean_; }
  /// The log-variance, D x 1.
  [[nodiscard]] Var<S> logvar() const noexcept { return logvar_; }

  /// n draws z = mean + exp(logvar / 2) .* eps, eps ~ N(0, I) from `rng`: D x n.
  [[nodiscard]] Var<S> sample(Index n, Rng& rng) const {
    detail::require_samples("DiagonalGaussian::sample", n);
    const Var<S> eps = detail::standard_normal(mean_.tape(), dim(), n, rng);
    return reparameterize(broadcast_cols(mean_, n), broadcast_cols(logvar_, n), eps);
  }

  /// log N(x_j; mean, diag(exp(logvar))) for each column of x (D x n): 1 x n, in nats.
  [[nodiscard]] Var<S> log_prob(Var<S> x) const {
    return detail::gaussian_log_density(x, broadcast_cols(mean_, x.cols()), broadcast_cols(logvar_, x.cols()));
  }

 private:
  Var<S> mean_, logvar_;
};

/// A mixture of K diagonal Gaussians over R^D, p(x) = sum_k w_k N(x; m_k, diag(exp(lv_k))),
/// with weights w = softmax(logits). `logits` is K x 1 (for fixed weights w pass log w),
/// `means` and `logvars` are D x K (component k in column k).
template <class S>
class GaussianMixture {
 public:
  /// The scalar type of the Vars.
  using Scalar = S;

  /// Throws `ShapeError` unless logits is K x 1 and means, logvars are D x K, all on one tape.
  GaussianMixture(Var<S> logits, Var<S> means, Var<S> logvars) : logits_(logits), means_(means), logvars_(logvars) {
    latent::detail::require_same_tape("GaussianMixture", logits, means);
    latent::detail::require_same_tape("GaussianMixture", logits, logvars);
    latent::detail::require_shapes(means.rows() == logvars.rows() && means.cols() == logvars.cols(), "GaussianMixture",
                                   "means", means, "logvars", logvars);
    latent::detail::require_shapes(logits.cols() == 1 && logits.rows() == means.cols(), "GaussianMixture", "logits",
                                   logits, "means", means, " (logits must be K x 1 for K columns of means)");
  }

  /// D, the dimension of a point.
  [[nodiscard]] Index dim() const noexcept { return means_.rows(); }
  /// K, the number of components.
  [[nodiscard]] Index components() const noexcept { return means_.cols(); }

  /// n draws: component k with probability w_k (inverse CDF of one uniform from `rng`), then
  /// m_k + exp(lv_k / 2) .* eps. D x n. Gradients reach the means and log-variances (the pick is
  /// a one-hot GEMM); the discrete pick itself carries none to the logits.
  [[nodiscard]] Var<S> sample(Index n, Rng& rng) const {
    detail::require_samples("GaussianMixture::sample", n);
    Tape<S>& tape = means_.tape();
    const auto logits = logits_.value().col(0).array();
    const Eigen::Array<S, Eigen::Dynamic, 1> w = (logits - logits.maxCoeff()).exp();
    const S total = w.sum();
    const Var<S> pick = tape.record("mixture_pick", components(), n);
    auto one_hot = tape.value_of(pick);
    one_hot.setZero();
    for (Index j = 0; j < n; ++j) {
      S u = S(rng.uniform()) * total;
      Index k = 0;
      while (k + 1 < components() && u >= w(k)) u -= w(k++);
      one_hot(k, j) = S(1);
    }
    const Var<S> eps = detail::standard_normal(tape, dim(), n, rng);
    return reparameterize(matmul(means_, pick), matmul(logvars_, pick), eps);
  }

  /// log p(x_j) for each column of x (D x n): 1 x n, in nats, computed as
  /// `logsumexp_k [logits_k + log N(x_j; m_k, lv_k)] - logsumexp_k logits_k`, so it stays finite
  /// where every component density underflows.
  [[nodiscard]] Var<S> log_prob(Var<S> x) const {
    const Index n = x.cols(), k = components(), d = dim();
    // Column j K + k pairs point j with component k: x repeated K times against the means
    // (read as one D K column) repeated n times.
    const auto tiled = [&](Var<S> m) { return reshape(repeat_cols(reshape(m, d * k, 1), n), d, k * n); };
    const Var<S> log_components =
        reshape(detail::gaussian_log_density(repeat_cols(x, k), tiled(means_), tiled(logvars_)), k, n);
    return colwise_logsumexp(add_bias(log_components, logits_)) - broadcast_cols(colwise_logsumexp(logits_), n);
  }

 private:
  Var<S> logits_, means_, logvars_;
};

}  // namespace latent::inline v0::losses
