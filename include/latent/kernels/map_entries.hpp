#pragma once
/// @file
/// `detail::map_entries`: one formula applied entry by entry to matrices of one shape, on SIMD
/// packets and split over threads. How the elementwise tape ops compute values and adjoints.

#include <algorithm>
#include <type_traits>

#include "latent/core/parallel.hpp"
#include "latent/kernels/lanes.hpp"

namespace latent::inline v0::detail {

/// out[i] = v, or out[i] += v when `add`; v a packet or one entry.
template <class P, class S>
void write_entry(S* out, Index i, bool add, P v) {
  if (add) v = Eigen::internal::padd(Eigen::internal::ploadu<P>(out + i), v);
  Eigen::internal::pstoreu(out + i, v);
}
template <class R, class S>
void write_entry(S* out, Index i, bool add, const Lanes<R>& v) {
  write_entry(out, i, add, v.raw);
}

/// out[i] = f(x[i]...) for every i in [0, n), or out[i] += f(x[i]...) when `add`, each x an
/// array of n entries. `f` is a template lambda over `Lanes` (`[]<class P>(const P& a, const P& b)
/// { return a * b; }`), so one formula runs on whole packets and on the tail. Threads take runs of whole packets and
/// the last one the tail, so every entry is computed the same way whatever the thread count.
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
    for_each_lanes<S>(first * width, t + 1 == threads ? n : last * width,
                      [&]<class P>(Index i) { write_entry(out, i, add, f.template operator()<P>(load<P>(x + i)...)); });
  });
}

/// An input of the column kernels below that is one column, read for every column (a bias).
template <class S>
struct BroadcastColumn {
  const S* data;
};

/// The packet (or entry) at row r of column j of a column-kernel input: a `rows x cols` matrix,
/// or a broadcast column.
template <class P, class S>
P load_entry(const S* x, Index rows, Index j, Index r) {
  return load<P>(x + j * rows + r);
}
template <class P, class S>
P load_entry(BroadcastColumn<S> x, Index, Index, Index r) {
  return load<P>(x.data + r);
}

/// `map_entries` on a `rows x cols` matrix, column by column, with f also given the column:
/// `f.template operator()<P>(j, x...)`, for formulas with a factor per example (a column); an x
/// may be a `BroadcastColumn`.
template <class S, class F, class... X>
void map_column_entries(S* out, Index rows, Index cols, bool add, const F& f, const X&... x) {
  for_each_column_block(rows, cols, [&](Index c, Index k) {
    for (Index j = c; j < c + k; ++j)
      for_each_lanes<S>(0, rows, [&]<class P>(Index r) {
        write_entry(out + j * rows, r, add, f.template operator()<P>(j, load_entry<P>(x, rows, j, r)...));
      });
  });
}

/// out[j] = sum_i f(x_ij...) for every column j of `rows x cols` inputs (out has cols entries):
/// whole packets summed lane by lane, then the lanes, then the tail.
template <class S, class F, class... X>
void column_sums(S* out, Index rows, Index cols, const F& f, const X&... x) {
  for_each_column_block(rows, cols, [&](Index c, Index k) {
    for (Index j = c; j < c + k; ++j) {
      Packet<S> packets = Eigen::internal::pset1<Packet<S>>(S(0));
      S tail = 0;
      for_each_lanes<S>(0, rows, [&]<class P>(Index r) {
        const P v = f.template operator()<P>(load_entry<P>(x, rows, j, r)...);
        if constexpr (std::is_same_v<P, Lanes<S>>)
          tail += v.raw;
        else
          packets = Eigen::internal::padd(packets, v.raw);
      });
      out[j] = Eigen::internal::predux(packets) + tail;
    }
  });
}

/// out[i] = sum_j g_ij (or out[i] += when `add`) for rows [first, first + count) of the
/// `rows x cols` matrix g: the row sums that give a bias its gradient. Each row sums its columns
/// in order, so a packet and a single entry give the same bits.
template <class S>
void row_sums(S* out, const S* g, Index rows, Index cols, Index first, Index count, bool add) {
  for_each_packet<S>(first, first + count, [&]<class P>(Index i) {
    P sum = Eigen::internal::pset1<P>(S(0));
    for (Index j = 0; j < cols; ++j) sum = Eigen::internal::padd(sum, Eigen::internal::ploadu<P>(g + j * rows + i));
    write_entry(out, i, add, sum);
  });
}

/// f(g) = g, for adjoints passed on unchanged (the inputs of a sum).
inline constexpr auto unchanged = []<class P>(const P& g) { return g; };
/// f(j, c) = c, for `map_column_entries` copying a broadcast column into every column.
inline constexpr auto column_value = []<class P>(Index, const P& c) { return c; };

}  // namespace latent::inline v0::detail
