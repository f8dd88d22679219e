#pragma once
/// @file
/// k-nearest neighbours by Euclidean distance, e.g. between autoencoder codes: similar-item
/// lookup and k-NN classification.

#include <algorithm>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "latent/models/detail/distances.hpp"

namespace latent::inline v0 {

/// Indices of nearest columns: k x queries.
using NeighborIndices = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic>;

/// For each column of `queries`, the indices of its k nearest columns of `references` by
/// Euclidean distance, nearest first (ties: the lower index first): k x queries.cols().
/// Exhaustive, one GEMM per block of 256 queries, so memory stays at 256 x references.cols()
/// distances. Throws `ShapeError` naming both shapes if the feature counts differ, and `Error`
/// unless 1 <= k <= references.cols().
template <class S>
NeighborIndices nearest_neighbors(const Matrix<S>& references, const Matrix<S>& queries, Index k) {
  if (k < 1 || k > references.cols())
    throw Error("nearest_neighbors", std::string("k must be in 1..") + std::to_string(references.cols()) +
                                         " (the number of references), got " + std::to_string(k));
  constexpr Index block = 256;
  NeighborIndices out(k, queries.cols());
  std::vector<Index> order(std::size_t(references.cols()));
  for (Index j = 0; j < queries.cols(); j += block) {
    const Index m = std::min(block, queries.cols() - j);
    const Matrix<S> d = detail::squared_distances<S>("nearest_neighbors", references, queries.middleCols(j, m));
    for (Index q = 0; q < m; ++q) {
      const auto closer = [&](Index a, Index b) { return d(a, q) < d(b, q) || (d(a, q) == d(b, q) && a < b); };
      std::iota(order.begin(), order.end(), Index(0));
      std::partial_sort(order.begin(), order.begin() + k, order.end(), closer);
      for (Index i = 0; i < k; ++i) out(i, j + q) = order[std::size_t(i)];
    }
  }
  return out;
}

/// k-NN classification: each query takes the majority label of its k nearest references; a
/// tie goes to the tied label whose member comes first in distance order (so k = 1 is the
/// nearest neighbour's label). Throws `ShapeError` if `reference_labels` does not have one
/// label per reference, and like `nearest_neighbors`.
template <class S>
std::vector<int> knn_classify(const Matrix<S>& references, std::span<const int> reference_labels,
                              const Matrix<S>& queries, Index k) {
  if (Index(reference_labels.size()) != references.cols())
    throw ShapeError("knn_classify", std::to_string(reference_labels.size()) + " labels for " +
                                         std::to_string(references.cols()) + " references");
  const NeighborIndices nn = nearest_neighbors(references, queries, k);
  std::vector<int> out(std::size_t(queries.cols()));
  std::vector<int> votes;
  for (Index q = 0; q < nn.cols(); ++q) {
    votes.clear();
    for (Index i = 0; i < k; ++i) votes.push_back(reference_labels[std::size_t(nn(i, q))]);
    int best = votes.front();
    std::ptrdiff_t best_count = 0;
    for (int label : votes) {  // in distance order, so the first label to reach a count keeps it
      const std::ptrdiff_t c = std::count(votes.begin(), votes.end(), label);
      if (c > best_count) {
        best = label;
        best_count = c;
      }
    }
    out[std::size_t(q)] = best;
  }
  return out;
}

/// The fraction of queries whose `knn_classify` label equals `query_labels` (in [0, 1]).
/// Throws `ShapeError` if `query_labels` does not have one label per query, and like
/// `knn_classify`.
template <class S>
double knn_accuracy(const Matrix<S>& references, std::span<const int> reference_labels, const Matrix<S>& queries,
                    std::span<const int> query_labels, Index k) {
  if (Index(query_labels.size()) != queries.cols())
    throw ShapeError("knn_accuracy", std::to_string(query_labels.size()) + " labels for " +
                                         std::to_string(queries.cols()) + " queries");
  const std::vector<int> predicted = knn_classify(references, reference_labels, queries, k);
  std::size_t right = 0;
  for (std::size_t q = 0; q < predicted.size(); ++q) right += predicted[q] == query_labels[q];
  return predicted.empty() ? 0.0 : double(right) / double(predicted.size());
}

}  // namespace latent::inline v0
