#pragma once
/// @file
/// Random permutations: the Fisher-Yates shuffle driven by latent's `Rng`.

#include <cstdint>
#include <numeric>
#include <span>
#include <utility>

#include "latent/core/rng.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// Sets `order` to 0, 1, ..., n-1 shuffled uniformly at random (Fisher-Yates: for i = n-1 down
/// to 1 swap element i with element `rng.below(i + 1)`), so it depends only on the state of `rng`.
inline void random_permutation(std::span<Index> order, Rng& rng) noexcept {
  std::iota(order.begin(), order.end(), Index{0});
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}

}  // namespace latent::inline v0
