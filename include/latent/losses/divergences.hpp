#pragma once
/// @file
/// Monte Carlo divergences between two distributions on the tape (any `Distribution`, such as
/// `DiagonalGaussian` and `GaussianMixture` of `latent/distributions.hpp`): forward KL, reverse KL and the
/// alpha-divergence, each a 1x1 Var to minimise. p is the target, q the approximation, as in the lecture. Units: nats.
///
/// Every estimator is the mean of n per-sample terms; `Reduction::none` returns the 1 x n terms
/// themselves, whose standard deviation over sqrt(n) is the estimate's standard error.

#include <cmath>
#include <string>

#include "latent/autodiff/ops/elementwise.hpp"
#include "latent/distributions/distribution.hpp"
#include "latent/losses/reduction.hpp"

namespace latent::inline v0::losses {

/// Which distribution the samples of `alpha_divergence` come from.
enum class Proposal {
  q,  ///< the approximation: reparameterized draws, the variational setting (default)
  p,  ///< the target: needs a p that can sample; better when p has the heavier tails
};

namespace detail {

// expm1(u) = e^u - 1 without the cancellation of exp(u) - 1 near u = 0: d/du = out + 1.
struct Expm1Op {
  static constexpr const char* name = "expm1";
  template <class P>
  static P forward(const P& a, const P&) {
    return expm1(a);
  }
  template <class P>
  static P derivative(const P&, const P& out, const P&) {
    return out + P(1);
  }
};

template <class S>
Var<S> expm1(Var<S> u) {
  return latent::detail::unary<Expm1Op>(u);
}

// The lecture's integrand divided by q, f_a(w) = [a w + (1 - a) - w^a] / (a (1 - a)), at
// w = e^u, entrywise. It is written a expm1(u) - expm1(a u) over a (1 - a), which keeps its
// precision as a -> 0 or 1, and at the two ends is its limit:
//   a = 1: w log w - w + 1 = u e^u - expm1(u),     a = 0: w - 1 - log w = expm1(u) - u.
template <class S>
Var<S> alpha_integrand(Var<S> u, double a) {
  if (a == 1) return mul(u, exp(u)) - expm1(u);
  if (a == 0) return expm1(u) - u;
  return scale(scale(expm1(u), S(a)) - expm1(scale(u, S(a))), S(1 / (a * (1 - a))));
}

}  // namespace detail

/// KL(a || b) = E_a[log a(x) - log b(x)], estimated from n reparameterized draws x ~ a:
/// `1/n sum_j [log a(x_j) - log b(x_j)]`. Unbiased, variance Var_a[log a - log b] / n. The
/// gradient is unbiased too: it flows to b through log b and to a through its samples (for a
/// `GaussianMixture` a, not to its weights, whose discrete pick has no reparameterization).
template <Distribution A, Distribution B>
Var<typename A::Scalar> kl(const A& a, const B& b, Index samples, Rng& rng, Reduction r = Reduction::mean) {
  const Var<typename A::Scalar> x = a.sample(samples, rng);
  return reduce(a.log_prob(x) - b.log_prob(x), r);
}

/// The forward KL of an approximation q to a target p, KL(p || q) = E_p[log p - log q], from
/// n draws of p (`kl(p, q, ...)`). Mass-covering: q is penalised wherever p has mass q lacks.
template <Distribution P, Distribution Q>
Var<typename P::Scalar> forward_kl(const P& p, const Q& q, Index samples, Rng& rng, Reduction r = Reduction::mean) {
  return kl(p, q, samples, rng, r);
}

/// The reverse KL of an approximation q to a target p, KL(q || p) = E_q[log q - log p], from
/// n reparameterized draws of q (`kl(q, p, ...)`): the variational objective. Mode-seeking: q
/// is penalised wherever it puts mass p lacks, so it settles on one mode.
template <Distribution P, Distribution Q>
Var<typename P::Scalar> reverse_kl(const P& p, const Q& q, Index samples, Rng& rng, Reduction r = Reduction::mean) {
  return kl(q, p, samples, rng, r);
}

/// The alpha-divergence of the lecture (Minka 2005),
///   D_alpha(p || q) = int [alpha p + (1 - alpha) q - p^alpha q^(1 - alpha)] dx / (alpha (1 - alpha)),
/// for any real alpha; alpha -> 1 gives KL(p || q) (forward), alpha -> 0 gives KL(q || p)
/// (reverse), alpha = 1/2 is 4 (1 - int sqrt(p q)), four times the squared Hellinger distance.
///
/// Estimator. Dividing the integrand by the proposal turns the integral into an expectation of
/// one term per draw, f_alpha(w) = [alpha w + (1 - alpha) - w^alpha] / (alpha (1 - alpha)):
///   `Proposal::q`: D_alpha(p || q) = E_q[f_alpha(p / q)],
///   `Proposal::p`: D_alpha(p || q) = D_(1 - alpha)(q || p) = E_p[f_(1 - alpha)(q / p)],
/// averaged over n draws. Only the log ratio u = log p - log q is formed (densities that
/// underflow far in the tails never are), and f is evaluated as
/// [alpha expm1(u) - expm1(alpha u)] / (alpha (1 - alpha)), accurate as alpha nears 0 or 1.
/// alpha = 0 and 1 are allowed and give the limits of the same estimator:
/// E_q[(w - 1) - log w] and E_q[w log w - w + 1] (w = p / q), the reverse and forward KL
/// estimators plus the zero-mean control variate w - 1 (E_q[w] = 1); `reverse_kl` itself does
/// without it, and so without the E_q[w^2] < inf it needs.
///
/// Bias and variance: unbiased for normalised p and q, and so is its gradient (through the
/// reparameterized draws and both log densities). Every term is >= 0 (f_alpha is convex with
/// f_alpha(1) = f_alpha'(1) = 0), and the alpha w term is a control variate that makes the terms
/// O(u^2) when q is near p. The variance is finite when E[w^2] and E[w^(2 alpha)] are under the
/// proposal (for alpha = 2 from q, E_q[(p/q)^4] < inf). Sample from whichever of p and q has the
/// heavier tails: where the ratio to the proposal is unbounded, rare draws carry most of the
/// expectation, a typical estimate and its gradient miss them, and Adam stalls on the spikes.
/// A q fitted under alpha >= 1/2 covers p and is the wider one, so the default suits it.
template <Distribution P, Distribution Q>
Var<typename P::Scalar> alpha_divergence(const P& p, const Q& q, double alpha, Index samples, Rng& rng,
                                         Proposal from = Proposal::q, Reduction r = Reduction::mean) {
  if (!std::isfinite(alpha))
    throw NumericError("alpha_divergence", "alpha must be finite, got " + std::to_string(alpha));
  using S = typename P::Scalar;
  if (from == Proposal::q) {
    const Var<S> x = q.sample(samples, rng);
    return reduce(detail::alpha_integrand(p.log_prob(x) - q.log_prob(x), alpha), r);
  }
  const Var<S> x = p.sample(samples, rng);
  return reduce(detail::alpha_integrand(q.log_prob(x) - p.log_prob(x), 1 - alpha), r);
}

}  // namespace latent::inline v0::losses
