#include <latent/models/kmeans.hpp>
#include <latent/models/knn.hpp>

#include <catch2/catch.hpp>

using namespace latent;
using Md = Eigen::MatrixXd;
using Catch::Matchers::Contains;

namespace {

// `per` points around each of four centres 10 apart, spread sigma = 0.3; labels name the centre.
struct Blobs {
  Md x;
  std::vector<int> labels;
};
Blobs blobs(Index per, Rng& rng) {
  const Md centres = (Md(2, 4) << 0, 10, 0, 10, 0, 0, 10, 10).finished();
  Blobs b{Md(2, 4 * per), {}};
  rng.fill_normal(b.x);
  b.x *= 0.3;
  for (Index i = 0; i < b.x.cols(); ++i) {
    b.x.col(i) += centres.col(i % 4);
    b.labels.push_back(int(i % 4));
  }
  return b;
}

}  // namespace

TEST_CASE("k-means recovers well-separated clusters", "[models][kmeans]") {
  Rng rng(1);
  const Blobs b = blobs(50, rng);
  const auto r = kmeans(b.x, 4, rng);
  CHECK(r.converged);
  CHECK(cluster_purity(r.assignments, b.labels) == 1.0);
  // Each centroid sits on one true centre, and the inertia is the within-cluster scatter:
  // about N * dims * sigma^2 = 200 * 2 * 0.09.
  for (Index c = 0; c < 4; ++c) {
    const double snapped_x = std::round(r.centroids(0, c) / 10) * 10,
                 snapped_y = std::round(r.centroids(1, c) / 10) * 10;
    CHECK(std::hypot(r.centroids(0, c) - snapped_x, r.centroids(1, c) - snapped_y) < 0.15);
  }
  CHECK(r.inertia == Approx(200 * 2 * 0.09).epsilon(0.2));
}

TEST_CASE("k-means++ with the same seed gives the same clustering", "[models][kmeans]") {
  Rng data(2);
  Md x(3, 300);
  data.fill_normal(x);  // no cluster structure: the outcome depends on the start
  Rng a(7), b(7);
  const auto ra = kmeans(x, 5, a), rb = kmeans(x, 5, b);
  CHECK(ra.assignments == rb.assignments);
  CHECK(ra.centroids == rb.centroids);
  CHECK(ra.inertia == rb.inertia);
  // k = N puts every point in its own cluster: nothing is left to explain.
  Rng c(3);
  CHECK(kmeans(Md(x.leftCols(6)), 6, c).inertia == 0);
}

TEST_CASE("cluster purity counts each cluster's majority label", "[models][kmeans]") {
  const std::vector<int> clusters = {0, 0, 1, 1, 1}, labels = {1, 1, 2, 2, 3};
  CHECK(cluster_purity(clusters, labels) == Approx(0.8));
  CHECK_THROWS_WITH(cluster_purity(clusters, std::vector<int>{1, 2}), Contains("5 assignments but 2 labels"));
  Rng rng(4);
  CHECK_THROWS_WITH(kmeans(Md(Md::Zero(2, 3)), 4, rng), Contains("k must be in 1..3"));
}

TEST_CASE("k nearest neighbours on a tiny case, ties to the lower index", "[models][knn]") {
  const Md refs = (Md(1, 4) << 0, 1, 3, 7).finished();
  const Md queries = (Md(1, 2) << 2.9, 2).finished();
  const NeighborIndices nn = nearest_neighbors(refs, queries, 3);
  REQUIRE(nn.rows() == 3);
  REQUIRE(nn.cols() == 2);
  CHECK(nn.col(0) == (NeighborIndices(3, 1) << 2, 1, 0).finished());
  CHECK(nn.col(1) == (NeighborIndices(3, 1) << 1, 2, 0).finished());  // 1 and 3 are both 1 away

  const std::vector<int> labels = {5, 5, 6, 6};
  // Query 2.9: votes 6, 5, 5 -> 5. Query 2: votes 5, 6 tie -> the nearer 5.
  CHECK(knn_classify(refs, labels, queries, 3) == std::vector<int>{5, 5});
  CHECK(knn_classify(refs, labels, queries, 2) == std::vector<int>{6, 5});
  CHECK(knn_accuracy(refs, labels, queries, std::vector<int>{5, 6}, 3) == 0.5);
}

TEST_CASE("k-NN misuse names the shapes", "[models][knn]") {
  const Md refs = Md::Zero(2, 4), queries = Md::Zero(3, 1);
  CHECK_THROWS_AS(nearest_neighbors(refs, queries, 1), ShapeError);
  CHECK_THROWS_WITH(nearest_neighbors(refs, queries, 1), Contains("2x4") && Contains("3x1"));
  CHECK_THROWS_WITH(nearest_neighbors(refs, Md(Md::Zero(2, 1)), 5), Contains("k must be in 1..4"));
  CHECK_THROWS_WITH(knn_classify(refs, std::vector<int>{1}, Md(Md::Zero(2, 1)), 1),
                    Contains("1 labels for 4 references"));
}
