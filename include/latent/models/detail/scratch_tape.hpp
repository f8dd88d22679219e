#pragma once
/// @file
/// `detail::ScratchTape`: the private tape a model evaluates on when the caller wants numbers,
/// not gradients (`encode`, `decode`, `reconstruct` on plain matrices), and the chunking that
/// bounds its memory.

#include <algorithm>
#include <memory>

#include "latent/autodiff/tape.hpp"

namespace latent::inline v0::detail {

/// A tape owned by a model and rewound before every evaluation pass. Held through a
/// `unique_ptr` because a `Tape` cannot move and models must.
template <class S>
class ScratchTape {
 public:
  /// Columns per evaluation pass: large enough for full GEMMs, small enough that the tape's
  /// arena stays a few megabytes even for a whole test set.
  static constexpr Index chunk = 1024;

  ScratchTape() : tape_(std::make_unique<Tape<S>>()) {}

  /// The tape, cleared.
  Tape<S>& fresh() {
    tape_->clear();
    return *tape_;
  }

  /// Calls `f(first, count)` for consecutive column ranges of at most `chunk` columns covering
  /// `0 .. total - 1`.
  template <class F>
  static void for_chunks(Index total, F&& f) {
    for (Index j = 0; j < total; j += chunk) f(j, std::min(chunk, total - j));
  }

 private:
  std::unique_ptr<Tape<S>> tape_;
};

}  // namespace latent::inline v0::detail
