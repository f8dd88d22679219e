#pragma once
/// @file
/// `detail::map_entries`: one formula applied entry by entry to matrices of one shape, on SIMD
/// packets and split over threads. How the elementwise tape ops compute values and adjoints.

#include <algorithm>

#include "latent/core/packet.hpp"
#include "latent/core/parallel.hpp"

namespace latent::inline v0::detail {

/// out[i] = v, or out[i] += v when `add`; v a packet or one entry.
template <class P, class S>
void write_entry(S* out, Index i, bool add, P v) {
  if (add) v = Eigen::internal::padd(Eigen::internal::ploadu<P>(out + i), v);
  Eigen::internal::pstoreu(out + i, v);
}

/// out[i] = f(x[i]...) for every i in [0, n), or out[i] += f(x[i]...) when `add`, each x an
/// array of n entries. `f` is a template lambda over the packet type, written with Eigen's `p*`
/// functions (`[]<class P>(const P& a, const P& b) { return pmul(a, b); }`), so one formula runs
/// on whole packets and on the tail. Threads take runs of whole packets and the last one the
/// tail, so every entry is computed the same way whatever the thread count.
///
/// Why not an Eigen expression: each one instantiates an evaluator per node and a loop per
/// destination, and the `vae` example's ops spent ~5 s of its 20 s compile on them.
template <class S, class F, class... X>
void map_entries(S* out, Index n, bool add, const F& f, const X*... x) {
  constexpr Index width = Eigen::internal::packet_traits<S>::size;
  const Index packets = n / width;
  const int threads = threads_for(n, std::max<Index>(1, packets));
  on_threads(threads, [&](int t) {
    const auto [first, last] = share_of(packets, t, threads);
    for_each_packet<S>(first * width, t + 1 == threads ? n : last * width, [&]<class P>(Index i) {
      write_entry(out, i, add, f.template operator()<P>(Eigen::internal::ploadu<P>(x + i)...));
    });
  });
}

/// `map_entries` on a `rows x cols` matrix, column by column, with f also given the column:
/// `f.template operator()<P>(j, x...)`, for formulas with a factor per example (a column).
template <class S, class F, class... X>
void map_column_entries(S* out, Index rows, Index cols, bool add, const F& f, const X*... x) {
  for_each_column_block(rows, cols, [&](Index c, Index k) {
    for (Index j = c; j < c + k; ++j)
      for_each_packet<S>(j * rows, (j + 1) * rows, [&]<class P>(Index i) {
        write_entry(out, i, add, f.template operator()<P>(j, Eigen::internal::ploadu<P>(x + i)...));
      });
  });
}

/// f(g) = g, for adjoints passed on unchanged (the inputs of a sum).
inline constexpr auto unchanged = []<class P>(const P& g) { return g; };

}  // namespace latent::inline v0::detail
