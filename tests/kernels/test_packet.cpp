// The packet helpers under fused kernels: a loop that covers every index once, and a square root
// that is correctly rounded (Eigen's own packet sqrt is not, under its default EIGEN_FAST_MATH).

#include <latent/kernels/lanes.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include <latent/core/rng.hpp>

using latent::Index;
namespace detail = latent::detail;

namespace {

template <class S>
void check_exact_sqrt() {
  constexpr Index width = Eigen::internal::packet_traits<S>::size;
  // Values over many binades, plus 0 and the smallest normal and subnormal numbers.
  latent::Rng rng(11);
  std::vector<S> x(4096 * width);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = S(std::exp(40 * rng.normal()) * (1 + rng.uniform()));
  x[0] = 0;
  x[1] = std::numeric_limits<S>::min();
  x[2] = std::numeric_limits<S>::denorm_min();
  std::vector<S> got(x.size());
  detail::for_each_packet<S>(Index(x.size()), [&]<class P>(Index i) {
    Eigen::internal::pstoreu(got.data() + i, detail::exact_sqrt(Eigen::internal::ploadu<P>(x.data() + i)));
  });
  long wrong = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const S want = std::sqrt(x[i]);
    wrong += std::memcmp(&want, &got[i], sizeof(S)) != 0;
  }
  INFO(wrong << " of " << x.size() << " square roots differ from std::sqrt");
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("for_each_packet visits every index once: packets first, then single entries", "[kernels]") {
  constexpr Index width = Eigen::internal::packet_traits<float>::size;
  for (Index n : {Index(0), Index(1), width - 1, width, 2 * width + 3}) {
    INFO("n = " << n << ", packet width " << width);
    std::vector<int> visits(std::size_t(n), 0);
    Index single_from = n;
    detail::for_each_packet<float>(n, [&]<class P>(Index i) {
      constexpr Index size = std::is_same_v<P, float> ? 1 : width;
      if (size == 1 && single_from == n) single_from = i;
      for (Index k = i; k < i + size; ++k) ++visits[std::size_t(k)];
    });
    CHECK(std::count(visits.begin(), visits.end(), 1) == n);
    CHECK(single_from == n / width * width);  // whole packets as far as they fit
  }
}

TEST_CASE("exact_sqrt is correctly rounded in packets and scalars, float and double", "[kernels]") {
  check_exact_sqrt<float>();
  check_exact_sqrt<double>();
}

TEST_CASE("Lanes operators are Eigen's packet functions, bit for bit, in packets and tails", "[kernels]") {
  using detail::Lanes;
  // The BCE-from-logits formula, written with operators and as the nested calls it replaces.
  const auto check = []<class S>(S) {
    constexpr Index width = Eigen::internal::packet_traits<S>::size;
    latent::Rng rng(3);
    std::vector<S> z(4 * width + 3), x(z.size()), got(z.size()), want(z.size());
    for (std::size_t i = 0; i < z.size(); ++i) z[i] = S(20 * rng.normal()), x[i] = S(rng.uniform());
    detail::for_each_lanes<S>(Index(z.size()), [&]<class P>(Index i) {
      const P a = detail::load<P>(z.data() + i), b = detail::load<P>(x.data() + i);
      detail::store(got.data() + i, max(a, P(0)) - a * b + log1p(exp(-abs(a))) + select(a > P(0), P(1), P(2)));
    });
    detail::for_each_packet<S>(Index(z.size()), [&]<class R>(Index i) {
      using namespace Eigen::internal;
      const R a = ploadu<R>(z.data() + i), b = ploadu<R>(x.data() + i);
      const R bce =
          padd(psub(pmax(a, pset1<R>(0)), pmul(a, b)), detail::packet_log1p(detail::packet_exp(pnegate(pabs(a)))));
      pstoreu(want.data() + i, padd(bce, pselect(pcmp_lt(pset1<R>(0), a), pset1<R>(1), pset1<R>(2))));
    });
    CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(S)) == 0);
  };
  check(0.0f);
  check(0.0);
}
