#pragma once
/// @file
/// Matrix products and the fused affine map `linear(W, x, b) = W x + b` (one GEMM per layer).

#include "latent/autodiff/ops/elementwise.hpp"

namespace latent::inline v0 {
namespace detail {

// b must be a column with one entry per row of `a`.
template <class S>
void require_bias(const char* op, const char* a_name, Var<S> a, Var<S> b) {
  if (b.cols() != 1 || b.rows() != a.rows())
    throw ShapeError(op, "b is " + shape_of(b) + " but " + a_name + " is " + shape_of(a) + " (b must be " +
                             shape_str(a.rows(), 1) + ")");
}

// Records C = op(A) op(B), op = transpose where `ta` / `tb`, after checking the inner sizes agree.
// Its backward, with G the adjoint of C:
//   C = A B:    dA += G B^T,  dB += A^T G.
//   C = A^T B:  dA += B G^T,  dB += A G.
//   C = A B^T:  dA += G B,    dB += G^T A.
template <bool ta, bool tb, class S>
Var<S> product(const char* name, Var<S> a, Var<S> b, const char* rule) {
  const GemmOperand<S> oa{a.value().data(), a.rows(), a.cols(), ta}, ob{b.value().data(), b.rows(), b.cols(), tb};
  require_shapes(oa.op_cols() == ob.op_rows(), name, "A", a, "B", b, rule);
  Tape<S>& t = a.tape();
  const Var<S> c = t.record(name, oa.op_rows(), ob.op_cols(), {a, b}, [a, b](Tape<S>& t, Var<S> c) {
    const auto g = t.adjoint_of(c);
    if constexpr (!ta && !tb) {
      t.accumulate_product(a, g, b.value().transpose());
      t.accumulate_product(b, a.value().transpose(), g);
    } else if constexpr (ta) {
      t.accumulate_product(a, b.value(), g.transpose());
      t.accumulate_product(b, a.value(), g);
    } else {
      t.accumulate_product(a, g, b.value());
      t.accumulate_product(b, g.transpose(), a.value());
    }
  });
  gemm(oa, ob, t.value_of(c).data(), false);
  t.finish(c);
  return c;
}

}  // namespace detail

/// Matrix product `A B` (shapes m x k and k x n).
template <class S>
Var<S> matmul(Var<S> a, Var<S> b) {
  return detail::product<false, false>("matmul", a, b, " (A.cols must equal B.rows)");
}

/// `A^T B` without forming the transpose (shapes k x m and k x n).
template <class S>
Var<S> matmul_tn(Var<S> a, Var<S> b) {
  return detail::product<true, false>("matmul_tn", a, b, " (A.rows must equal B.rows)");
}

/// `A B^T` without forming the transpose (shapes m x k and n x k).
template <class S>
Var<S> matmul_nt(Var<S> a, Var<S> b) {
  return detail::product<false, true>("matmul_nt", a, b, " (A.cols must equal B.cols)");
}

/// The affine map of a dense layer, `W x + b`: W is out x in, x is in x batch, b is out x 1.
/// One GEMM plus a broadcast add, one node on the tape.
template <class S>
Var<S> linear(Var<S> w, Var<S> x, Var<S> b) {
  if (w.cols() != x.rows())
    throw ShapeError(
        "linear", "W is " + detail::shape_of(w) + " but x is " + detail::shape_of(x) + " (W.cols must equal x.rows)");
  detail::require_bias("linear", "W", w, b);
  Tape<S>& t = w.tape();
  // y = W x + b:  dW += G x^T,  dx += W^T G,  db += G 1.
  const Var<S> y = t.record("linear", w.rows(), x.cols(), {w, x, b}, [w, x, b](Tape<S>& t, Var<S> y) {
    const auto g = t.adjoint_of(y);
    t.accumulate_product(w, g, x.value().transpose());
    t.accumulate_product(x, w.value().transpose(), g);
    t.accumulate_row_sums(b, g);
  });
  auto v = t.value_of(y);
  detail::map_column_entries(v.data(), v.rows(), v.cols(), false, detail::column_value,
                             detail::BroadcastColumn<S>{b.value().data()});
  detail::gemm(detail::gemm_operand(w.value()), detail::gemm_operand(x.value()), v.data(), true);
  t.finish(y);
  return y;
}

/// `a + b 1^T`: adds the column `b` (rows x 1) to every column of `a`.
template <class S>
Var<S> add_bias(Var<S> a, Var<S> b) {
  detail::require_bias("add_bias", "a", a, b);
  Tape<S>& t = a.tape();
  // y = a + b 1^T:  da += G,  db += G 1.
  const Var<S> y = t.record("add_bias", a.rows(), a.cols(), {a, b}, [a, b](Tape<S>& t, Var<S> y) {
    const auto g = t.adjoint_of(y);
    t.accumulate(a, g);
    t.accumulate_row_sums(b, g);
  });
  detail::map_column_entries(
      t.value_of(y).data(), a.rows(), a.cols(), false, []<class P>(Index, const P& x, const P& c) { return x + c; },
      a.value().data(), detail::BroadcastColumn<S>{b.value().data()});
  t.finish(y);
  return y;
}

}  // namespace latent::inline v0
