#pragma once
/// @file
/// Observation models p(x | output) of decoders, as objects with `nll` (per example, on the
/// tape) and `mean` (of a plain output): `Bernoulli` on logits and `Gaussian` on a mean, with a
/// fixed or a learned variance. `Likelihood` names them for options and flags.

#include <cmath>
#include <numbers>
#include <optional>
#include <string>

#include "latent/autodiff/ops/fused.hpp"
#include "latent/losses/reconstruction.hpp"

namespace latent::inline v0 {

/// Which observation model a decoder's output parameterises.
enum class Likelihood {
  bernoulli,  ///< output = logits; x in [0, 1]; `Bernoulli`
  gaussian,   ///< output = mean; fixed sigma or a learned per-feature log-variance; `Gaussian`
};

/// "bernoulli" or "gaussian".
inline const char* to_string(Likelihood l) noexcept { return l == Likelihood::bernoulli ? "bernoulli" : "gaussian"; }

/// Parses "bernoulli" or "gaussian"; throws `Error` naming the value otherwise.
inline Likelihood parse_likelihood(const std::string& name) {
  if (name == "bernoulli") return Likelihood::bernoulli;
  if (name == "gaussian") return Likelihood::gaussian;
  throw Error("likelihood", "unknown likelihood '" + name + "' (expected bernoulli or gaussian)");
}

/// p(x | z) = prod_i Bernoulli(x_i; sigmoid(logit_i)), for x in [0, 1].
template <class S>
struct Bernoulli {
  /// -log p(x | logits) per column (1 x batch), in nats: BCE from logits,
  /// `-sum_i [x_i log sigmoid(z_i) + (1 - x_i) log(1 - sigmoid(z_i))]` computed as
  /// `max(z, 0) - z x + log1p(exp(-|z|))`, finite for every logit. x is not checked here (the
  /// models check it once per batch with `require_unit_interval`, before repeating it for L
  /// samples; `losses::bce_with_logits` checks and reduces).
  static Var<S> nll(Var<S> logits, Var<S> x) { return detail::bce_with_logits(logits, x); }

  /// E[x | logits] = sigmoid(logits), entrywise.
  template <class Derived>
  static Matrix<S> mean(const Eigen::MatrixBase<Derived>& logits) {
    return (1 + (-logits.array()).exp()).inverse().matrix();
  }
};

/// p(x | z) = N(x; mean, diag(sigma^2)): a fixed standard deviation `sigma`, or, when `logvar`
/// (features x 1, shared by every example) is given, a learned per-feature log-variance,
/// soft-clamped as `losses::gaussian_nll` says.
template <class S>
struct Gaussian {
  double sigma = 1.0;            ///< the fixed standard deviation (when `logvar` is absent)
  std::optional<Var<S>> logvar;  ///< a learned log-variance column, features x 1

  /// -log p(x | mean) per column (1 x batch), in nats. Fixed sigma:
  /// `sum_i (x_i - m_i)^2 / (2 sigma^2) + F log sigma + F/2 log 2 pi`; learned: `losses::gaussian_nll`.
  Var<S> nll(Var<S> mean, Var<S> x) const {
    if (logvar) return losses::gaussian_nll(x, mean, *logvar, Reduction::none);
    const double constant = double(x.rows()) * (std::log(sigma) + 0.5 * std::log(2 * std::numbers::pi));
    return shift(scale(squared_error(mean, x), S(0.5 / (sigma * sigma))), S(constant));
  }

  /// E[x | mean] = mean.
  template <class Derived>
  static Matrix<S> mean(const Eigen::MatrixBase<Derived>& output) {
    return output;
  }
};

}  // namespace latent::inline v0
