#pragma once
/// @file
/// Fused loss terms and the reparameterization trick: each one node, one pass forward, one back.
/// Every loss term here is per example (a 1 x batch row, summed over features); `mean` of it is
/// the loss in nats per example.

#include "latent/autodiff/ops/elementwise.hpp"

namespace latent::inline v0 {
/// Squared error per example, `sum_i (a_i - b_i)^2`: 1 x batch. Its batch mean is the MSE
/// loss in latent's units (summed over features, averaged over examples).
template <class S>
Var<S> squared_error(Var<S> a, Var<S> b) {
  detail::require_same_shape("squared_error", a, b);
  Tape<S>& t = a.tape();
  // l_j = sum_i (a - b)^2:  da += 2 g_j (a - b),  db -= 2 g_j (a - b).
  const Var<S> out = t.record("squared_error", 1, a.cols(), {a, b}, [a, b](Tape<S>& t, Var<S> out) {
    const S* g = t.adjoint_of(out).data();
    const auto scaled_difference = [g](S factor) {
      return [g, factor]<class P>(Index j, const P& x, const P& y) { return (x - y) * P(factor * g[j]); };
    };
    t.accumulate_column_entries(a, scaled_difference(2), a.value(), b.value());
    t.accumulate_column_entries(b, scaled_difference(-2), a.value(), b.value());
  });
  detail::column_sums(
      t.value_of(out).data(), a.rows(), a.cols(),
      []<class P>(const P& x, const P& y) {
        const P d = x - y;
        return d * d;
      },
      a.value().data(), b.value().data());
  t.finish(out);
  return out;
}

/// The reparameterization trick: `z = mu + exp(logvar / 2) .* eps` with eps ~ N(0, I) drawn by
/// the caller (usually a constant), so z ~ N(mu, diag(exp(logvar))) and gradients flow to mu and
/// logvar. Shapes all equal.
template <class S>
Var<S> reparameterize(Var<S> mu, Var<S> logvar, Var<S> eps) {
  detail::require_shapes(mu.rows() == logvar.rows() && mu.cols() == logvar.cols(), "reparameterize", "mu", mu, "logvar",
                         logvar);
  detail::require_shapes(mu.rows() == eps.rows() && mu.cols() == eps.cols(), "reparameterize", "mu", mu, "eps", eps);
  Tape<S>& t = mu.tape();
  // z = mu + exp(lv / 2) eps:  dmu += G,  dlv += G (z - mu) / 2,  deps += G exp(lv / 2).
  const Var<S> z =
      t.record("reparameterize", mu.rows(), mu.cols(), {mu, logvar, eps}, [mu, lv = logvar, eps](Tape<S>& t, Var<S> z) {
        const auto g = t.adjoint_of(z);
        t.accumulate(mu, g);
        t.accumulate_entries(
            lv, []<class P>(const P& gi, const P& zi, const P& m) { return gi * (zi - m) * P(0.5); }, g, z.value(),
            mu.value());
        t.accumulate_entries(
            eps, []<class P>(const P& gi, const P& l) { return gi * exp(l * P(0.5)); }, g, lv.value());
      });
  detail::map_entries(
      t.value_of(z).data(), z.rows() * z.cols(), false,
      []<class P>(const P& m, const P& l, const P& e) { return m + exp(l * P(0.5)) * e; }, mu.value().data(),
      logvar.value().data(), eps.value().data());
  t.finish(z);
  return z;
}

// The two fused likelihood terms have one public name each: `Bernoulli<S>::nll` and
// `DiagonalGaussian::kl_to_standard_normal` (distributions/).
namespace detail {

/// Bernoulli negative log-likelihood of targets `x` in [0, 1] under logits `z`, per example:
/// `-sum_i [x_i log sigmoid(z_i) + (1 - x_i) log(1 - sigmoid(z_i))]`, computed as
/// `max(z, 0) - z x + log1p(exp(-|z|))`, finite for every logit. Returns 1 x batch, in nats.
template <class S>
Var<S> bce_with_logits(Var<S> logits, Var<S> targets) {
  detail::require_shapes(logits.rows() == targets.rows() && logits.cols() == targets.cols(), "bce_with_logits",
                         "logits", logits, "targets", targets);
  Tape<S>& t = logits.tape();
  // l_j = sum_i [max(z,0) - z x + log1p(exp(-|z|))]:  dz += g_j (sigmoid(z) - x),  dx += -g_j z.
  const Var<S> out = t.record(
      "bce_with_logits", 1, logits.cols(), {logits, targets}, [z = logits, x = targets](Tape<S>& t, Var<S> out) {
        const S* g = t.adjoint_of(out).data();
        t.accumulate_column_entries(
            z, [g]<class P>(Index j, const P& zj, const P& xj) { return (detail::logistic(zj) - xj) * P(g[j]); },
            z.value(), x.value());
        t.accumulate_column_entries(
            x, [g]<class P>(Index j, const P& zj) { return zj * P(-g[j]); }, z.value());
      });
  detail::column_sums(
      t.value_of(out).data(), logits.rows(), logits.cols(),
      []<class P>(const P& z, const P& x) { return max(z, P(0)) - z * x + detail::log1p_exp_minus_abs(z); },
      logits.value().data(), targets.value().data());
  t.finish(out);
  return out;
}

/// KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, in nats:
/// `1/2 sum_i (mu_i^2 + exp(logvar_i) - 1 - logvar_i)`. Returns 1 x batch.
template <class S>
Var<S> gaussian_kl(Var<S> mu, Var<S> logvar) {
  detail::require_shapes(mu.rows() == logvar.rows() && mu.cols() == logvar.cols(), "gaussian_kl", "mu", mu, "logvar",
                         logvar);
  Tape<S>& t = mu.tape();
  // KL_j = 1/2 sum_i (mu^2 + e^lv - 1 - lv):  dmu += g_j mu,  dlv += g_j (e^lv - 1) / 2.
  const Var<S> out = t.record("gaussian_kl", 1, mu.cols(), {mu, logvar}, [mu, lv = logvar](Tape<S>& t, Var<S> out) {
    const S* g = t.adjoint_of(out).data();
    t.accumulate_column_entries(
        mu, [g]<class P>(Index j, const P& m) { return m * P(g[j]); }, mu.value());
    t.accumulate_column_entries(
        lv, [g]<class P>(Index j, const P& l) { return (exp(l) - P(1)) * P(S(0.5) * g[j]); }, lv.value());
  });
  detail::column_sums(
      t.value_of(out).data(), mu.rows(), mu.cols(),
      []<class P>(const P& m, const P& lv) { return P(0.5) * (m * m + exp(lv) - P(1) - lv); }, mu.value().data(),
      logvar.value().data());
  t.finish(out);
  return out;
}

}  // namespace detail
}  // namespace latent::inline v0
