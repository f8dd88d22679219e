#pragma once
/// @file
/// Binarization of [0, 1] data for Bernoulli decoders. Static: x > t gives 1, else 0, fixed once.
/// Dynamic: each pass draws x ~ Bernoulli(p) afresh, which regularizes (Salakhutdinov & Murray
/// 2008 for MNIST); apply it to every batch with the training `Rng`.

#include "latent/core/rng.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// Sets every entry of `x` to 1 if it is greater than `threshold`, else 0, in place.
template <Scalar S>
void binarize(Matrix<S>& x, S threshold = S(0.5)) {
  x = (x.array() > threshold).template cast<S>();
}

/// Replaces every entry p of `x` (a probability in [0, 1]) by a Bernoulli(p) draw, 1 with
/// probability p: 1 when u < p for u uniform on [0, 1) from `rng`, in column-major order.
template <Scalar S>
void binarize(Matrix<S>& x, Rng& rng) {
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = rng.uniform() < double(x.data()[i]) ? S(1) : S(0);
}

}  // namespace latent::inline v0
