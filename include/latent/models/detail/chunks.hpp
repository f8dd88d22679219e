#pragma once
/// @file
/// `detail::on_chunks`: how a model evaluates plain matrices (`encode`, `decode`, ... without
/// gradients): on a tape of the call's own, a bounded number of columns at a time, so the model
/// keeps no scratch state and evaluation can be `const`.

#include <algorithm>
#include <cstddef>

#include "latent/autodiff/tape.hpp"

namespace latent::inline v0::detail {

/// Tape bytes one evaluation pass may take. An MLP's column costs a few kB, so its passes hit
/// `max_chunk_columns` (full GEMMs); a conv net's column costs ~100 kB of patches and feature
/// maps, so a fixed 1024 columns would hold ~200 MB for a test set.
inline constexpr std::size_t chunk_bytes = std::size_t(32) << 20;
/// Columns of the first pass, which measures a column's tape bytes, and the bounds of the rest.
inline constexpr Index first_chunk_columns = 64, max_chunk_columns = 1024;

/// Columns per pass (within `[at_least, at_most]`) that fit in `chunk_bytes`, when `columns`
/// columns took `bytes` of tape: the rule every evaluation that measures its first pass sizes
/// the others by.
inline Index columns_within_budget(std::size_t bytes, Index columns, Index at_least, Index at_most) {
  const std::size_t per_column = std::max<std::size_t>(1, bytes / std::size_t(std::max<Index>(1, columns)));
  return std::clamp(Index(chunk_bytes / per_column), at_least, at_most);
}

/// Calls `f(tape, first, count)` for consecutive column ranges covering `0 .. total - 1`, on one
/// local tape without gradients, cleared before each range. The first range has
/// `first_chunk_columns` columns; the others as many (up to `max_chunk_columns`) as fit in
/// `chunk_bytes` at the first range's bytes per column: the split depends only on the model and
/// `total`, so results stay reproducible.
template <class S, class F>
void on_chunks(Index total, F&& f) {
  Tape<S> tape;
  tape.set_grad_enabled(false);
  Index columns = std::min(first_chunk_columns, total);
  for (Index j = 0; j < total;) {
    const Index n = std::min(columns, total - j);
    tape.clear();
    f(tape, j, n);
    if (j == 0) columns = columns_within_budget(tape.arena_used(), n, first_chunk_columns, max_chunk_columns);
    j += n;
  }
}

}  // namespace latent::inline v0::detail
