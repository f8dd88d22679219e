#pragma once
/// @file
/// Penalties Omega(z) of regularized and sparse autoencoders.

#include "latent/autodiff/ops/activation.hpp"
#include "latent/autodiff/ops/reduce.hpp"
#include "latent/losses/reduction.hpp"

namespace latent::inline v0::losses {

/// L1 penalty `sum_i |z_i|` per example, reduced by `r`: pushes codes or activities to exact
/// zeros (sparse autoencoder).
template <class S>
Var<S> l1_penalty(Var<S> z, Reduction r = Reduction::mean) {
  return reduce(colwise_sum(abs(z)), r);
}

/// L2 penalty `sum_i z_i^2` per example, reduced by `r`: keeps codes small (regularized
/// autoencoder).
template <class S>
Var<S> l2_penalty(Var<S> z, Reduction r = Reduction::mean) {
  return reduce(colwise_sum(square(z)), r);
}

/// KL sparsity of hidden activities `h` in (0, 1) (hidden x batch) towards a target rate rho:
/// `sum_j KL(rho || rho_hat_j) = sum_j [rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))]`
/// with `rho_hat_j` the batch mean of unit j. A property of the batch, so 1x1 (no reduction).
template <class S>
Var<S> kl_sparsity(Var<S> h, double rho) {
  if (!(rho > 0 && rho < 1))
    throw NumericError("kl_sparsity", "target rate rho must be in (0, 1), got " + std::to_string(rho));
  const Var<S> rho_hat = clamp_probability(scale(rowwise_sum(h), S(1) / S(h.cols())), S(1e-6));
  const Var<S> on = scale(log(rho_hat), S(-rho));
  const Var<S> off = scale(log(shift(-rho_hat, S(1))), S(-(1 - rho)));
  const S constant = S(rho * std::log(rho) + (1 - rho) * std::log(1 - rho)) * S(h.rows());
  return shift(sum(on + off), constant);
}

}  // namespace latent::inline v0::losses
