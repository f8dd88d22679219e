#pragma once
/// @file
/// `Parameter`: a trainable matrix and its gradient, owned by a module.

#include <string>

#include "latent/autodiff/tape.hpp"
#include "latent/core/sizes.hpp"

namespace latent::inline v0 {

/// A trainable matrix (`value`) and its gradient (`grad()`, same shape), named locally within its
/// module ("weight", "bias"); `Module::named_parameters()` gives the dotted path.
template <class S>
struct Parameter {
  std::string name;  ///< local name, e.g. "weight"
  Matrix<S> value;   ///< the numbers the model computes with

  Parameter() = default;
  /// A `rows x cols` parameter of zeros with a zero gradient. Throws `ShapeError` for a negative
  /// size (0 is an empty parameter, e.g. a layer's absent bias).
  Parameter(std::string n, Index rows, Index cols)
      : name(std::move(n)),
        value(Matrix<S>::Zero(require_size(name, "rows", rows, 0), require_size(name, "cols", cols, 0))),
        gradient_(rows, cols) {}

  /// d loss / d value, as accumulated by `Tape::backward` since the last `zero_grad()`. The
  /// reference may be written (clipping, tests); it stays valid until the next `zero_grad()` or
  /// backward pass.
  Matrix<S>& grad() { return gradient_.matrix(); }
  /// Makes the gradient zero (without writing it: the next backward pass assigns).
  void zero_grad() noexcept { gradient_.zero(); }
  /// The gradient in the form the tape builds it, for optimizers (see `Gradient`).
  Gradient<S>& gradient() noexcept { return gradient_; }
  /// Read-only `gradient()`.
  const Gradient<S>& gradient() const noexcept { return gradient_; }

  /// This parameter as a leaf of `tape`: read in place, gradient added into `gradient()` when
  /// the tape runs backward. `const`, so a `const` forward can record it.
  Var<S> on(Tape<S>& tape) const { return tape.parameter(value, gradient_); }
  /// Number of scalars in it.
  [[nodiscard]] Index size() const noexcept { return value.size(); }

 private:
  // The accumulator the tape adds into: recording a parameter does not change it, a backward
  // pass over that tape does (mutable so a const module can hand it to the tape).
  mutable Gradient<S> gradient_;
};

}  // namespace latent::inline v0
