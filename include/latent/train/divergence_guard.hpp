#pragma once
/// @file
/// `DivergenceGuard`: stops a training loop whose loss explodes. A learning rate far too high
/// (Adam at 1e3 on the reference VAE) does not make the loss NaN at once: it climbs to 1e11 ..
/// 1e36 and training goes on, burning the run. The models throw for a non-finite loss; this
/// catches the finite explosion before it, and says which knob to turn.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "latent/core/error.hpp"

namespace latent::inline v0 {

/// What a `DivergenceGuard` calls divergence.
struct DivergenceGuardOptions {
  double lr = 0;          ///< the learning rate, named in the message (0: unknown, not named)
  double factor = 100.0;  ///< diverged: loss > best + factor * scale, scale = max(|first|, |best|, 1)
};

/// Watches the loss of every step:
///
///     DivergenceGuard guard({.lr = 1e-3});
///     for (...) { ...; opt.step(); guard.check(loss.item()); }
///
/// throws `NumericError` when the loss is NaN or infinite, or when it has risen more than
/// `factor` (two orders of magnitude by default) times its scale above the best loss so far.
/// The scale is the larger of the first and the best loss's magnitude (and at least 1), so
/// losses that fall below zero (a learned Gaussian variance) or near it are judged against the
/// size they started at. Normal training, spikes included, stays far below that line.
class DivergenceGuard {
 public:
  /// A guard for one run.
  explicit DivergenceGuard(DivergenceGuardOptions options = {}) : options_(options) {
    if (!(options.factor > 0) || !std::isfinite(options.factor))
      throw Error("DivergenceGuard", "factor must be positive and finite, got " + std::to_string(options.factor));
  }

  /// Records the loss of the next step; throws `NumericError` (see the class) naming the step,
  /// the best loss and the learning rate.
  void check(double loss) {
    ++step_;
    if (!std::isfinite(loss))
      throw NumericError("training", "the loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") +
                                         " at step " + std::to_string(step_) + advice());
    if (step_ == 1) first_ = best_ = loss;
    if (loss < best_) {
      best_ = loss;
      best_step_ = step_;
    }
    const double scale = std::max({std::abs(first_), std::abs(best_), 1.0});
    if (loss - best_ > options_.factor * scale)
      throw NumericError("training", "the loss diverged: " + number(loss) + " at step " + std::to_string(step_) +
                                         " after " + number(best_) + " at step " + std::to_string(best_step_) +
                                         advice());
  }

  /// What the guard has seen, for a checkpoint of a training run.
  struct State {
    long step = 0, best_step = 1;  ///< steps checked; the step of the best loss
    double first = 0, best = 0;    ///< the first and the lowest loss
  };
  /// The state to save.
  [[nodiscard]] State state() const noexcept { return {step_, best_step_, first_, best_}; }
  /// Continues from a saved `state()`.
  void restore(const State& s) noexcept {
    step_ = s.step;
    best_step_ = s.best_step;
    first_ = s.first;
    best_ = s.best;
  }

  /// Steps checked so far.
  [[nodiscard]] long steps() const noexcept { return step_; }
  /// The lowest loss seen (0 before the first step).
  [[nodiscard]] double best() const noexcept { return best_; }

 private:
  static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
  }
  [[nodiscard]] std::string advice() const {
    return options_.lr > 0 ? " (lower the learning rate, now " + number(options_.lr) + ")"
                           : " (lower the learning rate)";
  }

  DivergenceGuardOptions options_;
  long step_ = 0, best_step_ = 1;
  double first_ = 0, best_ = 0;
};

}  // namespace latent::inline v0
