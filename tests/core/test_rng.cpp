#include <latent/core/rng.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using latent::Rng;

TEST_CASE("same seed gives the same stream, another seed another", "[core][rng]") {
  Rng a(7), b(7);
  for (int i = 0; i < 1000; ++i) REQUIRE(a.next_u64() == b.next_u64());
  Rng d(7), e(8);
  int equal = 0;
  for (int i = 0; i < 1000; ++i) equal += d.next_u64() == e.next_u64();
  CHECK(equal == 0);
}

TEST_CASE("uniform and normal have the right first two moments", "[core][rng]") {
  Rng rng(1);
  const int n = 200000;
  double su = 0, su2 = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    su += u;
    su2 += u * u;
    const double z = rng.normal();
    sn += z;
    sn2 += z * z;
  }
  // Standard errors: uniform mean 0.00065, normal mean 0.0022; bounds are ~5 sigma.
  CHECK(std::abs(su / n - 0.5) < 0.004);
  CHECK(std::abs(su2 / n - 1.0 / 3.0) < 0.004);
  CHECK(std::abs(sn / n) < 0.012);
  CHECK(std::abs(sn2 / n - 1.0) < 0.02);
}

TEST_CASE("fill_normal depends only on state and index", "[core][rng]") {
  Rng a(3), b(3);
  Eigen::MatrixXd m(7, 5);
  a.fill_normal(m);
  Eigen::MatrixXd big(7, 6);
  b.fill_normal(big);
  // The first 35 entries of a longer fill are the same numbers.
  for (int i = 0; i < 35; ++i) REQUIRE(m(i) == big(i));
  CHECK(m.allFinite());
  // 35 standard normal draws: the mean has sd 1/sqrt(35) = 0.17, the variance is near 1.
  CHECK(std::abs(m.mean()) < 0.85);  // 5 sd
  const double variance = (m.array() - m.mean()).square().sum() / 34.0;
  CHECK(variance > 0.45);
  CHECK(variance < 1.8);
}

TEST_CASE("state round-trips and split streams differ", "[core][rng]") {
  Rng a(11);
  a.next_u64();
  const auto saved = a.state();
  const auto x = a.next_u64();
  Rng b = Rng::from_state(saved);
  CHECK(b.next_u64() == x);
  Rng s0 = a.split(0), s1 = a.split(1);
  CHECK(s0.next_u64() != s1.next_u64());
  CHECK(a.state() == Rng::from_state(a.state()).state());
}

TEST_CASE("below(n) stays in range and hits every value", "[core][rng]") {
  Rng rng(5);
  int seen[10] = {};
  for (int i = 0; i < 10000; ++i) {
    const auto k = rng.below(10);
    REQUIRE(k < 10);
    ++seen[k];
  }
  for (int c : seen) CHECK(c > 800);
}

TEST_CASE("keyed by example, a batch's noise does not depend on how it is cut into slices", "[core][rng]") {
  // 6 examples, 3 replicates each, side by side (column 3 j + r is replicate r of example j).
  Rng whole_rng(5), left_rng(5), right_rng(5);
  Eigen::MatrixXd whole(5, 18), left(5, 9), right(5, 9);
  whole_rng.key_examples(42, 0, 6);
  whole_rng.fill_normal(whole);
  left_rng.key_examples(42, 0, 3);
  left_rng.fill_normal(left);
  right_rng.key_examples(42, 3, 3);
  right_rng.fill_normal(right);
  CHECK(whole.leftCols(9) == left);
  CHECK(whole.rightCols(9) == right);
  // Keyed fills leave the shared stream where it was; a second fill draws anew.
  CHECK(whole_rng.state() == Rng(5).state());
  Eigen::MatrixXd second(5, 18);
  whole_rng.fill_normal(second);
  CHECK((second - whole).cwiseAbs().minCoeff() > 0);
  // Uniform fills are keyed the same way.
  Eigen::MatrixXf u_whole(4, 6), u_right(4, 2);
  whole_rng.key_examples(7, 0, 6);
  whole_rng.fill_uniform(u_whole);
  right_rng.key_examples(7, 4, 2);
  right_rng.fill_uniform(u_right);
  CHECK(u_whole.rightCols(2) == u_right);
  CHECK(u_whole.minCoeff() >= 0);
  CHECK(u_whole.maxCoeff() < 1);
  // Another stream (step), other noise; unkeyed, the shared stream as before.
  Eigen::MatrixXd other(5, 18);
  whole_rng.key_examples(43, 0, 6);
  whole_rng.fill_normal(other);
  CHECK((other - whole).cwiseAbs().minCoeff() > 0);
  whole_rng.unkey_examples();
  CHECK_FALSE(whole_rng.keyed());
  Rng plain(5);
  Eigen::MatrixXd a(5, 18), b(5, 18);
  whole_rng.fill_normal(a);
  plain.fill_normal(b);
  CHECK(a == b);
}

TEST_CASE("keyed normal draws have mean 0 and variance 1", "[core][rng]") {
  Rng rng(3);
  Eigen::MatrixXd m(20, 20000);
  rng.key_examples(0, 0, 20000);
  rng.fill_normal(m);
  CHECK(std::abs(m.mean()) < 0.003);
  CHECK(std::abs((m.array() * m.array()).mean() - 1.0) < 0.005);
}
