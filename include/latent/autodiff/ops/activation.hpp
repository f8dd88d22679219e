#pragma once
/// @file
/// Activation functions as tape ops. Where the derivative is a function of the output (sigmoid,
/// tanh, exp-like), the backward pass reads the saved output instead of recomputing.

#include "latent/autodiff/ops/elementwise.hpp"

namespace latent::inline v0 {
namespace detail {

struct ReluOp {
  static constexpr const char* name = "relu";
  template <class P>
  static P forward(const P& a, const P&) {
    return max(a, P(0));
  }
  template <class P>
  static P derivative(const P& a, const P&, const P&) {
    return positive_indicator(a);
  }
};
// leaky_relu(a) = a for a > 0, slope * a otherwise.
struct LeakyReluOp {
  static constexpr const char* name = "leaky_relu";
  template <class P>
  static P forward(const P& a, const P& slope) {
    return select(a > P(0), a, slope * a);
  }
  template <class P>
  static P derivative(const P& a, const P&, const P& slope) {
    return select(a > P(0), P(1), slope);
  }
};
// elu(a) = a for a > 0, alpha (e^a - 1) otherwise; its derivative there is out + alpha.
struct EluOp {
  static constexpr const char* name = "elu";
  template <class P>
  static P forward(const P& a, const P& alpha) {
    return select(a > P(0), a, alpha * (exp(a) - P(1)));
  }
  template <class P>
  static P derivative(const P& a, const P& out, const P& alpha) {
    return select(a > P(0), P(1), out + alpha);
  }
};
struct SigmoidOp {
  static constexpr const char* name = "sigmoid";
  template <class P>
  static P forward(const P& a, const P&) {
    return logistic(a);
  }
  template <class P>
  static P derivative(const P&, const P& out, const P&) {
    return out * (P(1) - out);
  }
};
struct TanhOp {
  static constexpr const char* name = "tanh";
  template <class P>
  static P forward(const P& a, const P&) {
    return tanh(a);
  }
  template <class P>
  static P derivative(const P&, const P& out, const P&) {
    return P(1) - out * out;
  }
};
// softplus(a) = log(1 + e^a) = max(a, 0) + log1p(e^-|a|), finite for every a; derivative sigmoid(a).
struct SoftplusOp {
  static constexpr const char* name = "softplus";
  template <class P>
  static P forward(const P& a, const P&) {
    return max(a, P(0)) + log1p_exp_minus_abs(a);
  }
  template <class P>
  static P derivative(const P& a, const P&, const P&) {
    return logistic(a);
  }
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
