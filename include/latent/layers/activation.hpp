#pragma once
/// @file
/// Activation functions as a value (`Activation::relu`) and as modules (`ReLU<float>`).

#include <stdexcept>
#include <string>

#include "latent/autodiff/ops/activation.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// An entrywise nonlinearity, chosen by value (for `Mlp` options and the like).
enum class Activation {
  identity,    ///< x
  relu,        ///< max(x, 0)
  leaky_relu,  ///< x for x > 0, 0.01 x otherwise
  elu,         ///< x for x > 0, exp(x) - 1 otherwise
  sigmoid,     ///< 1 / (1 + exp(-x))
  tanh,        ///< tanh(x)
  softplus,    ///< log(1 + exp(x))
};

/// The name of an activation as written in options and flags ("relu", "tanh", ...).
inline const char* to_string(Activation a) noexcept {
  switch (a) {
    case Activation::identity:
      return "identity";
    case Activation::relu:
      return "relu";
    case Activation::leaky_relu:
      return "leaky_relu";
    case Activation::elu:
      return "elu";
    case Activation::sigmoid:
      return "sigmoid";
    case Activation::tanh:
      return "tanh";
    case Activation::softplus:
      return "softplus";
  }
  return "?";
}

/// Parses the name `to_string` gives; throws `Error` naming the unknown value otherwise.
inline Activation parse_activation(const std::string& name) {
  for (Activation a : {Activation::identity, Activation::relu, Activation::leaky_relu, Activation::elu,
                       Activation::sigmoid, Activation::tanh, Activation::softplus})
    if (name == to_string(a)) return a;
  throw Error("activation", "unknown activation '" + name +
                                "' (expected identity, relu, leaky_relu, elu, sigmoid, tanh or softplus)");
}

/// Applies `a` to `x`; `param` is leaky_relu's slope or elu's alpha.
template <class S>
Var<S> activate(Activation a, Var<S> x, std::type_identity_t<S> param) {
  switch (a) {
    case Activation::identity:
      return x;
    case Activation::relu:
      return relu(x);
    case Activation::leaky_relu:
      return leaky_relu(x, param);
    case Activation::elu:
      return elu(x, param);
    case Activation::sigmoid:
      return sigmoid(x);
    case Activation::tanh:
      return tanh(x);
    case Activation::softplus:
      return softplus(x);
  }
  return x;
}

/// The default parameter of `a`: slope 0.01 for leaky_relu, alpha 1 for elu.
inline double default_activation_param(Activation a) noexcept { return a == Activation::leaky_relu ? 0.01 : 1.0; }

/// Applies `a` to `x` with its default parameter.
template <class S>
Var<S> activate(Activation a, Var<S> x) {
  return activate(a, x, S(default_activation_param(a)));
}

/// An activation as a parameter-free module (for `Sequential`).
template <class S, Activation A>
class ActivationLayer : public Module<S> {
 public:
  /// `param` is the slope of leaky_relu or the alpha of elu; ignored otherwise.
  explicit ActivationLayer(double param = default_activation_param(A)) : param_(S(param)) {}
  Var<S> forward(Tape<S>&, Var<S> x) const override { return activate(A, x, param_); }

 private:
  S param_;
};

template <class S>
using Identity = ActivationLayer<S, Activation::identity>;  ///< x
template <class S>
using ReLU = ActivationLayer<S, Activation::relu>;  ///< max(x, 0)
template <class S>
using LeakyReLU = ActivationLayer<S, Activation::leaky_relu>;  ///< slope given
template <class S>
using ELU = ActivationLayer<S, Activation::elu>;  ///< alpha given
template <class S>
using Sigmoid = ActivationLayer<S, Activation::sigmoid>;  ///< logistic
template <class S>
using Tanh = ActivationLayer<S, Activation::tanh>;  ///< tanh
template <class S>
using Softplus = ActivationLayer<S, Activation::softplus>;  ///< log(1 + e^x)

}  // namespace latent::inline v0
