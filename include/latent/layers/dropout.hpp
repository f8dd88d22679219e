#pragma once
/// @file
/// `Dropout`: the one module with state of its own, a noise stream.

#include "latent/autodiff/ops/dropout.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// Inverted dropout with probability `p` in training (`dropout`), the identity in evaluation
/// (`eval()`).
///
/// Its randomness: `forward` is `const` and takes no `Rng`, so a Dropout owns its noise stream,
/// an `Rng` given at construction that every training `forward` advances (one draw per entry).
/// That makes it the one stateful module: the same Dropout applied twice gives two different
/// masks, and two threads must not run `forward` on the same Dropout at once. Seed it with
/// `rng.split(k)` of the model's generator for reproducible runs, and save `noise().state()`
/// with a checkpoint to resume the exact masks. Throws `NumericError` unless 0 <= p < 1.
template <class S>
class Dropout : public Module<S> {
 public:
  Dropout(double p, Rng noise) : p_(p), noise_(noise) {
    if (!(p >= 0 && p < 1)) throw NumericError("Dropout", "p must be in [0, 1), got " + std::to_string(p));
  }
  Var<S> forward(Tape<S>&, Var<S> x) const override { return this->is_training() ? dropout(x, p_, noise_) : x; }
  /// The drop probability.
  [[nodiscard]] double p() const noexcept { return p_; }
  /// The noise stream (its `state()` resumes it with `Rng::from_state`).
  Rng& noise() const noexcept { return noise_; }

 private:
  double p_;
  mutable Rng noise_;  // advanced by every training forward: the module's one piece of state
};

}  // namespace latent::inline v0
