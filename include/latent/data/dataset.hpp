#pragma once
/// @file
/// `Dataset<T>`: examples as the columns of a `features x N` matrix, plus optional labels.

#include <concepts>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// The element types a dataset may store: a latent `Scalar`, or `std::uint8_t` pixels (0..255),
/// which take a quarter of the memory of `float` (Fashion-MNIST train: 47 MB instead of 188 MB)
/// and are converted to [0, 1] one batch at a time by `Batcher`.
template <class T>
concept DatasetElement = Scalar<T> || std::same_as<T, std::uint8_t>;

/// A dataset held in memory: `features` is `features x N`, column-major, one example per column;
/// `labels` is empty (unlabelled) or holds one integer class per column.
template <DatasetElement T>
struct Dataset {
  /// The examples, one per column.
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> features;
  /// One class per example, or empty when the data carry no labels.
  std::vector<int> labels;

  /// Number of examples N (columns).
  [[nodiscard]] Index size() const noexcept { return features.cols(); }
  /// Number of features per example (rows), e.g. 784 for 28x28 images.
  [[nodiscard]] Index dim() const noexcept { return features.rows(); }
  /// Whether every example has a label.
  [[nodiscard]] bool has_labels() const noexcept { return !labels.empty(); }

  /// Throws `ShapeError` (naming `where`) unless `labels` is empty or has one entry per example.
  void check(const std::string& where) const {
    if (!labels.empty() && Index(labels.size()) != size())
      throw ShapeError(where, std::to_string(labels.size()) + " labels for " + std::to_string(size()) + " examples");
  }
};

/// Pixels stored as bytes; see `DatasetElement` for why.
using Uint8Dataset = Dataset<std::uint8_t>;

}  // namespace latent::inline v0
