#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "latent/data/binarize.hpp"
#include "latent/data/normalizer.hpp"
#include "latent/data/split.hpp"

TEST_CASE("to_unit maps 0..255 to [0, 1] and keeps labels", "[data]") {
  latent::Uint8Dataset d;
  d.features.resize(2, 1);
  d.features << 0, 255;
  d.labels = {4};
  const auto f = latent::to_unit<float>(d);
  CHECK(f.features(0, 0) == 0.0f);
  CHECK(f.features(1, 0) == 1.0f);
  CHECK(f.labels == d.labels);
}

TEST_CASE("standardization fitted on train gives mean 0, variance 1 there; test reuses it", "[data]") {
  latent::Matrix<double> train(2, 4), test(2, 1);
  train << 1, 2, 3, 4,  //
      5, 5, 5, 5;       // constant feature: scale 1, not a division by zero
  test << 5, 6;
  const auto n = latent::Normalizer<double>::standardize(train);
  auto z = train;
  n.apply(z);
  CHECK(z.row(0).mean() == Approx(0.0).margin(1e-12));
  CHECK(z.row(0).squaredNorm() / 4 == Approx(1.0));
  CHECK(z.row(1).isZero());
  n.apply(test);
  CHECK(test(0, 0) == Approx((5 - 2.5) / std::sqrt(1.25)));
  CHECK(test(1, 0) == 1.0);
  n.invert(z);
  CHECK(z.isApprox(train));
  latent::Matrix<double> wrong(3, 1);
  CHECK_THROWS_AS(n.apply(wrong), latent::ShapeError);
}

TEST_CASE("min-max scaling maps the fitted range to [0, 1]", "[data]") {
  latent::Matrix<float> x(1, 3);
  x << -2, 0, 6;
  const auto n = latent::Normalizer<float>::min_max(x);
  n.apply(x);
  CHECK(x(0, 0) == 0.0f);
  CHECK(x(0, 1) == 0.25f);
  CHECK(x(0, 2) == 1.0f);
}

TEST_CASE("static binarization thresholds; dynamic draws Bernoulli(p)", "[data]") {
  latent::Matrix<float> x(1, 3);
  x << 0.2f, 0.5f, 0.9f;
  latent::binarize(x);
  CHECK(x == latent::Matrix<float>::Map(std::array{0.0f, 0.0f, 1.0f}.data(), 1, 3));

  latent::Matrix<double> p = latent::Matrix<double>::Constant(1, 20000, 0.3);
  p(0, 0) = 0.0;
  p(0, 1) = 1.0;
  latent::Rng rng(5);
  auto a = p;
  latent::binarize(a, rng);
  CHECK((a.array() == 0.0 || a.array() == 1.0).all());
  CHECK(a(0, 0) == 0.0);
  CHECK(a(0, 1) == 1.0);
  CHECK(a.mean() == Approx(0.3).margin(0.01));  // 4.5 standard errors of sqrt(0.21 / 20000)
  auto b = p;
  latent::binarize(b, rng);
  CHECK(a != b);  // a fresh draw per call
}

TEST_CASE("train/validation split is disjoint, complete and seeded", "[data]") {
  latent::Dataset<float> d;
  d.features = latent::Matrix<float>::Zero(1, 10);
  for (int j = 0; j < 10; ++j) {
    d.features(0, j) = float(j);
    d.labels.push_back(j);
  }
  latent::Rng r1(11), r2(11);
  const auto s = latent::split_train_validation(d, 0.3, r1);
  CHECK(s.train.size() == 7);
  CHECK(s.validation.size() == 3);
  std::vector<int> all = s.train.labels;
  all.insert(all.end(), s.validation.labels.begin(), s.validation.labels.end());
  for (const auto* part : {&s.train, &s.validation})  // features travel with their labels
    for (std::size_t j = 0; j < part->labels.size(); ++j) CHECK(part->features(0, long(j)) == float(part->labels[j]));
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(latent::split_train_validation(d, 0.3, r2).validation.labels == s.validation.labels);
  CHECK_THROWS_AS(latent::split_train_validation(d, 1.5, r2), latent::ShapeError);
}

TEST_CASE("to_unit maps any real data into [0, 1] with one range, and refuses what it cannot scale", "[data]") {
  latent::Matrix<double> x(2, 3);
  x << 0, 16, 8, -4, 4, 12;  // digits 0..16 and a negative value
  const latent::Matrix<double> u = latent::to_unit(x);
  CHECK(u.minCoeff() == 0.0);
  CHECK(u.maxCoeff() == 1.0);
  CHECK(u(0, 2) == Approx(12.0 / 20.0));  // one range for all features: (8 - (-4)) / 20
  const latent::Dataset<double> d{x, {1, 2, 3}};
  CHECK(latent::to_unit(d).features == u);
  CHECK(latent::to_unit(d).labels == d.labels);
  CHECK(latent::to_unit<double>(latent::Matrix<double>::Constant(2, 2, 5.0)).isZero());
  CHECK_THROWS_AS(latent::to_unit(latent::Matrix<double>(3, 0)), latent::ShapeError);
  x(1, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(latent::to_unit(x), latent::NumericError);
}
