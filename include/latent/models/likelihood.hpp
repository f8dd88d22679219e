#pragma once
/// @file
/// The decoder's observation model p(x | z): Bernoulli on logits or Gaussian on a mean.

#include <cmath>
#include <numbers>
#include <optional>
#include <string>

#include "latent/autodiff/ops/activation.hpp"
#include "latent/autodiff/ops/fused.hpp"
#include "latent/losses/reconstruction.hpp"

namespace latent::inline v0 {

/// The distribution p(x | z) a decoder's output parameterises.
enum class Likelihood {
  bernoulli,  ///< output = logits; x in [0, 1]; -log p is BCE from logits
  gaussian,   ///< output = mean; fixed sigma or a learned per-feature log-variance
};

/// "bernoulli" or "gaussian".
inline const char* to_string(Likelihood l) noexcept { return l == Likelihood::bernoulli ? "bernoulli" : "gaussian"; }

/// Parses "bernoulli" or "gaussian"; throws `Error` naming the value otherwise.
inline Likelihood parse_likelihood(const std::string& name) {
  if (name == "bernoulli") return Likelihood::bernoulli;
  if (name == "gaussian") return Likelihood::gaussian;
  throw Error("likelihood", "unknown likelihood '" + name + "' (expected bernoulli or gaussian)");
}

/// -log p(x | output) per column (1 x batch), in nats, summed over features.
///
/// Bernoulli: BCE from logits. Gaussian with a fixed sigma (`logvar` absent):
/// `sum_i (x_i - m_i)^2 / (2 sigma^2) + F log sigma + F/2 log 2 pi`. Gaussian with a learned
/// per-feature log-variance column `logvar` (features x 1): `losses::gaussian_nll` (soft clamp).
/// Bernoulli targets are not checked here: the models check x once per batch
/// (`require_unit_interval`), before repeating it for L samples; do the same with data of your own.
template <class S>
Var<S> negative_log_likelihood(Likelihood likelihood, Var<S> output, Var<S> x, double sigma,
                               std::optional<Var<S>> logvar = std::nullopt) {
  if (likelihood == Likelihood::bernoulli) return bce_with_logits(output, x);
  if (logvar) return losses::gaussian_nll(x, output, *logvar, Reduction::none);
  const double constant = double(x.rows()) * (std::log(sigma) + 0.5 * std::log(2 * std::numbers::pi));
  return shift(scale(squared_error(output, x), S(0.5 / (sigma * sigma))), S(constant));
}

}  // namespace latent::inline v0
