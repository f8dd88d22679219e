#pragma once
/// @file
/// Elementwise arithmetic and math functions on `Var`s, and the unary-op machinery the
/// activations reuse.

#include <cmath>
#include <type_traits>

#include "latent/autodiff/ops/checks.hpp"
#include "latent/kernels/map_entries.hpp"

namespace latent::inline v0 {
namespace detail {

/// Records `Op` applied entry by entry: `Op::forward(a, arg)` gives the value and
/// `Op::derivative(a, out, arg)` gives d out / d a, both on `Lanes` of one packet (or entry),
/// with `arg` broadcast, so the backward pass is `da += G .* derivative`. `arg` carries a
/// parameter such as a slope.
template <class Op, class S>
Var<S> unary(Var<S> a, S arg = S(0)) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record(Op::name, a.rows(), a.cols(), {a}, [a, arg](Tape<S>& t, Var<S> out) {
    t.accumulate_entries(
        a, [arg]<class P>(const P& g, const P& x, const P& y) { return g * Op::derivative(x, y, P(arg)); },
        t.adjoint_of(out), a.value(), out.value());
  });
  map_entries(
      t.value_of(out).data(), a.rows() * a.cols(), false, [arg]<class P>(const P& x) { return Op::forward(x, P(arg)); },
      a.value().data());
  t.finish(out);
  return out;
}

/// 1 where a > 0, else 0.
template <class P>
[[gnu::always_inline]] inline P positive_indicator(const P& a) {
  return (a > P(0)) & P(1);
}

/// log(1 + e^-|a|), finite for every a: softplus(a) = log(1 + e^a) = max(a, 0) + this, and the
/// BCE from logits z, softplus(z) - z x, is written with it too (the log-sum-exp form).
template <class P>
[[gnu::always_inline]] inline P log1p_exp_minus_abs(const P& a) {
  return log1p(exp(-abs(a)));
}

/// 1 / (1 + e^-a); for a -> -inf, e^-a -> inf and the quotient -> 0 without NaN.
template <class P>
[[gnu::always_inline]] inline P logistic(const P& a) {
  return P(1) / (P(1) + exp(-a));
}

struct ExpOp {
  static constexpr const char* name = "exp";
  template <class P>
  static P forward(const P& a, const P&) {
    return exp(a);
  }
  template <class P>
  static P derivative(const P&, const P& out, const P&) {
    return out;
  }
};
struct LogOp {
  static constexpr const char* name = "log";
  template <class P>
  static P forward(const P& a, const P&) {
    return log(a);
  }
  template <class P>
  static P derivative(const P& a, const P&, const P&) {
    return P(1) / a;
  }
};
struct SquareOp {
  static constexpr const char* name = "square";
  template <class P>
  static P forward(const P& a, const P&) {
    return a * a;
  }
  template <class P>
  static P derivative(const P& a, const P&, const P&) {
    return P(2) * a;
  }
};
struct SqrtOp {
  static constexpr const char* name = "sqrt";
  template <class P>
  static P forward(const P& a, const P&) {
    return sqrt(a);
  }
  template <class P>
  static P derivative(const P&, const P& out, const P&) {
    return P(0.5) / out;
  }
};
// d|a|/da = sign(a), 0 at 0.
struct AbsOp {
  static constexpr const char* name = "abs";
  template <class P>
  static P forward(const P& a, const P&) {
    return abs(a);
  }
  template <class P>
  static P derivative(const P& a, const P&, const P&) {
    return positive_indicator(a) - positive_indicator(-a);
  }
};
struct ScaleOp {
  static constexpr const char* name = "scale";
  template <class P>
  static P forward(const P& a, const P& s) {
    return a * s;
  }
  template <class P>
  static P derivative(const P&, const P&, const P& s) {
    return s;
  }
};
struct ShiftOp {
  static constexpr const char* name = "shift";
  template <class P>
  static P forward(const P& a, const P& s) {
    return a + s;
  }
  template <class P>
  static P derivative(const P&, const P&, const P&) {
    return P(1);
  }
};

// clamp_probability(a, eps) = min(max(a, eps), 1 - eps): gradient 1 strictly inside, 0 where
// clamped (as torch.clamp).
struct ClampProbabilityOp {
  static constexpr const char* name = "clamp_probability";
  template <class P>
  static P forward(const P& a, const P& eps) {
    return min(max(a, eps), P(1) - eps);
  }
  template <class P>
  static P derivative(const P& a, const P&, const P& eps) {
    return (eps < a) & (a < P(1) - eps) & P(1);
  }
};

/// Records `forward(a, b)` entry by entry (a packet formula), with `backward(t, out, a, b)` its
/// reverse step.
template <class S, class F, class B>
Var<S> binary(const char* name, Var<S> a, Var<S> b, const F& forward, const B& backward) {
  require_same_shape(name, a, b);
  Tape<S>& t = a.tape();
  const Var<S> out =
      t.record(name, a.rows(), a.cols(), {a, b}, [a, b, backward](Tape<S>& t, Var<S> out) { backward(t, out, a, b); });
  map_entries(t.value_of(out).data(), a.rows() * a.cols(), false, forward, a.value().data(), b.value().data());
  t.finish(out);
  return out;
}

}  // namespace detail

