#pragma once
/// @file
/// Activation functions as tape ops. Where the derivative is a function of the output (sigmoid,
/// tanh, exp-like), the backward pass reads the saved output instead of recomputing.

#include "latent/autodiff/ops/elementwise.hpp"

namespace latent::inline v0 {
namespace detail {

struct ReluOp {
  static constexpr const char* name = "relu";
  static auto forward(const auto& a, auto) { return a.max(decltype(a.coeff(0))(0)); }
  static auto derivative(const auto& a, const auto&, auto) { return (a > 0).template cast<std::remove_cvref_t<decltype(a.coeff(0))>>(); }
};
// leaky_relu(a) = a for a > 0, slope * a otherwise.
struct LeakyReluOp {
  static constexpr const char* name = "leaky_relu";
  static auto forward(const auto& a, auto slope) { return (a > 0).select(a, slope * a); }
  static auto derivative(const auto& a, const auto&, auto slope) {
    return (a > 0).select(a.Constant(a.rows(), a.cols(), decltype(slope)(1)), a.Constant(a.rows(), a.cols(), slope));
  }
};
// elu(a) = a for a > 0, alpha (e^a - 1) otherwise; its derivative there is out + alpha.
struct EluOp {
  static constexpr const char* name = "elu";
  static auto forward(const auto& a, auto alpha) { return (a > 0).select(a, alpha * (a.exp() - 1)); }
  static auto derivative(const auto& a, const auto& out, auto alpha) {
    return (a > 0).select(a.Constant(a.rows(), a.cols(), decltype(alpha)(1)), out + alpha);
  }
};
// sigmoid(a) = 1 / (1 + e^-a); for a -> -inf, e^-a -> inf and the quotient -> 0 without NaN.
struct SigmoidOp {
  static constexpr const char* name = "sigmoid";
  static auto forward(const auto& a, auto) { return (1 + (-a).exp()).inverse(); }
  static auto derivative(const auto&, const auto& out, auto) { return out * (1 - out); }
};
struct TanhOp {
  static constexpr const char* name = "tanh";
  static auto forward(const auto& a, auto) { return a.tanh(); }
  static auto derivative(const auto&, const auto& out, auto) { return 1 - out.square(); }
};
// softplus(a) = log(1 + e^a) = max(a, 0) + log1p(e^-|a|), finite for every a; derivative sigmoid(a).
struct SoftplusOp {
  static constexpr const char* name = "softplus";
  static auto forward(const auto& a, auto) { return a.max(decltype(a.coeff(0))(0)) + (-a.abs()).exp().log1p(); }
  static auto derivative(const auto& a, const auto&, auto) { return (1 + (-a).exp()).inverse(); }
};

}  // namespace detail

/// `max(a, 0)` entrywise; gradient 0 at a <= 0.
template <class S>
Var<S> relu(Var<S> a) {
  return detail::unary<detail::ReluOp>(a);
}
/// `a` where a > 0, `slope * a` elsewhere.
template <class S>
Var<S> leaky_relu(Var<S> a, std::type_identity_t<S> slope = S(0.01)) {
  return detail::unary<detail::LeakyReluOp>(a, slope);
}
/// `a` where a > 0, `alpha (exp(a) - 1)` elsewhere (Clevert et al. 2015).
template <class S>
Var<S> elu(Var<S> a, std::type_identity_t<S> alpha = S(1)) {
  return detail::unary<detail::EluOp>(a, alpha);
}
/// The logistic function `1 / (1 + exp(-a))`, entrywise.
template <class S>
Var<S> sigmoid(Var<S> a) {
  return detail::unary<detail::SigmoidOp>(a);
}
/// Entrywise hyperbolic tangent.
template <class S>
Var<S> tanh(Var<S> a) {
  return detail::unary<detail::TanhOp>(a);
}
/// `log(1 + exp(a))`, computed as `max(a, 0) + log1p(exp(-|a|))` so it never overflows.
template <class S>
Var<S> softplus(Var<S> a) {
  return detail::unary<detail::SoftplusOp>(a);
}

}  // namespace latent::inline v0
