#pragma once
/// @file
/// `require_size`: the check every constructor runs on the sizes it was given, before any memory
/// is allocated, so a negative width is reported by its option's name instead of as
/// `std::bad_alloc` (Eigen reads -5 columns as 2^64 - 5).

#include <string>
#include <string_view>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// Throws `ShapeError` "`where`: `option` must be at least `min`, got `value`" unless
/// value >= min; returns value, so it can sit in a member initializer. Takes views and builds
/// strings only to throw: training steps call it, and a warm step allocates nothing.
inline Index require_size(std::string_view where, std::string_view option, Index value, Index min = 1) {
  if (value < min)
    throw ShapeError(std::string(where), std::string(option) + " must be at least " + std::to_string(min) + ", got " +
                                             std::to_string(value));
  return value;
}

/// `require_size` on every entry of a list of widths, each named `option[k]`.
inline void require_sizes(std::string_view where, std::string_view option, const std::vector<Index>& values,
                          Index min = 1) {
  for (std::size_t k = 0; k < values.size(); ++k)
    if (values[k] < min) require_size(where, std::string(option) + "[" + std::to_string(k) + "]", values[k], min);
}

}  // namespace latent::inline v0
