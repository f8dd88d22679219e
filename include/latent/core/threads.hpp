#pragma once
/// @file
/// How many threads latent's GEMMs and elementwise loops may use.

#include <string>

#include <Eigen/Core>

#include "latent/core/error.hpp"

namespace latent::inline v0 {
namespace detail {
inline int& thread_count() noexcept {
  static int n = 1;
  return n;
}
}  // namespace detail

/// Sets the number of threads latent (and Eigen's own products) may use. Threads need the
/// program to be built with OpenMP (`-fopenmp`, CMake `OpenMP::OpenMP_CXX`); without it
/// everything runs on one thread. Results are bit-identical for a given seed and thread count.
/// Throws `Error` for n < 1 (a count computed wrongly, not a wish for "as few as possible").
inline void set_num_threads(int n) {
  if (n < 1) throw Error("set_num_threads", "the thread count must be at least 1, got " + std::to_string(n));
  detail::thread_count() = n;
  Eigen::setNbThreads(detail::thread_count());
}

/// The number of threads set by `set_num_threads` (1 by default).
inline int num_threads() noexcept { return detail::thread_count(); }

}  // namespace latent::inline v0
