#pragma once
/// @file
/// Matrix products and the fused affine map `linear(W, x, b) = W x + b` (one GEMM per layer).

#include "latent/autodiff/ops/elementwise.hpp"

namespace latent::inline v0 {
namespace detail {

// C = A B:  dA += G B^T,  dB += A^T G.
template <class S>
void matmul_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> c = t.at(id), a = t.input(c, 0), b = t.input(c, 1);
  const auto g = t.adjoint_of(id);
  t.accumulate_product(a, g, b.value().transpose());
  t.accumulate_product(b, a.value().transpose(), g);
}
// C = A^T B:  dA += B G^T,  dB += A G.
template <class S>
void matmul_tn_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> c = t.at(id), a = t.input(c, 0), b = t.input(c, 1);
  const auto g = t.adjoint_of(id);
  t.accumulate_product(a, b.value(), g.transpose());
  t.accumulate_product(b, a.value(), g);
}
// C = A B^T:  dA += G B,  dB += G^T A.
template <class S>
void matmul_nt_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> c = t.at(id), a = t.input(c, 0), b = t.input(c, 1);
  const auto g = t.adjoint_of(id);
  t.accumulate_product(a, g, b.value());
  t.accumulate_product(b, g.transpose(), a.value());
}
// y = W x + b:  dW += G x^T,  dx += W^T G,  db += G 1.
template <class S>
void linear_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> y = t.at(id), w = t.input(y, 0), x = t.input(y, 1), b = t.input(y, 2);
  const auto g = t.adjoint_of(id);
  t.accumulate_product(w, g, x.value().transpose());
  t.accumulate_product(x, w.value().transpose(), g);
  t.accumulate_row_sums(b, g);
}
// y = a + b 1^T (b broadcast over columns):  da += G,  db += G 1.
template <class S>
void add_bias_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> y = t.at(id), a = t.input(y, 0), b = t.input(y, 1);
  const auto g = t.adjoint_of(id);
  t.accumulate(a, g);
  t.accumulate_row_sums(b, g);
}

// b must be a column with one entry per row of `a`.
template <class S>
void require_bias(const char* op, const char* a_name, Var<S> a, Var<S> b) {
  if (b.cols() != 1 || b.rows() != a.rows())
    throw ShapeError(op, "b is " + shape_of(b) + " but " + a_name + " is " + shape_of(a) + " (b must be " +
                             shape_str(a.rows(), 1) + ")");
}

}  // namespace detail

namespace detail {

// Records op(A) op(B), op = transpose where `ta` / `tb`, after checking the inner sizes agree.
template <class S>
Var<S> product(const char* name, typename Tape<S>::BackwardFn backward, Var<S> a, Var<S> b, bool ta, bool tb,
               const char* rule) {
  require_same_tape(name, a, b);
  const GemmOperand<S> oa{a.value().data(), a.rows(), a.cols(), ta}, ob{b.value().data(), b.rows(), b.cols(), tb};
  require_shapes(oa.op_cols() == ob.op_rows(), name, "A", a, "B", b, rule);
  Tape<S>& t = a.tape();
  const Var<S> c = t.record(name, backward, oa.op_rows(), ob.op_cols(), {a, b});
  gemm(oa, ob, t.value_of(c).data(), false);
  t.finish(c);
  return c;
}

}  // namespace detail

/// Matrix product `A B` (shapes m x k and k x n).
template <class S>
Var<S> matmul(Var<S> a, Var<S> b) {
  return detail::product("matmul", detail::matmul_backward<S>, a, b, false, false, " (A.cols must equal B.rows)");
}

/// `A^T B` without forming the transpose (shapes k x m and k x n).
template <class S>
Var<S> matmul_tn(Var<S> a, Var<S> b) {
  return detail::product("matmul_tn", detail::matmul_tn_backward<S>, a, b, true, false, " (A.rows must equal B.rows)");
}

/// `A B^T` without forming the transpose (shapes m x k and n x k).
template <class S>
Var<S> matmul_nt(Var<S> a, Var<S> b) {
  return detail::product("matmul_nt", detail::matmul_nt_backward<S>, a, b, false, true, " (A.cols must equal B.cols)");
}

/// The affine map of a dense layer, `W x + b`: W is out x in, x is in x batch, b is out x 1.
/// One GEMM plus a broadcast add, one node on the tape.
template <class S>
Var<S> linear(Var<S> w, Var<S> x, Var<S> b) {
  detail::require_same_tape("linear", w, x);
  detail::require_same_tape("linear", w, b);
  if (w.cols() != x.rows())
    throw ShapeError("linear", "W is " + detail::shape_of(w) + " but x is " + detail::shape_of(x) +
                                   " (W.cols must equal x.rows)");
  detail::require_bias("linear", "W", w, b);
  Tape<S>& t = w.tape();
  const Var<S> y = t.record("linear", detail::linear_backward<S>, w.rows(), x.cols(), {w, x, b});
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
  detail::require_same_tape("add_bias", a, b);
  detail::require_bias("add_bias", "a", a, b);
  Tape<S>& t = a.tape();
  const Var<S> y = t.record("add_bias", detail::add_bias_backward<S>, a.rows(), a.cols(), {a, b});
  detail::map_column_entries(
      t.value_of(y).data(), a.rows(), a.cols(), false,
      []<class P>(Index, const P& x, const P& c) { return detail::padd(x, c); }, a.value().data(),
      detail::BroadcastColumn<S>{b.value().data()});
  t.finish(y);
  return y;
}

}  // namespace latent::inline v0
