#pragma once
/// @file
/// Reductions: sums, means and the log-sum-exp over the rows of each column.

#include "latent/autodiff/ops/elementwise.hpp"

namespace latent::inline v0 {
namespace detail {

// s = factor sum_ij a_ij (factor 1 for a sum, 1/n for a mean):  da += factor g (broadcast).
template <class S>
Var<S> reduce_all(const char* name, Var<S> a, S factor) {
  Tape<S>& t = a.tape();
  const Var<S> out = t.record(name, 1, 1, {a}, [a, factor](Tape<S>& t, Var<S> out) {
    const S g = t.adjoint_of(out)(0, 0) * factor;
    t.accumulate_entries(a, [g]<class P>() { return P(g); });
  });
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
  // s_j = sum_i a_ij (1 x cols):  da_ij += g_j.
  const Var<S> out = t.record("colwise_sum", 1, a.cols(), {a}, [a](Tape<S>& t, Var<S> out) {
    const S* g = t.adjoint_of(out).data();
    t.accumulate_column_entries(a, [g]<class P>(Index j) { return P(g[j]); });
  });
  detail::column_sums(t.value_of(out).data(), a.rows(), a.cols(), detail::unchanged, a.value().data());
  t.finish(out);
  return out;
}

/// Sum over the columns of each row: rows x 1 (one number per feature, summed over the batch).
template <class S>
Var<S> rowwise_sum(Var<S> a) {
  Tape<S>& t = a.tape();
  // s_i = sum_j a_ij (rows x 1):  da_ij += g_i.
  const Var<S> out = t.record("rowwise_sum", a.rows(), 1, {a}, [a](Tape<S>& t, Var<S> out) {
    t.accumulate_column_entries(a, detail::column_value, detail::BroadcastColumn<S>{t.adjoint_of(out).data()});
  });
  detail::row_sums(t.value_of(out).data(), a.value().data(), a.rows(), a.cols(), 0, a.rows(), false);
  t.finish(out);
  return out;
}

/// A column (rows x 1) repeated into `cols` columns: the adjoint of `rowwise_sum`.
template <class S>
Var<S> broadcast_cols(Var<S> column, Index cols) {
  if (column.cols() != 1) throw ShapeError("broadcast_cols", "expects a column but got " + detail::shape_of(column));
  Tape<S>& t = column.tape();
  // out = c 1^T:  dc += G 1.
  const Var<S> out = t.record("broadcast_cols", column.rows(), cols, {column},
                              [column](Tape<S>& t, Var<S> out) { t.accumulate_row_sums(column, t.adjoint_of(out)); });
  detail::map_column_entries(t.value_of(out).data(), column.rows(), cols, false, detail::column_value,
                             detail::BroadcastColumn<S>{column.value().data()});
  return out;
}

/// `log sum_i exp(a_ij)` for each column j: 1 x cols, computed as `m_j + log sum_i exp(a_ij - m_j)`
/// with `m_j = max_i a_ij`, so it neither overflows nor loses the largest term.
template <class S>
Var<S> colwise_logsumexp(Var<S> a) {
  Tape<S>& t = a.tape();
  // l_j = log sum_i exp(a_ij):  da_ij += g_j softmax_j(a)_i = g_j exp(a_ij - l_j).
  const Var<S> out = t.record("colwise_logsumexp", 1, a.cols(), {a}, [a](Tape<S>& t, Var<S> out) {
    const S *l = out.value().data(), *g = t.adjoint_of(out).data();
    t.accumulate_column_entries(
        a, [l, g]<class P>(Index j, const P& x) { return exp(x - P(l[j])) * P(g[j]); }, a.value());
  });
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
