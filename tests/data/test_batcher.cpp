#include <algorithm>
#include <numeric>
#include <vector>

#include <catch2/catch.hpp>

#include "latent/data/batcher.hpp"

namespace {

// N examples of dimension 2 whose column j is (j, -j) and whose label is j.
latent::Dataset<double> numbered(int n) {
  latent::Dataset<double> d;
  d.features.resize(2, n);
  for (int j = 0; j < n; ++j) {
    d.features.col(j) << j, -j;
    d.labels.push_back(j);
  }
  return d;
}

// The dataset columns visited in one epoch, checking that features and labels agree.
std::vector<int> epoch(latent::Batcher<float>& b, latent::Rng& rng, std::vector<long>* sizes = nullptr) {
  std::vector<int> seen;
  b.start_epoch(rng);
  while (b.next()) {
    const auto& x = b.features();
    REQUIRE(x.cols() == long(b.labels().size()));
    if (sizes) sizes->push_back(x.cols());
    for (long j = 0; j < x.cols(); ++j) {
      CHECK(x(0, j) == float(b.labels()[std::size_t(j)]));
      CHECK(x(1, j) == -x(0, j));
      CHECK(b.indices()[std::size_t(j)] == b.labels()[std::size_t(j)]);
      seen.push_back(b.labels()[std::size_t(j)]);
    }
  }
  return seen;
}

std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

TEST_CASE("keep: every example exactly once per epoch, last batch partial", "[data]") {
  const auto data = numbered(10);
  latent::Batcher<float> b(data, {.batch_size = 4, .last = latent::LastBatch::keep});
  latent::Rng rng(1);
  std::vector<long> sizes;
  auto seen = epoch(b, rng, &sizes);
  CHECK(sizes == std::vector<long>{4, 4, 2});
  CHECK(b.batches_per_epoch() == 3);
  std::sort(seen.begin(), seen.end());
  CHECK(seen == iota(10));
}

TEST_CASE("drop: full batches only, each example at most once, N - N % B in all", "[data]") {
  const auto data = numbered(10);
  latent::Batcher<float> b(data, {.batch_size = 4, .last = latent::LastBatch::drop});
  latent::Rng rng(2);
  std::vector<long> sizes;
  auto seen = epoch(b, rng, &sizes);
  CHECK(sizes == std::vector<long>{4, 4});
  CHECK(b.batches_per_epoch() == 2);
  std::sort(seen.begin(), seen.end());
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
  CHECK(seen.size() == 8);
}

TEST_CASE("same seed same order; successive epochs differ", "[data]") {
  const auto data = numbered(50);
  latent::Batcher<float> b(data, {.batch_size = 8});
  latent::Rng r1(7), r2(7);
  const auto e1 = epoch(b, r1);
  CHECK(e1 == epoch(b, r2));
  CHECK(e1 != iota(50));
  CHECK(epoch(b, r1) != e1);
}

TEST_CASE("in-order epochs; batch buffers are not reallocated", "[data]") {
  const auto data = numbered(10);
  latent::Batcher<float> b(data, {.batch_size = 4});
  b.start_epoch_in_order();
  REQUIRE(b.next());
  const float* full = b.features().data();
  CHECK(b.labels() == std::vector<int>{0, 1, 2, 3});
  REQUIRE(b.next());
  REQUIRE(b.next());
  const float* tail = b.features().data();
  CHECK_FALSE(b.next());
  latent::Rng rng(3);
  b.start_epoch(rng);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(b.next());
    CHECK(b.features().data() == (i < 2 ? full : tail));
  }
}

TEST_CASE("skip leaves out the first examples of every epoch's order, in whole and in parts", "[data]") {
  const auto data = numbered(10);
  latent::Batcher<float> b(data, {.batch_size = 4, .skip = 3});
  CHECK(b.batches_per_epoch() == 2);
  b.start_epoch_in_order();
  REQUIRE(b.next());
  CHECK(b.labels() == std::vector<int>{3, 4, 5, 6});
  CHECK(b.batch_start() == 3);
  REQUIRE(b.next());
  CHECK(b.labels() == std::vector<int>{7, 8, 9});
  CHECK_FALSE(b.next());
  // Two parts of the same batches: 3 4 | 5 6, then 7 | 8 9.
  latent::Batcher<float> p1(data, {.batch_size = 4, .part = 1, .parts = 2, .skip = 3});
  p1.start_epoch_in_order();
  REQUIRE(p1.next());
  CHECK(p1.labels() == std::vector<int>{5, 6});
  REQUIRE(p1.next());
  CHECK(p1.labels() == std::vector<int>{8, 9});
  CHECK_THROWS_AS(latent::Batcher<float>(data, {.batch_size = 4, .skip = 10}), latent::ShapeError);
  CHECK_THROWS_AS(latent::Batcher<float>(data, {.batch_size = 4, .skip = -1}), latent::ShapeError);
}

