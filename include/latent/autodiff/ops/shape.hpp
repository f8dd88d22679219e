#pragma once
/// @file
/// Ops that only move entries: repeating columns (one column per Monte Carlo sample) and
/// reinterpreting the shape of a matrix (per-sample values regrouped per example).

#include "latent/autodiff/ops/checks.hpp"

namespace latent::inline v0 {
/// Every column of `a` repeated `k` times in a row: column j of `a` becomes columns
/// j k, ..., j k + k - 1. With k Monte Carlo samples per example, the samples of one example stay
/// adjacent, so `reshape(row, k, batch)` later puts them in one column.
template <class S>
Var<S> repeat_cols(Var<S> a, Index k) {
  if (k < 1) throw ShapeError("repeat_cols", "k must be at least 1, got " + std::to_string(k));
  Tape<S>& t = a.tape();
  // out(:, j k + l) = a(:, j) for l < k:  da(:, j) += sum_l G(:, j k + l).
  const Var<S> out = t.record("repeat_cols", a.rows(), a.cols() * k, {a}, [a, k](Tape<S>& t, Var<S> out) {
    const auto g = t.adjoint_of(out);
    auto da = t.adjoint(a);
    for (Index j = 0; j < a.cols(); ++j) da.col(j) += g.middleCols(j * k, k).rowwise().sum();
  });
  auto v = t.value_of(out);
  for (Index j = 0; j < a.cols(); ++j) v.middleCols(j * k, k) = a.value().col(j).replicate(1, k);
  return out;
}

/// The entries of `a` in column-major order, read as a `rows x cols` matrix (sizes must agree).
template <class S>
Var<S> reshape(Var<S> a, Index rows, Index cols) {
  if (rows * cols != a.rows() * a.cols())
    throw ShapeError("reshape", "cannot read a " + detail::shape_of(a) + " matrix as " + detail::shape_str(rows, cols));
  Tape<S>& t = a.tape();
  // Same entries in the same (column-major) order:  da += G, read with a's shape.
  const Var<S> out = t.record("reshape", rows, cols, {a}, [a](Tape<S>& t, Var<S> out) {
    t.accumulate(a, ConstView<S>(t.adjoint_of(out).data(), a.rows(), a.cols()));
  });
  t.value_of(out) = ConstView<S>(a.value().data(), rows, cols);
  return out;
}

}  // namespace latent::inline v0
