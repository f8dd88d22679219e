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

/// Sets the number of threads latent may use. latent's products and elementwise passes run on
/// its own worker pool (`std::thread`, started on first use); Eigen's own products, which latent
/// does not use on its hot paths, follow the same count when the program is built with OpenMP.
/// Results are bit-identical for a given seed and thread count. Throws `Error` for n < 1 (a
/// count computed wrongly, not a wish for "as few as possible").
inline void set_num_threads(int n) {
  if (n < 1) throw Error("set_num_threads", "the thread count must be at least 1, got " + std::to_string(n));
  detail::thread_count() = n;
  Eigen::setNbThreads(detail::thread_count());
}

/// The number of threads set by `set_num_threads` (1 by default).
inline int num_threads() noexcept { return detail::thread_count(); }

}  // namespace latent::inline v0
