#pragma once
/// @file
/// `LayerNorm`: per-example normalisation over the features, with a learned scale and shift.

#include "latent/autodiff/ops/norm.hpp"
#include "latent/core/sizes.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// Layer normalisation over all `features` of each example (PyTorch's `nn.LayerNorm(features)`
/// with an elementwise affine map): `y = gamma .* (x - mean) / sqrt(var + eps) + beta`, mean and
/// (biased) var over the features of one column. For images, `features` = C H W normalises each
/// image as a whole. Parameters "weight" (gamma, ones) and "bias" (beta, zeros), `features x 1`.
template <class S>
class LayerNorm : public Module<S> {
 public:
  /// Throws `ShapeError` unless `features` is positive.
  explicit LayerNorm(Index features, double eps = 1e-5)
      : weight_("weight", require_size("LayerNorm", "features", features), 1), bias_("bias", features, 1), eps_(eps) {
    weight_.value.setOnes();
  }
  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    return layer_norm(x, weight_.on(tape), bias_.on(tape), eps_);
  }
  /// gamma, `features x 1`.
  Parameter<S>& weight() noexcept { return weight_; }
  /// beta, `features x 1`.
  Parameter<S>& bias() noexcept { return bias_; }

 protected:
  /// Lists `weight()` and `bias()`.
  void visit_own_parameters(const typename Module<S>::ParameterVisitor& f) override {
    f(weight_);
    f(bias_);
  }

 private:
  Parameter<S> weight_, bias_;
  double eps_;
};

}  // namespace latent::inline v0
