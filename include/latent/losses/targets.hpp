#pragma once
/// @file
/// The check every Bernoulli likelihood runs on its targets: x must lie in [0, 1]. Outside it,
/// `-x log p - (1 - x) log(1 - p)` is unbounded below, so training "succeeds" with a loss that
/// falls to minus thousands of nats while the model learns nothing (pixels 0..255 or 0..16,
/// standardized data with negative values).

#include <string>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

namespace detail {

// Throws for the first entry of x outside [0, 1] (NaN included), in column-major order.
template <class Derived>
void throw_outside_unit(const char* where, const char* likelihood, const Eigen::DenseBase<Derived>& x) {
  for (Index j = 0; j < x.cols(); ++j)
    for (Index i = 0; i < x.rows(); ++i)
      if (const auto v = x(i, j); !(v >= 0 && v <= 1))
        throw Error(where, std::string("the ") + likelihood + " likelihood needs targets in [0, 1], but x(" +
                               std::to_string(i) + ", " + std::to_string(j) + ") = " + std::to_string(double(v)) +
                               " (feature " + std::to_string(i) + " of example " + std::to_string(j) + " of a " +
                               shape_str(x.rows(), x.cols()) +
                               " batch); scale the data with to_unit or Normalizer::min_max, or use a Gaussian "
                               "likelihood (likelihood = gaussian)");
}

}  // namespace detail

/// Throws `Error` naming `where`, the likelihood, the first entry of `x` outside [0, 1] (or NaN)
/// with its position, and the fixes (`to_unit`, `Normalizer::min_max`, a Gaussian likelihood).
/// One branch-free pass over x, which the compiler vectorizes; the scan for the position runs
/// only on failure.
template <class Derived>
void require_unit_interval(const char* where, const Eigen::DenseBase<Derived>& x,
                           const char* likelihood = "bernoulli") {
  using T = typename Derived::Scalar;
  bool inside = true;
  for (Index j = 0; j < x.cols(); ++j)
    for (Index i = 0; i < x.rows(); ++i) inside &= (x(i, j) >= T(0)) & (x(i, j) <= T(1));
  if (!inside) detail::throw_outside_unit(where, likelihood, x);
}

}  // namespace latent::inline v0
