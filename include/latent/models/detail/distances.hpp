#pragma once
/// @file
/// Squared Euclidean distances between the columns of two matrices, shared by k-means and
/// k-nearest neighbours.

#include <string>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0::detail {

/// `D(i, j) = ||a_i - b_j||^2` for columns a_i of `a` and b_j of `b`: a.cols() x b.cols(),
/// computed as `||a_i||^2 - 2 a_i^T b_j + ||b_j||^2` so the work is one GEMM. Rounding can make
/// an entry slightly negative; it is clamped to 0. Throws `ShapeError` naming both shapes when
/// the row counts differ; `where` names the caller.
template <class S>
Matrix<S> squared_distances(const char* where, const Eigen::Ref<const Matrix<S>>& a,
                            const Eigen::Ref<const Matrix<S>>& b) {
  if (a.rows() != b.rows())
    throw ShapeError(where, "points are " + shape_str(a.rows(), a.cols()) + " and " + shape_str(b.rows(), b.cols()) +
                                ": they must have the same number of rows (features)");
  Matrix<S> d = S(-2) * a.transpose() * b;
  d.colwise() += a.colwise().squaredNorm().transpose();
  d.rowwise() += b.colwise().squaredNorm();
  return d.cwiseMax(S(0));
}

}  // namespace latent::inline v0::detail
