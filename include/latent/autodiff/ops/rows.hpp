#pragma once
/// @file
/// Row blocks: split one matrix into row ranges and stack matrices on top of each other, so two
/// heads (mu and log-variance) can share one GEMM and be taken apart afterwards.

#include "latent/autodiff/ops/checks.hpp"

namespace latent::inline v0 {

/// Rows `start .. start + count - 1` of `a` (all columns).
template <class S>
Var<S> slice_rows(Var<S> a, Index start, Index count) {
  if (start < 0 || count < 0 || start + count > a.rows())
    throw ShapeError("slice_rows", "rows " + std::to_string(start) + ".." + std::to_string(start + count) +
                                       " are outside a " + detail::shape_of(a) + " matrix");
  Tape<S>& t = a.tape();
  // out = a[start : start + count, :]:  da[start : start + count, :] += G.
  const Var<S> out = t.record("slice_rows", count, a.cols(), {a}, [a, start](Tape<S>& t, Var<S> out) {
    t.adjoint(a).middleRows(start, out.rows()) += t.adjoint_of(out);
  });
  t.value_of(out) = a.value().middleRows(start, count);
  return out;
}

/// `a` stacked on top of `b` (same number of columns).
template <class S>
Var<S> concat_rows(Var<S> a, Var<S> b) {
  detail::require_shapes(a.cols() == b.cols(), "concat_rows", "a", a, "b", b, " (column counts must match)");
  Tape<S>& t = a.tape();
  // out = [a; b]:  da += G[top], db += G[bottom].
  const Var<S> out = t.record("concat_rows", a.rows() + b.rows(), a.cols(), {a, b}, [a, b](Tape<S>& t, Var<S> out) {
    const auto g = t.adjoint_of(out);
    t.accumulate(a, g.topRows(a.rows()));
    t.accumulate(b, g.bottomRows(b.rows()));
  });
  auto v = t.value_of(out);
  v.topRows(a.rows()) = a.value();
  v.bottomRows(b.rows()) = b.value();
  return out;
}

}  // namespace latent::inline v0
