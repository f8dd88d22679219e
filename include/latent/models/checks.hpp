#pragma once
/// @file
/// The guard rails every model shares: a batch of the model's size (an empty batch refused as
/// its own error), and a non-finite loss term stopped with its name. Sizes: core/sizes.hpp.

#include <cmath>
#include <string>

#include "latent/autodiff/ops/checks.hpp"
#include "latent/core/error.hpp"
#include "latent/core/sizes.hpp"

namespace latent::inline v0 {

/// Throws `ShapeError` naming `where` unless a `rows x cols` matrix of examples (one per column)
/// has the model's `features` rows: "encode: x is 65x3 but the model reads 64 features", not
/// the inner op that would fail on it. `what` names the matrix ("x", "z").
inline void require_rows(const char* where, const char* what, Index rows, Index cols, Index features,
                         const char* meaning = "features") {
  if (rows != features)
    throw ShapeError(where, std::string(what) + " is " + detail::shape_str(rows, cols) + " but the model reads " +
                                std::to_string(features) + " " + meaning + " (one example per column)");
}

/// `require_rows`, and at least one column: a batch to compute a mean loss over.
inline void require_batch(const char* where, const char* what, Index rows, Index cols, Index features,
                          const char* meaning = "features") {
  require_rows(where, what, rows, cols, features, meaning);
  if (cols < 1)
    throw ShapeError(where, std::string(what) + " is " + detail::shape_str(rows, cols) +
                                ": an empty batch (no columns), which has no mean loss");
}

/// Throws `NumericError` naming `where` and the loss `term` if its 1x1 value is NaN or
/// infinite. Every model checks its loss terms on every step: a NaN loss would otherwise turn
/// every parameter into NaN on the next optimizer step, silently.
template <class S>
void require_finite(const char* where, const char* term, Var<S> v) {
  const S value = v.item();
  if (!std::isfinite(value))
    throw NumericError(where, std::string("the ") + term + " became " + (std::isnan(value) ? "NaN" : "infinite") +
                                  " (lower the learning rate, or check the input for NaN or infinity)");
}

}  // namespace latent::inline v0
