#pragma once
/// @file
/// `DiagonalGaussian`: N(mean, diag(exp(logvar))), one per column of its parameters. The VAE's
/// posterior q(z | x) over a batch, the prior, and the target or approximation of a divergence
/// are all this one type.

#include <string>

#include "latent/autodiff/ops/fused.hpp"
#include "latent/autodiff/ops/noise.hpp"
#include "latent/autodiff/ops/shape.hpp"
#include "latent/distributions/distribution.hpp"

namespace latent::inline v0 {

/// B diagonal Gaussians over R^D, N(mean_j, diag(exp(logvar_j))) for column j of the D x B
/// Vars `mean` and `logvar` (B = 1: a single distribution). Draws and points come k per
/// distribution, k >= 1, laid out as `repeat_cols` lays them out: column j k + l is the l-th of
/// distribution j, so `reshape(row, k, B)` regroups per-draw values per distribution. A cheap
/// view of Vars recorded for this step: make its parameters constants to hold it fixed, or
/// `Parameter::on` leaves (or a network's output) to learn it.
template <class S>
class DiagonalGaussian {
 public:
  /// The scalar type of the Vars.
  using Scalar = S;

  /// Throws `ShapeError` unless mean and logvar have the same shape and lie on one tape.
  DiagonalGaussian(Var<S> mean, Var<S> logvar) : mean_(mean), logvar_(logvar) {
    latent::detail::require_same_tape("DiagonalGaussian", mean, logvar);
    latent::detail::require_shapes(logvar.rows() == mean.rows() && logvar.cols() == mean.cols(), "DiagonalGaussian",
                                   "mean", mean, "logvar", logvar, " (one column per distribution)");
  }

  /// D, the dimension of a point.
  [[nodiscard]] Index dim() const noexcept { return mean_.rows(); }
  /// B, the number of distributions.
  [[nodiscard]] Index batch() const noexcept { return mean_.cols(); }
  /// The means, D x B.
  [[nodiscard]] Var<S> mean() const noexcept { return mean_; }
  /// The log-variances, D x B.
  [[nodiscard]] Var<S> logvar() const noexcept { return logvar_; }

  /// n reparameterized draws, n / B per distribution (see the class comment for the layout),
  /// eps ~ N(0, I) from `rng`: D x n. Throws `ShapeError` unless n is a positive multiple of B.
  [[nodiscard]] Var<S> sample(Index n, Rng& rng) const {
    detail::require_samples("DiagonalGaussian::sample", n);
    draws_per_distribution("DiagonalGaussian::sample", n);
    return reparameterize(standard_normal(mean_.tape(), dim(), n, rng));
  }

  /// The reparameterization trick with noise of the caller's, `z = mean + exp(logvar / 2) .* eps`
  /// for eps (D x n, n / B per distribution): z is distributed as a draw when eps ~ N(0, I), and
  /// gradients flow to the mean and log-variance.
  [[nodiscard]] Var<S> reparameterize(Var<S> eps) const {
    const Index k = draws_per_distribution("DiagonalGaussian::reparameterize", eps.cols());
    return latent::reparameterize(per_draw(mean_, k), per_draw(logvar_, k), eps);
  }

  /// log N(x_c; mean, diag(exp(logvar))) for each column c of x (D x n, n / B per
  /// distribution): 1 x n, in nats.
  [[nodiscard]] Var<S> log_prob(Var<S> x) const {
    const Index k = draws_per_distribution("DiagonalGaussian::log_prob", x.cols());
    return detail::gaussian_log_density(x, per_draw(mean_, k), per_draw(logvar_, k));
  }

  /// KL(this || N(0, I)) per distribution, in closed form: `1/2 sum_i (mu_i^2 + exp(lv_i) - 1 -
  /// lv_i)`, 1 x B, in nats. The VAE's regulariser.
  [[nodiscard]] Var<S> kl_to_standard_normal() const { return detail::gaussian_kl(mean_, logvar_); }

  /// KL(this || p) per distribution against diagonal Gaussians p of the same shape, in closed
  /// form: `1/2 sum_i [lv_p - lv + (exp(lv) + (mu - mu_p)^2) exp(-lv_p) - 1]`, 1 x B, in nats.
  [[nodiscard]] Var<S> kl(const DiagonalGaussian& p) const {
    latent::detail::require_shapes(p.dim() == dim() && p.batch() == batch(), "DiagonalGaussian::kl", "q", mean_, "p",
                                   p.mean_);
    const Var<S> ratio = mul(exp(logvar_) + square(mean_ - p.mean_), exp(-p.logvar_));
    return scale(colwise_sum(shift(p.logvar_ - logvar_ + ratio, S(-1))), S(0.5));
  }

 private:
  // k = n / B, the draws per distribution; throws unless B divides n.
  Index draws_per_distribution(const char* op, Index n) const {
    if (n < 1 || n % batch() != 0)
      throw ShapeError(op, std::to_string(n) + " columns for " + std::to_string(batch()) +
                               " distributions: needs a positive multiple of " + std::to_string(batch()));
    return n / batch();
  }
  static Var<S> per_draw(Var<S> v, Index k) { return k == 1 ? v : repeat_cols(v, k); }

  Var<S> mean_, logvar_;
};

}  // namespace latent::inline v0
