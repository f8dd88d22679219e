#pragma once
/// @file
/// `detail::for_each_column_block`: elementwise work split over threads by column blocks.

#include <algorithm>
#include <type_traits>
#include <utility>

#include "latent/core/scalar.hpp"
#include "latent/core/thread_pool.hpp"
#include "latent/core/threads.hpp"

namespace latent::inline v0::detail {

/// Entries below which a pass over a matrix stays on one thread. Handing a share to a worker
/// that spins between the passes of a step costs about a microsecond, what one thread needs for
/// ~8k entries of a ReLU; at 32k, every 400 x 128 pass of the MLP VAE ran on one thread while
/// the other waited (2-thread batch-128 step 6% slower, batch 32 5-10% slower, AMD EPYC).
inline constexpr Index parallel_grain = Index(1) << 13;

/// How many threads a pass over `entries` entries gets: one per `parallel_grain` entries, at
/// least 1, at most `num_threads()` and `max_shares` (the pieces the work can be cut into).
inline int threads_for(Index entries, Index max_shares) {
  return int(std::max<Index>(1, std::min<Index>({Index(num_threads()), max_shares, entries / parallel_grain})));
}

/// Calls `run(context, t)` for every t in [0, `threads`): the shares of one region, run by the
/// calling thread and the pool's workers, whoever is free (`ThreadPool`), and returns when all
/// are done. Which thread runs a share never changes what it computes, so results depend only
/// on the share count. Not a template: one function for every caller keeps compile times down.
inline void run_on_threads(int threads, void (*run)(void* context, int t), void* context) {
  if (threads > 1)
    ThreadPool::instance().run(threads, run, context);
  else if (threads == 1)
    run(context, 0);
}

/// Runs share t of a region whose function object is `*context`. Kept out of line and out of the
/// optimizer's view across calls (`noipa`): one-thread regions call it directly and the pool
/// calls it through a pointer, and if the one-thread call were inlined, the compiler could contract
/// a multiply and an add into one FMA there and not in the pool's copy (with -march=native and
/// GCC's default -ffp-contract=fast), and 1 and 2 threads would give different bits.
template <class Fn>
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noipa))
#else
__attribute__((noinline))
#endif
void run_share(void* context, int t) {
  (*static_cast<Fn*>(context))(t);
}

/// Calls `f(t)` for every t in [0, `threads`) as `run_on_threads` does, through one compiled copy
/// of `f` whatever the thread count.
template <class F>
void on_threads(int threads, F&& f) {
  using Fn = std::remove_reference_t<F>;
  run_on_threads(threads, &run_share<Fn>, const_cast<void*>(static_cast<const void*>(&f)));
}

/// The columns [first, last) of `cols` that share `t` of `shares` gets: consecutive, disjoint and
/// together all of them.
inline std::pair<Index, Index> share_of(Index cols, int t, int shares) {
  return {cols * t / shares, cols * (t + 1) / shares};
}

/// Calls `f(first_column, column_count)` on consecutive column blocks that together cover
/// `cols` columns of a `rows x cols` matrix: one block per thread when the matrix is large
/// enough (`parallel_grain`) and `num_threads() > 1`, else one block. Blocks never share a
/// column, so `f` may write its columns freely; the split depends only on the shape and the
/// thread count, so results are reproducible.
template <class F>
void for_each_column_block(Index rows, Index cols, F&& f) {
  const int threads = threads_for(rows * cols, cols);
  on_threads(threads, [&](int t) {
    const auto [first, last] = share_of(cols, t, threads);
    if (last > first) f(first, last - first);
  });
}

/// `dst += expr` when `add`, else `dst = expr` (both without aliasing): the first contribution
/// to a result assigns, so nothing is zero-filled only to be added to.
template <class Dst, class Expr>
void assign_or_add(Dst&& dst, const Expr& expr, bool add) {
  if (add)
    dst.noalias() += expr;
  else
    dst.noalias() = expr;
}

/// `dst = expr`, split over threads by column blocks (see `for_each_column_block`).
template <class Dst, class Expr>
void parallel_assign(Dst&& dst, const Expr& expr) {
  for_each_column_block(dst.rows(), dst.cols(),
                        [&](Index c, Index n) { dst.middleCols(c, n) = expr.middleCols(c, n); });
}

}  // namespace latent::inline v0::detail
