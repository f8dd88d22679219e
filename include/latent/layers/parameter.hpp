#pragma once
/// @file
/// `Parameter`: a trainable matrix and its gradient, owned by a module.

#include <string>

#include "latent/autodiff/tape.hpp"

namespace latent::inline v0 {

/// A trainable matrix (`value`) with its gradient (`grad`, same shape), named locally within its
/// module ("weight", "bias"); `Module::named_parameters()` gives the dotted path.
template <class S>
struct Parameter {
  std::string name;  ///< local name, e.g. "weight"
  Matrix<S> value;   ///< the numbers the model computes with
  Matrix<S> grad;    ///< d loss / d value, accumulated by `Tape::backward`

  Parameter() = default;
  /// A `rows x cols` parameter of zeros with a zero gradient.
  Parameter(std::string n, Index rows, Index cols)
      : name(std::move(n)), value(Matrix<S>::Zero(rows, cols)), grad(Matrix<S>::Zero(rows, cols)) {}

  /// This parameter as a leaf of `tape`: read in place, gradient added into `grad`.
  Var<S> on(Tape<S>& tape) { return tape.parameter(value, grad); }
  /// Number of scalars in it.
  [[nodiscard]] Index size() const noexcept { return value.size(); }
};

}  // namespace latent::inline v0
