#pragma once
/// @file
/// Scaling features: uint8 pixels to [0, 1], and per-feature affine maps fitted on the training
/// set and applied unchanged to validation and test data (fitting on test data would leak it).

#include <string>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"
#include "latent/data/dataset.hpp"

namespace latent::inline v0 {

/// The dataset with pixels 0..255 mapped to x / 255 in [0, 1]; labels are copied.
template <Scalar S>
[[nodiscard]] Dataset<S> to_unit(const Uint8Dataset& data) {
  return {data.features.template cast<S>() / S(255), data.labels};
}

/// x mapped into [0, 1] by one affine map for all features, x' = (x - min) / (max - min) with
/// min and max over every entry: what a Bernoulli likelihood needs of real data (pixels 0..16,
/// negative values). One range keeps the relations between features (an image keeps its
/// contrast); `Normalizer::min_max` scales each feature on its own and, fitted on training
/// data, maps test data the same way. Constant data become 0. Throws `ShapeError` for an empty
/// matrix and `NumericError` for a NaN or infinite entry (whose range means nothing).
template <Scalar S>
[[nodiscard]] Matrix<S> to_unit(const Matrix<S>& x) {
  if (x.size() == 0) throw ShapeError("to_unit", "cannot scale " + detail::shape_str(x.rows(), x.cols()) + " data");
  if (!x.allFinite()) throw NumericError("to_unit", "the data hold NaN or infinite values");
  const S lo = x.minCoeff(), range = x.maxCoeff() - lo;
  return ((x.array() - lo) * (range > S(0) ? S(1) / range : S(1))).matrix();
}

/// The dataset with its features mapped into [0, 1] by `to_unit(x)`; labels are copied.
template <Scalar S>
[[nodiscard]] Dataset<S> to_unit(const Dataset<S>& data) {
  return {to_unit(data.features), data.labels};
}

/// A per-feature affine map x' = (x - shift) * scale, fitted on training data.
template <Scalar S>
class Normalizer {
 public:
  /// Standardization: shift = mean, scale = 1 / standard deviation (population, divide by N)
  /// of each feature (row) of `x`, so the fitted data have mean 0 and variance 1. A constant
  /// feature gets scale 1 (it becomes 0) instead of a division by zero.
  /// Throws `ShapeError` if `x` has no columns.
  [[nodiscard]] static Normalizer standardize(const Matrix<S>& x) {
    require_columns(x, "Normalizer::standardize");
    const Vector<S> mean = x.rowwise().mean();
    const Vector<S> sd = ((x.colwise() - mean).array().square().rowwise().mean()).sqrt().matrix();
    return {mean, inverse_or_one(sd)};
  }

  /// Min-max scaling: shift = min, scale = 1 / (max - min) of each feature, so the fitted data
  /// lie in [0, 1]. A constant feature gets scale 1. Throws `ShapeError` if `x` has no columns.
  [[nodiscard]] static Normalizer min_max(const Matrix<S>& x) {
    require_columns(x, "Normalizer::min_max");
    const Vector<S> lo = x.rowwise().minCoeff();
    return {lo, inverse_or_one(x.rowwise().maxCoeff() - lo)};
  }

  /// Applies x' = (x - shift) * scale to every column of `x`, in place.
  /// Throws `ShapeError` if `x` has another number of features than the fitted data.
  void apply(Matrix<S>& x) const {
    check(x, "Normalizer::apply");
    x.colwise() -= shift_;
    x.array().colwise() *= scale_.array();
  }

  /// Undoes `apply`: x = x' / scale + shift, in place (e.g. to show reconstructions).
  /// Throws `ShapeError` if `x` has another number of features than the fitted data.
  void invert(Matrix<S>& x) const {
    check(x, "Normalizer::invert");
    x.array().colwise() /= scale_.array();
    x.colwise() += shift_;
  }

  /// The per-feature shift (mean or minimum).
  [[nodiscard]] const Vector<S>& shift() const noexcept { return shift_; }
  /// The per-feature scale (1 / standard deviation or 1 / range).
  [[nodiscard]] const Vector<S>& scale() const noexcept { return scale_; }

 private:
  Normalizer(Vector<S> shift, Vector<S> scale) : shift_(std::move(shift)), scale_(std::move(scale)) {}

  static Vector<S> inverse_or_one(const Vector<S>& spread) {
    return spread.unaryExpr([](S s) { return s > S(0) ? S(1) / s : S(1); });
  }
  static void require_columns(const Matrix<S>& x, const char* where) {
    if (x.cols() == 0) throw ShapeError(where, "cannot fit on " + detail::shape_str(x.rows(), 0) + " data");
  }
  void check(const Matrix<S>& x, const char* where) const {
    if (x.rows() != shift_.size())
      throw ShapeError(where, "fitted on " + std::to_string(shift_.size()) + " features but x is " +
                                  detail::shape_str(x.rows(), x.cols()));
  }

  Vector<S> shift_, scale_;
};

}  // namespace latent::inline v0
