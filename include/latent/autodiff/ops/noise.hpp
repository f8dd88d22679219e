#pragma once
/// @file
/// Noise as a constant of the tape: draws written straight into the tape's arena, so a training
/// step that samples allocates nothing on the heap and the model that asks keeps no buffer.

#include "latent/autodiff/tape.hpp"
#include "latent/core/rng.hpp"

namespace latent::inline v0 {

/// A `rows x cols` constant of N(0, 1) draws from `rng` (no gradient flows into it).
template <class S>
Var<S> standard_normal(Tape<S>& tape, Index rows, Index cols, Rng& rng) {
  const Var<S> eps = tape.record("standard_normal", rows, cols);
  rng.fill_normal(tape.value_of(eps));
  return eps;
}

}  // namespace latent::inline v0
