#pragma once
/// @file
/// Elementwise arithmetic and math functions on `Var`s, and the unary-op machinery the
/// activations reuse.

#include <cmath>
#include <type_traits>

#include "latent/autodiff/ops/checks.hpp"

namespace latent::inline v0 {
namespace detail {

/// Records `Op` applied entry by entry: `Op::forward(a, arg)` gives the value and
/// `Op::derivative(a, out, arg)` gives d out / d a entry by entry (both on Eigen arrays), so the
/// backward pass is `da += G .* derivative`. `arg` carries a parameter such as a slope.
template <class Op, class S>
void unary_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0);
  t.accumulate(a, (t.adjoint_of(id).array() * Op::derivative(a.value().array(), out.value().array(), t.arg(out)))
                      .matrix());
}

template <class Op, class S>
Var<S> unary(Var<S> a, S arg = S(0)) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record(Op::name, unary_backward<Op, S>, a.rows(), a.cols(), {a}, arg);
  parallel_assign(t.value_of(out), Op::forward(a.value().array(), arg).matrix());
  t.finish(out);
  return out;
}

struct ExpOp {
  static constexpr const char* name = "exp";
  static auto forward(const auto& a, auto) { return a.exp(); }
  static auto derivative(const auto&, const auto& out, auto) { return out; }
};
struct LogOp {
  static constexpr const char* name = "log";
  static auto forward(const auto& a, auto) { return a.log(); }
  static auto derivative(const auto& a, const auto&, auto) { return a.inverse(); }
};
struct SquareOp {
  static constexpr const char* name = "square";
  static auto forward(const auto& a, auto) { return a.square(); }
  static auto derivative(const auto& a, const auto&, auto) { return 2 * a; }
};
struct SqrtOp {
  static constexpr const char* name = "sqrt";
  static auto forward(const auto& a, auto) { return a.sqrt(); }
  static auto derivative(const auto&, const auto& out, auto) { return 0.5 * out.inverse(); }
};
struct AbsOp {
  static constexpr const char* name = "abs";
  static auto forward(const auto& a, auto) { return a.abs(); }
  static auto derivative(const auto& a, const auto&, auto) { return a.sign(); }
};
struct ScaleOp {
  static constexpr const char* name = "scale";
  static auto forward(const auto& a, auto s) { return a * s; }
  static auto derivative(const auto& a, const auto&, auto s) { return a.Constant(a.rows(), a.cols(), s); }
};
struct ShiftOp {
  static constexpr const char* name = "shift";
  static auto forward(const auto& a, auto s) { return a + s; }
  static auto derivative(const auto& a, const auto&, auto s) { return a.Constant(a.rows(), a.cols(), decltype(s)(1)); }
};

// clamp_probability(a, eps) = min(max(a, eps), 1 - eps): gradient 1 strictly inside, 0 where
// clamped (as torch.clamp).
struct ClampProbabilityOp {
  static constexpr const char* name = "clamp_probability";
  static auto forward(const auto& a, auto eps) { return a.max(eps).min(1 - eps); }
  static auto derivative(const auto& a, const auto&, auto eps) {
    using T = decltype(eps);
    return ((a > eps) && (a < 1 - eps)).template cast<T>();
  }
};

// Binary ops: G is the output adjoint.
// a + b: da += G, db += G.      a - b: da += G, db -= G.
// a .* b: da += G .* b, db += G .* a.      a ./ b: da += G ./ b, db -= G .* out ./ b.
template <class S>
void add_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id);
  t.accumulate(t.input(out, 0), t.adjoint_of(id));
  t.accumulate(t.input(out, 1), t.adjoint_of(id));
}
template <class S>
void sub_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id);
  t.accumulate(t.input(out, 0), t.adjoint_of(id));
  t.accumulate(t.input(out, 1), -t.adjoint_of(id));
}
template <class S>
void mul_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0), b = t.input(out, 1);
  const auto g = t.adjoint_of(id);
  t.accumulate(a, g.cwiseProduct(b.value()));
  t.accumulate(b, g.cwiseProduct(a.value()));
}
template <class S>
void div_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0), b = t.input(out, 1);
  const auto g = t.adjoint_of(id);
  t.accumulate(a, g.cwiseQuotient(b.value()));
  t.accumulate(b, -(g.cwiseProduct(out.value()).cwiseQuotient(b.value())));
}

