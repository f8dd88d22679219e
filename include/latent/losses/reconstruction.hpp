#pragma once
/// @file
/// Reconstruction losses: negative log-likelihoods of the data under the decoder's output.
/// Units: summed over features, averaged over the batch (nats per example), unless a
/// `Reduction` says otherwise.

#include <numbers>

#include "latent/autodiff/ops/activation.hpp"
#include "latent/autodiff/ops/fused.hpp"
#include "latent/distributions/distribution.hpp"
#include "latent/losses/reduction.hpp"
#include "latent/losses/targets.hpp"

namespace latent::inline v0::losses {

/// Squared error `sum_i (prediction_i - target_i)^2` per example, reduced by `r`. This is the
/// Gaussian negative log-likelihood with variance 1/2, up to a constant; the lecture's MSE.
template <class S>
Var<S> mse(Var<S> prediction, Var<S> target, Reduction r = Reduction::mean) {
  return reduce(latent::squared_error(prediction, target), r);
}

/// Bernoulli negative log-likelihood from logits, in nats:
/// `-sum_i [x_i log sigmoid(z_i) + (1 - x_i) log(1 - sigmoid(z_i))]`, computed in the
/// log-sum-exp form `max(z, 0) - z x + log1p(exp(-|z|))`, finite for any logit. Throws `Error`
/// for a target outside [0, 1] (`require_unit_interval`).
template <class S>
Var<S> bce_with_logits(Var<S> logits, Var<S> target, Reduction r = Reduction::mean) {
  require_unit_interval("losses::bce_with_logits", target.value());
  return reduce(latent::detail::bce_with_logits(logits, target), r);
}

/// Bernoulli negative log-likelihood from probabilities p, in nats:
/// `-sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)]`. p is clamped to [1e-7, 1 - 1e-7] (gradient 0
/// where clamped) so the loss stays finite at p = 0 or 1; prefer `bce_with_logits`, which needs
/// no clamp. Throws `Error` for a target outside [0, 1].
template <class S>
Var<S> bce(Var<S> probability, Var<S> target, Reduction r = Reduction::mean) {
  require_unit_interval("losses::bce", target.value());
  const Var<S> p = clamp_probability(probability, S(1e-7));
  const Var<S> ll = mul(target, log(p)) + mul(shift(-target, S(1)), log(shift(-p, S(1))));
  return reduce(colwise_sum(-ll), r);
}

/// Options of `gaussian_nll`.
struct GaussianNllOptions {
  double min_logvar = -8.0;  ///< soft lower bound of the log-variance
  double max_logvar = 8.0;   ///< soft upper bound of the log-variance
};

/// Soft clamp into (lo, hi): `u = lo + softplus(v - lo)` bounds v from below, then
/// `hi - softplus(hi - u)` from above. Near the middle it is the identity; near a bound the
/// gradient fades smoothly instead of stopping as a hard clamp's would.
template <class S>
Var<S> soft_clamp(Var<S> v, double lo, double hi) {
  const Var<S> above = shift(softplus(shift(v, S(-lo))), S(lo));
  return shift(-softplus(shift(-above, S(hi))), S(hi));
}

/// Gaussian negative log-likelihood with a learned log-variance, in nats:
/// `1/2 sum_i [(x_i - mu_i)^2 exp(-lv_i) + lv_i + log 2 pi]`, with lv soft-clamped into
/// [min_logvar, max_logvar] so exp(-lv) can neither overflow nor vanish. `logvar` is shaped like
/// `mean`, or is a column (features x 1) shared by every example.
template <class S>
Var<S> gaussian_nll(Var<S> x, Var<S> mean, Var<S> logvar, Reduction r = Reduction::mean,
                    GaussianNllOptions options = {}) {
  Var<S> lv = soft_clamp(logvar, options.min_logvar, options.max_logvar);
  if (lv.cols() == 1 && mean.cols() != 1) lv = broadcast_cols(lv, mean.cols());
  return reduce(-latent::detail::gaussian_log_density(x, mean, lv), r);
}

}  // namespace latent::inline v0::losses