TEST_CASE("uint8 pixels arrive as x / 255 in [0, 1]", "[data]") {
  latent::Uint8Dataset d;
  d.features.resize(3, 1);
  d.features << 0, 51, 255;
  latent::Batcher<float> b(d, {.batch_size = 1});
  b.start_epoch_in_order();
  REQUIRE(b.next());
  CHECK(b.features()(0, 0) == 0.0f);
  CHECK(b.features()(1, 0) == Approx(0.2f));
  CHECK(b.features()(2, 0) == 1.0f);
  CHECK(b.labels().empty());
}

TEST_CASE("a zero batch size or mismatched labels is a ShapeError", "[data]") {
  auto d = numbered(3);
  CHECK_THROWS_AS(latent::Batcher<float>(d, {.batch_size = 0}), latent::ShapeError);
  d.labels.pop_back();
  CHECK_THROWS_AS(latent::Batcher<float>(d, {.batch_size = 2}), latent::ShapeError);
}

TEST_CASE("an empty dataset is refused when the batcher is built, not trained on in silence", "[data]") {
  const latent::Dataset<float> none{latent::Matrix<float>(3, 0), {}};
  const latent::Dataset<float> featureless{latent::Matrix<float>(0, 5), {}};
  CHECK_THROWS_AS(latent::Batcher<float>(none, {.batch_size = 4}), latent::ShapeError);
  CHECK_THROWS_WITH(latent::Batcher<float>(none, {.batch_size = 4}),
                    Catch::Matchers::Contains("Batcher: the dataset is 3x0: no examples"));
  CHECK_THROWS_AS(latent::Batcher<float>(featureless, {.batch_size = 4}), latent::ShapeError);
}

TEST_CASE("parts: each process's slices of the shared batches cover every batch exactly once", "[data]") {
  const auto d = numbered(23);  // batches of 10, 10, 3: 3 + 3 + 4 columns, then 1 + 1 + 1
  const int parts = 3;
  latent::Batcher<float> whole(d, {.batch_size = 10});
  std::vector<latent::Batcher<float>> slices;
  for (int p = 0; p < parts; ++p)
    slices.emplace_back(d, latent::BatcherOptions{.batch_size = 10, .part = p, .parts = parts});
  latent::Rng rng(9);
  latent::Rng copy = rng;
  whole.start_epoch(copy);
  for (auto& s : slices) {
    latent::Rng same = rng;  // the same seed on every process
    s.start_epoch(same);
  }
  std::vector<long> tail_sizes;
  while (whole.next()) {
    std::vector<float> joined;
    for (int p = 0; p < parts; ++p) {
      auto& s = slices[std::size_t(p)];
      REQUIRE(s.next());
      CHECK(s.batch_cols() == whole.features().cols());
      CHECK(s.batch_start() == whole.batch_start());
      CHECK(s.part_offset() == long(joined.size()));
      for (long j = 0; j < s.features().cols(); ++j) joined.push_back(s.features()(0, j));
      if (whole.features().cols() == 3) tail_sizes.push_back(s.features().cols());
    }
    const auto& x = whole.features();
    REQUIRE(long(joined.size()) == x.cols());
    for (long j = 0; j < x.cols(); ++j) CHECK(joined[std::size_t(j)] == x(0, j));
  }
  for (auto& s : slices) CHECK_FALSE(s.next());
  CHECK(tail_sizes == std::vector<long>{1, 1, 1});
  CHECK_THROWS_AS(latent::Batcher<float>(d, {.batch_size = 10, .part = 3, .parts = 3}), latent::ShapeError);
}
