#pragma once
/// @file
/// The scalar types latent computes in, and the matrix types built on them.

#include <concepts>

#include <Eigen/Core>

namespace latent::inline v0 {

/// The element types latent is written for: `float` (fast) and `double` (gradient checks).
template <class T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

/// A dense column-major matrix; in latent one column is one example (`features x batch`).
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

/// A dense column vector.
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// Index type for rows, columns and sizes (Eigen's signed index).
using Index = Eigen::Index;

}  // namespace latent::inline v0
