#pragma once
/// @file
/// Shape checks shared by the ops: each failure names the op and both shapes.

#include <string>

#include "latent/autodiff/tape.hpp"

namespace latent::inline v0::detail {

template <class S>
std::string shape_of(Var<S> v) {
  return shape_str(v.rows(), v.cols());
}

/// Throws `ShapeError` "op: a is RxC but b is RxC" unless `ok`.
template <class S>
void require_shapes(bool ok, const char* op, const char* a_name, Var<S> a, const char* b_name, Var<S> b,
                    const char* why = "") {
  if (!ok)
    throw ShapeError(op, std::string(a_name) + " is " + shape_of(a) + " but " + b_name + " is " + shape_of(b) + why);
}

template <class S>
void require_same_shape(const char* op, Var<S> a, Var<S> b) {
  require_shapes(a.rows() == b.rows() && a.cols() == b.cols(), op, "a", a, "b", b, " (shapes must be equal)");
}

template <class S>
void require_same_tape(const char* op, Var<S> a, Var<S> b) {
  if (&a.tape() != &b.tape()) throw Error(op, "the two Vars live on different tapes");
}

}  // namespace latent::inline v0::detail
