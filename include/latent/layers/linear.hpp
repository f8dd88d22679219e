#pragma once
/// @file
/// `Linear`: the dense layer y = W x + b.

#include "latent/autodiff/ops/linear.hpp"
#include "latent/core/sizes.hpp"
#include "latent/layers/init.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// Options of `Linear`.
struct LinearOptions {
  bool bias = true;                         ///< add a learned bias b
  Init init = Init::uniform_fan_in();       ///< rule for W (default as PyTorch's nn.Linear)
  Init bias_init = Init::uniform_fan_in();  ///< rule for b (fan_in of the layer)
};

/// A dense layer `y = W x + b`: x is in x batch, W is out x in, b is out x 1, y is out x batch.
/// Parameters "weight" and "bias".
template <class S>
class Linear : public Module<S> {
 public:
  /// A layer from `in` to `out` features, initialised from `rng`. Throws `ShapeError` unless
  /// both are positive.
  Linear(Index in, Index out, Rng& rng, LinearOptions options = {})
      : weight_("weight", require_size("Linear", "out", out), require_size("Linear", "in", in)),
        bias_("bias", options.bias ? out : 0, 1),
        has_bias_(options.bias) {
    options.init.apply(weight_.value, in, out, rng);
    if (has_bias_) options.bias_init.apply(bias_.value, in, out, rng);
  }

  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    return has_bias_ ? linear(weight_.on(tape), x, bias_.on(tape)) : matmul(weight_.on(tape), x);
  }

  /// Input features.
  [[nodiscard]] Index in_features() const noexcept { return weight_.value.cols(); }
  /// Output features.
  [[nodiscard]] Index out_features() const noexcept { return weight_.value.rows(); }
  /// W, out x in.
  Parameter<S>& weight() noexcept { return weight_; }
  /// Read-only `weight()`.
  const Parameter<S>& weight() const noexcept { return weight_; }
  /// b, out x 1 (empty without bias).
  Parameter<S>& bias() noexcept { return bias_; }
  /// Whether the layer adds a bias.
  [[nodiscard]] bool has_bias() const noexcept { return has_bias_; }

 protected:
  /// Lists `weight()` and, with a bias, `bias()`.
  void visit_own_parameters(const typename Module<S>::ParameterVisitor& f) override {
    f(weight_);
    if (has_bias_) f(bias_);
  }

 private:
  Parameter<S> weight_, bias_;
  bool has_bias_;
};

}  // namespace latent::inline v0
