// The kernel under latent's elementwise ops: every entry written once, assigned or added, with the
// same bits whatever the thread count; and the packet math functions it is written in, which must
// give what Eigen's own expressions give (the ops were Eigen expressions before).

#include <latent/kernels/map_entries.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <latent/core/rng.hpp>
#include <latent/core/threads.hpp>

using latent::Index;
namespace detail = latent::detail;

namespace {

template <class S>
using Array = Eigen::Array<S, Eigen::Dynamic, 1>;

template <class S>
Array<S> normal(Index n, std::uint64_t seed) {
  latent::Rng rng(seed);
  Array<S> x(n);
  for (Index i = 0; i < n; ++i) x[i] = S(rng.normal());
  return x;
}

template <class S>
bool same_bits(const Array<S>& a, const Array<S>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(S) * std::size_t(a.size())) == 0;
}

// out = tanh(x) .* y (+ out), by map_entries on `threads` threads. tanh because Eigen's float packet
// tanh is an approximation that often differs from std::tanh, which the tail uses: an entry taken
// by the other path on 2 threads would show.
template <class S>
Array<S> tanh_times(const Array<S>& x, const Array<S>& y, Array<S> out, bool add, int threads) {
  latent::set_num_threads(threads);
  detail::map_entries(
      out.data(), out.size(), add, []<class P>(const P& a, const P& b) { return tanh(a) * b; }, x.data(), y.data());
  latent::set_num_threads(1);
  return out;
}

template <class S>
void check_map_entries() {
  constexpr Index width = Eigen::internal::packet_traits<S>::size;
  // Up to three times the size that takes a second thread, with a tail that is no whole packet.
  for (Index n : {Index(1), width - 1, width + 3, 3 * detail::parallel_grain + 5}) {
    INFO("n = " << n);
    const Array<S> x = normal<S>(n, 1), y = normal<S>(n, 2), before = normal<S>(n, 3);
    for (bool add : {false, true}) {
      INFO("add = " << add);
      const Array<S> one = tanh_times(x, y, before, add, 1);
      Array<S> want(n);
      for (Index i = 0; i < n; ++i) want[i] = (add ? before[i] : S(0)) + std::tanh(x[i]) * y[i];
      CHECK(((one - want).abs() <= 8 * std::numeric_limits<S>::epsilon() * (1 + want.abs())).all());
      CHECK(same_bits(tanh_times(x, y, before, add, 2), one));
    }
  }
}

// A packet function applied to a whole aligned array, as map_entries applies it.
template <class S, class F>
Array<S> packet_map(const Array<S>& x, F f) {
  Array<S> out(x.size());
  detail::map_entries(out.data(), x.size(), false, f, x.data());
  return out;
}

template <class S>
void check_packet_math() {
  const Array<S> x = normal<S>(64 * Eigen::internal::packet_traits<S>::size, 4);
  const Array<S> positive = x.abs() + S(0.01);
  CHECK(same_bits(packet_map(x, []<class P>(const P& a) { return exp(a); }), Array<S>(x.exp())));
  CHECK(same_bits(packet_map(x, []<class P>(const P& a) { return expm1(a); }), Array<S>(x.expm1())));
  CHECK(same_bits(packet_map(x, []<class P>(const P& a) { return tanh(a); }), Array<S>(x.tanh())));
  CHECK(same_bits(packet_map(positive, []<class P>(const P& a) { return log(a); }), Array<S>(positive.log())));
  CHECK(same_bits(packet_map(positive, []<class P>(const P& a) { return log1p(a); }), Array<S>(positive.log1p())));
}

// Column sums, row sums and a broadcast column on a rows x cols matrix, against plain loops in
// double. Row counts below, at and above a packet leave a tail in every column.
template <class S>
void check_column_kernels(Index rows, Index cols) {
  INFO(rows << " x " << cols);
  const Array<S> x = normal<S>(rows * cols, 5), y = normal<S>(rows * cols, 6), bias = normal<S>(rows, 7);
  Array<S> sums(cols), row_total(rows), shifted(rows * cols);
  detail::column_sums(
      sums.data(), rows, cols, []<class P>(const P& a, const P& b) { return a * b; }, x.data(), y.data());
  detail::row_sums(row_total.data(), x.data(), rows, cols, 0, rows, false);
  detail::map_column_entries(
      shifted.data(), rows, cols, false, []<class P>(Index, const P& a, const P& c) { return a + c; }, x.data(),
      detail::BroadcastColumn<S>{bias.data()});
  const S tolerance = 8 * std::numeric_limits<S>::epsilon() * S(std::max(rows, cols));
  for (Index j = 0; j < cols; ++j) {
    double want = 0;
    for (Index i = 0; i < rows; ++i) {
      want += double(x[j * rows + i]) * double(y[j * rows + i]);
      CHECK(shifted[j * rows + i] == x[j * rows + i] + bias[i]);
    }
    CHECK(std::abs(double(sums[j]) - want) <= double(tolerance) * (1 + std::abs(want)));
  }
  for (Index i = 0; i < rows; ++i) {
    double want = 0;
    for (Index j = 0; j < cols; ++j) want += double(x[j * rows + i]);
    CHECK(std::abs(double(row_total[i]) - want) <= double(tolerance) * (1 + std::abs(want)));
  }
}

}  // namespace

TEST_CASE("column_sums, row_sums and broadcast columns match plain loops, tails included", "[kernels]") {
  constexpr Index width = Eigen::internal::packet_traits<float>::size;
  for (Index rows : {Index(1), width - 1, width, 3 * width + 5})
    for (Index cols : {Index(1), Index(7)}) {
      check_column_kernels<float>(rows, cols);
      check_column_kernels<double>(rows, cols);
    }
}

TEST_CASE("map_entries writes every entry once, assigned or added, the same bits on 1 and 2 threads", "[kernels]") {
  check_map_entries<float>();
  check_map_entries<double>();
}

TEST_CASE("the packet math functions give the bits of Eigen's own expressions", "[kernels]") {
  check_packet_math<float>();
  check_packet_math<double>();
}