/// Entrywise `a + b` (same shapes).
template <class S>
Var<S> add(Var<S> a, Var<S> b) {
  // da += G, db += G.
  return detail::binary(
      "add", a, b, []<class P>(const P& x, const P& y) { return x + y; },
      [](Tape<S>& t, Var<S> out, Var<S> a, Var<S> b) {
        t.accumulate(a, t.adjoint_of(out));
        t.accumulate(b, t.adjoint_of(out));
      });
}
/// Entrywise `a - b` (same shapes).
template <class S>
Var<S> sub(Var<S> a, Var<S> b) {
  // da += G, db -= G.
  return detail::binary(
      "sub", a, b, []<class P>(const P& x, const P& y) { return x - y; },
      [](Tape<S>& t, Var<S> out, Var<S> a, Var<S> b) {
        t.accumulate(a, t.adjoint_of(out));
        t.accumulate_entries(
            b, []<class P>(const P& g) { return -g; }, t.adjoint_of(out));
      });
}
/// Entrywise (Hadamard) product `a .* b` (same shapes). Matrix products are `matmul`.
template <class S>
Var<S> mul(Var<S> a, Var<S> b) {
  // da += G .* b, db += G .* a.
  return detail::binary(
      "mul", a, b, []<class P>(const P& x, const P& y) { return x * y; },
      [](Tape<S>& t, Var<S> out, Var<S> a, Var<S> b) {
        const auto product = []<class P>(const P& g, const P& x) { return g * x; };
        t.accumulate_entries(a, product, t.adjoint_of(out), b.value());
        t.accumulate_entries(b, product, t.adjoint_of(out), a.value());
      });
}
/// Entrywise quotient `a ./ b` (same shapes).
template <class S>
Var<S> div(Var<S> a, Var<S> b) {
  // da += G ./ b, db -= G .* out ./ b.
  return detail::binary(
      "div", a, b, []<class P>(const P& x, const P& y) { return x / y; },
      [](Tape<S>& t, Var<S> out, Var<S> a, Var<S> b) {
        t.accumulate_entries(
            a, []<class P>(const P& g, const P& y) { return g / y; }, t.adjoint_of(out), b.value());
        t.accumulate_entries(
            b, []<class P>(const P& g, const P& q, const P& y) { return -(g * q / y); }, t.adjoint_of(out), out.value(),
            b.value());
      });
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
Var<S> operator+(Var<S> a, Var<S> b) {
  return add(a, b);
}
/// `a - b`.
template <class S>
Var<S> operator-(Var<S> a, Var<S> b) {
  return sub(a, b);
}
/// `-a`.
template <class S>
Var<S> operator-(Var<S> a) {
  return scale(a, S(-1));
}
/// `s * a`.
template <class S>
Var<S> operator*(std::type_identity_t<S> s, Var<S> a) {
  return scale(a, s);
}
/// `a * s`.
template <class S>
Var<S> operator*(Var<S> a, std::type_identity_t<S> s) {
  return scale(a, s);
}
/// `a + s` entrywise.
template <class S>
Var<S> operator+(Var<S> a, std::type_identity_t<S> s) {
  return shift(a, s);
}

}  // namespace latent::inline v0
