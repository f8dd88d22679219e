#pragma once
/// @file
/// `detail::on_chunks`: how a model evaluates plain matrices (`encode`, `decode`, ... without
/// gradients): on a tape of the call's own, a bounded number of columns at a time, so the model
/// keeps no scratch state and evaluation can be `const`.

#include <algorithm>

#include "latent/autodiff/tape.hpp"

namespace latent::inline v0::detail {

/// Columns per evaluation pass: large enough for full GEMMs, small enough that the tape's arena
/// stays a few megabytes even for a whole test set.
inline constexpr Index chunk_columns = 1024;

/// Calls `f(tape, first, count)` for consecutive column ranges of at most `chunk_columns`
/// columns covering `0 .. total - 1`, on one local tape without gradients, cleared before each
/// range.
template <class S, class F>
void on_chunks(Index total, F&& f) {
  Tape<S> tape;
  tape.set_grad_enabled(false);
  for (Index j = 0; j < total; j += chunk_columns) {
    tape.clear();
    f(tape, j, std::min(chunk_columns, total - j));
  }
}

}  // namespace latent::inline v0::detail
