#pragma once
/// @file
/// Closed-form KL divergences between diagonal Gaussians, per example, in nats.

#include "latent/autodiff/ops/fused.hpp"
#include "latent/losses/reduction.hpp"

namespace latent::inline v0::losses {

/// KL(N(mu, diag(exp(logvar))) || N(0, I)) = 1/2 sum_i (mu_i^2 + exp(lv_i) - 1 - lv_i), the VAE's
/// regulariser, reduced by `r`.
template <class S>
Var<S> gaussian_kl(Var<S> mu, Var<S> logvar, Reduction r = Reduction::mean) {
  return reduce(latent::gaussian_kl(mu, logvar), r);
}

/// KL(q || p) between diagonal Gaussians q = N(mu_q, exp(lv_q)) and p = N(mu_p, exp(lv_p)):
/// `1/2 sum_i [lv_p - lv_q + (exp(lv_q) + (mu_q - mu_p)^2) exp(-lv_p) - 1]`, reduced by `r`.
template <class S>
Var<S> gaussian_kl(Var<S> mu_q, Var<S> logvar_q, Var<S> mu_p, Var<S> logvar_p, Reduction r = Reduction::mean) {
  const Var<S> ratio = mul(exp(logvar_q) + square(mu_q - mu_p), exp(-logvar_p));
  const Var<S> terms = shift(logvar_p - logvar_q + ratio, S(-1));
  return reduce(scale(colwise_sum(terms), S(0.5)), r);
}

}  // namespace latent::inline v0::losses