template <class S, class F>
Var<S> binary(const char* name, void (*backward)(Tape<S>&, std::int32_t), Var<S> a, Var<S> b, F&& forward) {
  require_same_tape(name, a, b);
  require_same_shape(name, a, b);
  Tape<S>& t = a.tape();
  const Var<S> out = t.record(name, backward, a.rows(), a.cols(), {a, b});
  parallel_assign(t.value_of(out), forward(a.value().array(), b.value().array()).matrix());
  t.finish(out);
  return out;
}

}  // namespace detail

/// Entrywise `a + b` (same shapes).
template <class S>
Var<S> add(Var<S> a, Var<S> b) {
  return detail::binary("add", detail::add_backward<S>, a, b, [](const auto& x, const auto& y) { return x + y; });
}
/// Entrywise `a - b` (same shapes).
template <class S>
Var<S> sub(Var<S> a, Var<S> b) {
  return detail::binary("sub", detail::sub_backward<S>, a, b, [](const auto& x, const auto& y) { return x - y; });
}
/// Entrywise (Hadamard) product `a .* b` (same shapes). Matrix products are `matmul`.
template <class S>
Var<S> mul(Var<S> a, Var<S> b) {
  return detail::binary("mul", detail::mul_backward<S>, a, b, [](const auto& x, const auto& y) { return x * y; });
}
/// Entrywise quotient `a ./ b` (same shapes).
template <class S>
Var<S> div(Var<S> a, Var<S> b) {
  return detail::binary("div", detail::div_backward<S>, a, b, [](const auto& x, const auto& y) { return x / y; });
}

/// `s * a`.
template <class S>
Var<S> scale(Var<S> a, std::type_identity_t<S> s) {
  return detail::unary<detail::ScaleOp>(a, s);
}
/// `a + s` entrywise.
template <class S>
Var<S> shift(Var<S> a, std::type_identity_t<S> s) {
  return detail::unary<detail::ShiftOp>(a, s);
}
/// Entrywise `exp(a)`.
template <class S>
Var<S> exp(Var<S> a) {
  return detail::unary<detail::ExpOp>(a);
}
/// Entrywise natural logarithm (a > 0).
template <class S>
Var<S> log(Var<S> a) {
  return detail::unary<detail::LogOp>(a);
}
/// Entrywise `a^2`.
template <class S>
Var<S> square(Var<S> a) {
  return detail::unary<detail::SquareOp>(a);
}
/// Entrywise square root (a > 0 for a finite gradient).
template <class S>
Var<S> sqrt(Var<S> a) {
  return detail::unary<detail::SqrtOp>(a);
}
/// Entrywise `|a|`; its gradient at 0 is taken as 0.
template <class S>
Var<S> abs(Var<S> a) {
  return detail::unary<detail::AbsOp>(a);
}

/// `a` clamped to [eps, 1 - eps], for probabilities about to meet a log; gradient 0 where
/// clamped.
template <class S>
Var<S> clamp_probability(Var<S> a, std::type_identity_t<S> eps) {
  return detail::unary<detail::ClampProbabilityOp>(a, eps);
}

/// `a + b`.
template <class S>
Var<S> operator+(Var<S> a, Var<S> b) { return add(a, b); }
/// `a - b`.
template <class S>
Var<S> operator-(Var<S> a, Var<S> b) { return sub(a, b); }
/// `-a`.
template <class S>
Var<S> operator-(Var<S> a) { return scale(a, S(-1)); }
/// `s * a`.
template <class S>
Var<S> operator*(std::type_identity_t<S> s, Var<S> a) { return scale(a, s); }
/// `a * s`.
template <class S>
Var<S> operator*(Var<S> a, std::type_identity_t<S> s) { return scale(a, s); }
/// `a + s` entrywise.
template <class S>
Var<S> operator+(Var<S> a, std::type_identity_t<S> s) { return shift(a, s); }

}  // namespace latent::inline v0
