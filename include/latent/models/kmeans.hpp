#pragma once
/// @file
/// k-means clustering (Lloyd's algorithm from a k-means++ start), e.g. of an autoencoder's
/// codes, and cluster purity against known labels.

#include <algorithm>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "latent/core/rng.hpp"
#include "latent/models/detail/distances.hpp"

namespace latent::inline v0 {

/// Options of `kmeans`.
struct KMeansOptions {
  int max_iterations = 100;  ///< Lloyd iterations at most (each: assign, then recompute means)
};

/// The outcome of `kmeans`.
template <class S>
struct KMeansResult {
  std::vector<int> assignments;  ///< cluster of each column, in 0 .. k - 1
  Matrix<S> centroids;           ///< features x k, the mean of each cluster's points
  double inertia = 0;            ///< sum over points of the squared distance to their centroid
  int iterations = 0;            ///< Lloyd iterations run
  bool converged = false;        ///< whether the assignments stopped changing
};

/// Partitions the columns of x (features x N) into k clusters minimising the inertia
/// `sum_n ||x_n - mu_{c(n)}||^2`.
///
/// Start: k-means++ (Arthur & Vassilvitskii 2007): the first centre is a uniformly drawn point,
/// each next one a point drawn with probability proportional to D(x)^2, its squared distance to
/// the nearest centre so far; all draws from `rng`, so the same seed gives the same clusters.
/// Then Lloyd iterations: assign each point to its nearest centroid, move each centroid to the
/// mean of its points, until no assignment changes. A cluster left empty takes the point
/// farthest from its centroid. Throws `Error` unless 1 <= k <= N.
template <class S>
KMeansResult<S> kmeans(const Matrix<S>& x, Index k, Rng& rng, const KMeansOptions& options = {}) {
  const Index n = x.cols();
  if (k < 1 || k > n)
    throw Error("kmeans", std::string("k must be in 1..") + std::to_string(n) + " (the number of points), got " +
                              std::to_string(k));
  KMeansResult<S> r;
  r.centroids.resize(x.rows(), k);

  // k-means++ seeding; `nearest` holds D(x)^2 to the centres chosen so far.
  r.centroids.col(0) = x.col(Index(rng.below(std::uint64_t(n))));
  Vector<double> nearest =
      (x.colwise() - r.centroids.col(0)).colwise().squaredNorm().transpose().template cast<double>();
  for (Index c = 1; c < k; ++c) {
    const double total = nearest.sum();
    Index pick = n - 1;
    if (total > 0) {
      double u = rng.uniform() * total;
      for (Index i = 0; i < n; ++i)
        if ((u -= nearest(i)) < 0) {
          pick = i;
          break;
        }
    } else {  // every point coincides with a centre: any choice is as good
      pick = Index(rng.below(std::uint64_t(n)));
    }
    r.centroids.col(c) = x.col(pick);
    nearest = nearest.cwiseMin(
        (x.colwise() - r.centroids.col(c)).colwise().squaredNorm().transpose().template cast<double>());
  }

  r.assignments.assign(std::size_t(n), -1);
  Vector<S> best(n);
  for (r.iterations = 1; r.iterations <= options.max_iterations; ++r.iterations) {
    const Matrix<S> d = detail::squared_distances<S>("kmeans", r.centroids, x);  // k x N
    bool changed = false;
    for (Index i = 0; i < n; ++i) {
      Index c;
      best(i) = d.col(i).minCoeff(&c);
      changed = changed || r.assignments[std::size_t(i)] != int(c);
      r.assignments[std::size_t(i)] = int(c);
    }
    if (!changed) {
      r.converged = true;
      break;
    }
    Matrix<S> sums = Matrix<S>::Zero(x.rows(), k);
    std::vector<Index> counts(std::size_t(k), 0);
    for (Index i = 0; i < n; ++i) {
      sums.col(r.assignments[std::size_t(i)]) += x.col(i);
      ++counts[std::size_t(r.assignments[std::size_t(i)])];
    }
    for (Index c = 0; c < k; ++c) {
      if (counts[std::size_t(c)] > 0) {
        r.centroids.col(c) = sums.col(c) / S(counts[std::size_t(c)]);
      } else {
        Index far;
        best.maxCoeff(&far);
        r.centroids.col(c) = x.col(far);
        best(far) = S(0);  // a second empty cluster takes the next farthest point
      }
    }
  }
  r.iterations = std::min(r.iterations, options.max_iterations);
  r.inertia = 0;
  for (Index i = 0; i < n; ++i)
    r.inertia += (x.col(i) - r.centroids.col(r.assignments[std::size_t(i)])).template cast<double>().squaredNorm();
  return r;
}

/// Purity of a clustering against labels: `(1/N) sum_c max_y |{n : c(n) = c, y_n = y}|`, the
/// fraction of points that share the majority label of their cluster (1 is perfect; k = N
/// clusters reach it trivially, so compare at equal k). Throws `ShapeError` if the sizes differ
/// and `Error` if they are empty.
inline double cluster_purity(std::span<const int> assignments, std::span<const int> labels) {
  if (assignments.size() != labels.size())
    throw ShapeError("cluster_purity", std::to_string(assignments.size()) + " assignments but " +
                                           std::to_string(labels.size()) + " labels");
  if (labels.empty()) throw Error("cluster_purity", "no points");
  std::map<int, std::map<int, std::size_t>> counts;  // cluster -> label -> count
  for (std::size_t i = 0; i < labels.size(); ++i) ++counts[assignments[i]][labels[i]];
  std::size_t majority = 0;
  for (const auto& [cluster, by_label] : counts) {
    std::size_t top = 0;
    for (const auto& [label, count] : by_label) top = std::max(top, count);
    majority += top;
  }
  return double(majority) / double(labels.size());
}

}  // namespace latent::inline v0
