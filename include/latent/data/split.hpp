#pragma once
/// @file
/// Subsets of a dataset: chosen columns, and a seeded train/validation split.

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/core/rng.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/shuffle.hpp"

namespace latent::inline v0 {

/// The examples of `data` at columns `indices`, in that order, with their labels.
/// Throws `ShapeError` if an index is outside [0, N).
template <DatasetElement T>
[[nodiscard]] Dataset<T> select(const Dataset<T>& data, std::span<const Index> indices) {
  Dataset<T> out;
  out.features.resize(data.dim(), Index(indices.size()));
  if (data.has_labels()) out.labels.resize(indices.size());
  for (std::size_t j = 0; j < indices.size(); ++j) {
    const Index i = indices[j];
    if (i < 0 || i >= data.size())
      throw ShapeError("select", "index " + std::to_string(i) + " outside a dataset of " + std::to_string(data.size()) +
                                     " examples");
    out.features.col(Index(j)) = data.features.col(i);
    if (data.has_labels()) out.labels[j] = data.labels[std::size_t(i)];
  }
  return out;
}

/// A dataset cut in two disjoint parts.
template <DatasetElement T>
struct TrainValidation {
  Dataset<T> train;       ///< the examples to fit on
  Dataset<T> validation;  ///< the held-out examples
};

/// Splits `data` at random: round(fraction * N) examples go to `validation`, the rest to `train`,
/// each part in the order of a Fisher-Yates shuffle drawn from `rng` (same state, same split).
/// Throws `ShapeError` unless 0 <= `validation_fraction` <= 1.
template <DatasetElement T>
[[nodiscard]] TrainValidation<T> split_train_validation(const Dataset<T>& data, double validation_fraction, Rng& rng) {
  if (!(validation_fraction >= 0.0 && validation_fraction <= 1.0))
    throw ShapeError("split_train_validation",
                     "validation_fraction must be in [0, 1], got " + std::to_string(validation_fraction));
  std::vector<Index> order(std::size_t(data.size()));
  random_permutation(order, rng);
  const auto n_val = std::size_t(std::llround(validation_fraction * double(order.size())));
  const std::span<const Index> all(order);
  return {select(data, all.subspan(n_val)), select(data, all.first(n_val))};
}

}  // namespace latent::inline v0
