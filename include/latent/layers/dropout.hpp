#pragma once
/// @file
/// `Dropout`: inverted dropout, drawing its masks from the tape's generator.

#include "latent/autodiff/ops/dropout.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// Inverted dropout with probability `p` in training (`dropout`), the identity in evaluation
/// (`eval()`).
///
/// Its randomness: `forward` is `const` and takes no `Rng`, so it draws from the tape's
/// generator (`Tape::noise()`), which `fit` and every loss that takes an `Rng&` (`Vae::elbo`,
/// `Autoencoder::loss`, ...) set to theirs: the masks are then part of the run's one stream,
/// resumed by its checkpoints and keyed by example across processes. On a tape without one it
/// falls back to its own stream, the `Rng` given at construction (one draw per entry), which
/// two threads must not advance at once. Throws `NumericError` unless 0 <= p < 1.
template <class S>
class Dropout : public Module<S> {
 public:
  Dropout(double p, Rng noise) : p_(p), noise_(noise) {
    if (!(p >= 0 && p < 1)) throw NumericError("Dropout", "p must be in [0, 1), got " + std::to_string(p));
  }
  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    if (!this->is_training()) return x;
    Rng* const run = tape.noise();
    return dropout(x, p_, run != nullptr ? *run : noise_);
  }
  /// The drop probability.
  [[nodiscard]] double p() const noexcept { return p_; }
  /// Its own noise stream, used on tapes without a generator (its `state()` resumes it with
  /// `Rng::from_state`).
  Rng& noise() const noexcept { return noise_; }

 private:
  double p_;
  mutable Rng noise_;  // advanced by every training forward on a tape without a generator
};

}  // namespace latent::inline v0
