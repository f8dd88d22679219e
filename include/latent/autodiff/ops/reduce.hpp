#pragma once
/// @file
/// Reductions: sums, means and the log-sum-exp over the rows of each column.

#include "latent/autodiff/ops/checks.hpp"

namespace latent::inline v0 {
namespace detail {

// s = sum_ij a_ij:  da += g (broadcast).      m = s / n:  da += g / n (arg holds 1/n).
template <class S>
void sum_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0);
  t.accumulate(a, Matrix<S>::Constant(a.rows(), a.cols(), t.adjoint_of(id)(0, 0) * t.arg(out)));
}
// s_j = sum_i a_ij (1 x cols):  da_ij += g_j.
template <class S>
void colwise_sum_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0);
  t.accumulate(a, t.adjoint_of(id).replicate(a.rows(), 1));
}
// s_i = sum_j a_ij (rows x 1):  da_ij += g_i.
template <class S>
void rowwise_sum_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0);
  t.accumulate(a, t.adjoint_of(id).replicate(1, a.cols()));
}
// out = c 1^T:  dc += G 1.
template <class S>
void broadcast_cols_backward(Tape<S>& t, std::int32_t id) {
  t.accumulate_row_sums(t.input(t.at(id), 0), t.adjoint_of(id));
}
// l_j = log sum_i exp(a_ij):  da_ij += g_j softmax_j(a)_i = g_j exp(a_ij - l_j).
template <class S>
void colwise_logsumexp_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0);
  const auto l = out.value().row(0).array();
  const auto g = t.adjoint_of(id).row(0).array();
  t.accumulate(a, ((a.value().array().rowwise() - l).exp().rowwise() * g).matrix());
}

template <class S>
Var<S> reduce_all(const char* name, Var<S> a, S factor) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record(name, sum_backward<S>, 1, 1, {a}, factor);
  t.value_of(out)(0, 0) = a.value().sum() * factor;
  t.finish(out);
  return out;
}

}  // namespace detail

/// The sum of all entries, 1x1.
template <class S>
Var<S> sum(Var<S> a) {
  return detail::reduce_all("sum", a, S(1));
}

/// The mean of all entries, 1x1. On a 1 x batch row of per-example losses this is the batch
/// average, the unit latent reports losses in.
template <class S>
Var<S> mean(Var<S> a) {
  return detail::reduce_all("mean", a, S(1) / S(a.rows() * a.cols()));
}

/// Sum over the rows of each column: 1 x cols (one number per example).
template <class S>
Var<S> colwise_sum(Var<S> a) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record("colwise_sum", detail::colwise_sum_backward<S>, 1, a.cols(), {a});
  t.value_of(out) = a.value().colwise().sum();
  t.finish(out);
  return out;
}

/// Sum over the columns of each row: rows x 1 (one number per feature, summed over the batch).
template <class S>
Var<S> rowwise_sum(Var<S> a) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record("rowwise_sum", detail::rowwise_sum_backward<S>, a.rows(), 1, {a});
  t.value_of(out) = a.value().rowwise().sum();
  t.finish(out);
  return out;
}

/// A column (rows x 1) repeated into `cols` columns: the adjoint of `rowwise_sum`.
template <class S>
Var<S> broadcast_cols(Var<S> column, Index cols) {
  if (column.cols() != 1) throw ShapeError("broadcast_cols", "expects a column but got " + detail::shape_of(column));
  Tape<S>& t = column.tape();
  const Var<S> out = t.record("broadcast_cols", detail::broadcast_cols_backward<S>, column.rows(), cols, {column});
  t.value_of(out) = column.value().replicate(1, cols);
  return out;
}

/// `log sum_i exp(a_ij)` for each column j: 1 x cols, computed as `m_j + log sum_i exp(a_ij - m_j)`
/// with `m_j = max_i a_ij`, so it neither overflows nor loses the largest term.
template <class S>
Var<S> colwise_logsumexp(Var<S> a) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record("colwise_logsumexp", detail::colwise_logsumexp_backward<S>, 1, a.cols(), {a});
  const auto x = a.value();
  auto v = t.value_of(out);
  for (Index j = 0; j < x.cols(); ++j) {
    const S m = x.col(j).maxCoeff();
    v(0, j) = m + std::log((x.col(j).array() - m).exp().sum());
  }
  t.finish(out);
  return out;
}

}  // namespace latent::inline v0
