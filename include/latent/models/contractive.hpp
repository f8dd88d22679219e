#pragma once
/// @file
/// The contractive penalty ||J_f(x)||_F^2 of a one-layer encoder in closed form, recorded with
/// tape ops so its gradient is exact.

#include <string>

#include "latent/autodiff/ops/linear.hpp"
#include "latent/autodiff/ops/reduce.hpp"
#include "latent/layers/mlp.hpp"

namespace latent::inline v0 {

/// Throws `Error` unless `encoder` has the shape the closed form covers: exactly one Linear
/// layer (F -> D, no hidden layer) followed by sigmoid, tanh or identity. Deeper encoders have
/// J = D_L W_L ... D_1 W_1, whose Frobenius norm needs a D x F product per example; it is not
/// implemented.
template <class S>
void require_contractive_encoder(const Mlp<S>& encoder) {
  if (encoder.depth() != 1)
    throw Error(
        "contractive penalty",
        std::string(
            "the closed-form Jacobian needs a one-layer encoder h = s(W x + b) (hidden = {}), but the encoder has ") +
            std::to_string(encoder.depth()) + " layers");
  const Activation s = encoder.output_activation();
  if (s != Activation::sigmoid && s != Activation::tanh && s != Activation::identity)
    throw Error("contractive penalty",
                std::string("the closed-form Jacobian covers sigmoid, tanh and identity codes, not ") + to_string(s));
}

/// ||J_f(x)||_F^2 per example (1 x batch) for the one-layer encoder h = s(W x + b), given the
/// code h it recorded on `tape`. J = diag(s'(a)) W with a = W x + b, so
/// `||J||_F^2 = sum_j (s'_j)^2 sum_i W_ji^2`, with s' read off h: sigmoid h (1 - h), tanh
/// 1 - h^2, identity 1. Units: (code units per input unit)^2. Throws like
/// `require_contractive_encoder`.
template <class S>
Var<S> contractive_penalty(Tape<S>& tape, const Mlp<S>& encoder, Var<S> h) {
  require_contractive_encoder(encoder);
  const Var<S> row_norms = rowwise_sum(square(encoder.layer(0).weight().on(tape)));  // sum_i W_ji^2: D x 1
  switch (encoder.output_activation()) {
    case Activation::sigmoid:
      return matmul_tn(row_norms, square(mul(h, shift(-h, S(1)))));
    case Activation::tanh:
      return matmul_tn(row_norms, square(shift(-square(h), S(1))));
    default:
      return broadcast_cols(sum(row_norms), h.cols());  // identity: J = W for every x
  }
}

}  // namespace latent::inline v0
