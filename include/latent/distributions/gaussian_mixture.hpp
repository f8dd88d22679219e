#pragma once
/// @file
/// `GaussianMixture`: a weighted sum of diagonal Gaussians, the multimodal target of the
/// divergence examples.

#include "latent/autodiff/ops/fused.hpp"
#include "latent/autodiff/ops/linear.hpp"
#include "latent/autodiff/ops/noise.hpp"
#include "latent/autodiff/ops/shape.hpp"
#include "latent/distributions/distribution.hpp"

namespace latent::inline v0 {

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
    detail::require_same_tape("GaussianMixture", logits, means);
    detail::require_same_tape("GaussianMixture", logits, logvars);
    detail::require_shapes(means.rows() == logvars.rows() && means.cols() == logvars.cols(), "GaussianMixture", "means",
                           means, "logvars", logvars);
    detail::require_shapes(logits.cols() == 1 && logits.rows() == means.cols(), "GaussianMixture", "logits", logits,
                           "means", means, " (logits must be K x 1 for K columns of means)");
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
    const Var<S> eps = standard_normal(tape, dim(), n, rng);
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

}  // namespace latent::inline v0
