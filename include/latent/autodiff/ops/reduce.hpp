#pragma once
/// @file
/// Reductions: sums, means and the log-sum-exp over the rows of each column.

#include "latent/autodiff/ops/elementwise.hpp"

namespace latent::inline v0 {
namespace detail {

// s = sum_ij a_ij:  da += g (broadcast).      m = s / n:  da += g / n (arg holds 1/n).
template <class S>
void sum_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0);
  const S g = t.adjoint_of(id)(0, 0) * t.arg(out);
  t.accumulate_entries(a, [g]<class P>() { return pset1<P>(g); });
}
// s_j = sum_i a_ij (1 x cols):  da_ij += g_j.
template <class S>
void colwise_sum_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0);
  const S* g = t.adjoint_of(id).data();
  t.accumulate_column_entries(a, [g]<class P>(Index j) { return pset1<P>(g[j]); });
}
// s_i = sum_j a_ij (rows x 1):  da_ij += g_i.
template <class S>
void rowwise_sum_backward(Tape<S>& t, std::int32_t id) {
  const Var<S> out = t.at(id), a = t.input(out, 0);
  t.accumulate_column_entries(a, column_value, BroadcastColumn<S>{t.adjoint_of(id).data()});
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
  const S *l = out.value().data(), *g = t.adjoint_of(id).data();
  t.accumulate_column_entries(
      a, [l, g]<class P>(Index j, const P& x) { return pmul(packet_exp(psub(x, pset1<P>(l[j]))), pset1<P>(g[j])); },
      a.value());
}

template <class S>
Var<S> reduce_all(const char* name, Var<S> a, S factor) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record(name, sum_backward<S>, 1, 1, {a}, factor);
  S total;
  column_sums(&total, a.rows() * a.cols(), 1, unchanged, a.value().data());
  t.value_of(out)(0, 0) = total * factor;
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
  detail::column_sums(t.value_of(out).data(), a.rows(), a.cols(), detail::unchanged, a.value().data());
  t.finish(out);
  return out;
}

/// Sum over the columns of each row: rows x 1 (one number per feature, summed over the batch).
template <class S>
Var<S> rowwise_sum(Var<S> a) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record("rowwise_sum", detail::rowwise_sum_backward<S>, a.rows(), 1, {a});
  detail::row_sums(t.value_of(out).data(), a.value().data(), a.rows(), a.cols(), 0, a.rows(), false);
  t.finish(out);
  return out;
}

/// A column (rows x 1) repeated into `cols` columns: the adjoint of `rowwise_sum`.
template <class S>
Var<S> broadcast_cols(Var<S> column, Index cols) {
  if (column.cols() != 1) throw ShapeError("broadcast_cols", "expects a column but got " + detail::shape_of(column));
  Tape<S>& t = column.tape();
  const Var<S> out = t.record("broadcast_cols", detail::broadcast_cols_backward<S>, column.rows(), cols, {column});
  detail::map_column_entries(t.value_of(out).data(), column.rows(), cols, false, detail::column_value,
                             detail::BroadcastColumn<S>{column.value().data()});
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
