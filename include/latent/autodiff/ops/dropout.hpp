#pragma once
/// @file
/// Inverted dropout: entries zeroed at random in training, the rest scaled so the mean stays.

#include <string>

#include "latent/autodiff/ops/elementwise.hpp"
#include "latent/core/rng.hpp"

namespace latent::inline v0 {

/// Inverted dropout (Srivastava et al. 2014): `y = x .* m / (1 - p)`, each m an independent
/// Bernoulli(1 - p) draw from `rng` (one uniform draw per entry, kept where u >= p), so E[y] = x.
/// The mask is a constant on the tape (drawn into the arena: no heap allocation), and
/// dx += G .* m / (1 - p). p = 0 returns x itself and draws nothing. Throws `NumericError` unless
/// 0 <= p < 1.
template <class S>
Var<S> dropout(Var<S> x, double p, Rng& rng) {
  if (!(p >= 0 && p < 1)) throw NumericError("dropout", "p must be in [0, 1), got " + std::to_string(p));
  if (p == 0) return x;
  Tape<S>& t = x.tape();
  const Var<S> mask = t.record("dropout_mask", x.rows(), x.cols());
  auto m = t.value_of(mask);
  rng.fill_uniform(m);
  const S keep = S(1 / (1 - p));
  for (S& u : m.reshaped()) u = u >= S(p) ? keep : S(0);
  return mul(x, mask);
}

}  // namespace latent::inline v0
