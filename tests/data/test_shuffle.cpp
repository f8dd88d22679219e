// random_permutation draws every permutation equally often. Sattolo's variant (swap with an
// index below i, never i itself) draws only the cyclic ones and never leaves an element in
// place; an off-by-one in the range biases the counts. A chi-square test over all 24
// permutations of 4 elements sees both.

#include <latent/data/shuffle.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <map>

TEST_CASE("random_permutation draws the 24 permutations of 4 elements uniformly", "[data]") {
  latent::Rng rng(2025);
  constexpr int draws = 24000;
  std::map<std::array<latent::Index, 4>, int> counts;
  std::array<int, 4> fixed_points{};
  for (int d = 0; d < draws; ++d) {
    std::array<latent::Index, 4> order{};
    latent::random_permutation(order, rng);
    ++counts[order];
    for (int i = 0; i < 4; ++i) fixed_points[std::size_t(i)] += order[std::size_t(i)] == i;
  }
  CHECK(counts.size() == 24);
  double chi2 = 0;
  for (const auto& [perm, n] : counts) chi2 += (n - 1000.0) * (n - 1000.0) / 1000.0;
  chi2 += 1000.0 * double(24 - counts.size());  // permutations never drawn
  // 23 degrees of freedom: P(chi2 > 70) < 1e-6 for a uniform shuffle.
  INFO("chi-square " << chi2);
  CHECK(chi2 < 70);
  // Each element stays in place with probability 1/4.
  for (int f : fixed_points) CHECK(std::abs(f - draws / 4) < 400);
}
