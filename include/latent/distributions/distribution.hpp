#pragma once
/// @file
/// What latent calls a distribution over R^D on the tape, and the one diagonal-Gaussian log
/// density every Gaussian in the library (`DiagonalGaussian`, `GaussianMixture`,
/// `losses::gaussian_nll`) is scored with.

#include <cmath>
#include <concepts>
#include <numbers>
#include <string>

#include "latent/autodiff/ops/elementwise.hpp"
#include "latent/autodiff/ops/reduce.hpp"
#include "latent/core/rng.hpp"

namespace latent::inline v0 {

/// A distribution over R^D whose parameters are Vars of one tape: `sample(n, rng)` returns D x n
/// reparameterized draws (one per column; gradients reach the parameters) and `log_prob(x)` the
/// 1 x n log densities of the columns of x, in nats. The divergence estimators take any two.
template <class Dist>
concept Distribution = requires(const Dist& d, Var<typename Dist::Scalar> x, Index n, Rng& rng) {
  { d.sample(n, rng) } -> std::same_as<Var<typename Dist::Scalar>>;
  { d.log_prob(x) } -> std::same_as<Var<typename Dist::Scalar>>;
  { d.dim() } -> std::same_as<Index>;
};

namespace detail {

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
}  // namespace latent::inline v0
