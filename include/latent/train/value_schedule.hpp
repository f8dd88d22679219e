#pragma once
/// @file
/// `ValueSchedule`: a number that changes as training goes, the one type `fit` takes for both the
/// learning rate and the KL weight beta (warm-up, cyclical annealing, any lr schedule of
/// optim/schedule.hpp, or a function of yours).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>

#include "latent/core/error.hpp"

namespace latent::inline v0 {

/// Where training is: `epoch` (0-based, the epoch being run) and `step` (0-based, optimizer steps
/// taken before this one over the whole run). A schedule's position is these two numbers, so a
/// resumed run, which restores them, continues every schedule where it was.
struct TrainingTime {
  std::size_t epoch = 0;  ///< epochs finished before this one
  std::size_t step = 0;   ///< steps taken before this one
};

/// A value as a function of `TrainingTime`, evaluated before every step. Empty (default
/// constructed): "no schedule" (`fit` then leaves the learning rate alone, and beta is 1).
///
///     ValueSchedule::linear_warmup(1.0, 2000)          // beta: 0 -> 1 over 2000 steps
///     ValueSchedule::cyclical(1.0, 5000, 0.5)          // beta: 4 ramps of 5000 steps ...
///     ValueSchedule::per_epoch(CosineAnnealing(1e-3, 50))  // lr: any optim/schedule.hpp schedule
class ValueSchedule {
 public:
  /// No schedule.
  ValueSchedule() = default;
  /// The value `f(time)`.
  explicit ValueSchedule(std::function<double(TrainingTime)> f) : f_(std::move(f)) {}

  /// Always `value`.
  static ValueSchedule constant(double value) {
    return ValueSchedule([value](TrainingTime) { return value; });
  }
  /// A linear warm-up (Bowman et al. 2016 for the KL weight): `value * min(1, (step + 1) / steps)`,
  /// so the first step already has a small weight and the full one is reached after `steps`
  /// steps (a fraction of an epoch's steps is fine). Throws `Error` unless steps > 0.
  static ValueSchedule linear_warmup(double value, double steps) {
    if (!(steps > 0))
      throw Error("ValueSchedule::linear_warmup", "steps must be positive, got " + std::to_string(steps));
    return ValueSchedule([value, steps](TrainingTime t) { return value * std::min(1.0, double(t.step + 1) / steps); });
  }
  /// Cyclical annealing (Fu et al. 2019): in every period of `period` steps, the value rises
  /// linearly from 0 to `value` over the first `ramp` fraction and stays there for the rest:
  /// `value * min(1, (step mod period) / (ramp * period))`. Throws `Error` if period is 0 or
  /// ramp is outside (0, 1].
  static ValueSchedule cyclical(double value, std::size_t period, double ramp = 0.5) {
    if (period == 0) throw Error("ValueSchedule::cyclical", "period must be at least 1");
    if (!(ramp > 0 && ramp <= 1))
      throw Error("ValueSchedule::cyclical", "ramp must be in (0, 1], got " + std::to_string(ramp));
    return ValueSchedule([value, period, ramp](TrainingTime t) {
      return value * std::min(1.0, double(t.step % period) / (ramp * double(period)));
    });
  }
  /// A learning-rate schedule of optim/schedule.hpp (anything with `lr_at(std::size_t)`) of the epoch.
  template <class LrSchedule>
  static ValueSchedule per_epoch(LrSchedule schedule) {
    return ValueSchedule([s = std::move(schedule)](TrainingTime t) { return s.lr_at(t.epoch); });
  }
  /// A learning-rate schedule of optim/schedule.hpp of the step.
  template <class LrSchedule>
  static ValueSchedule per_step(LrSchedule schedule) {
    return ValueSchedule([s = std::move(schedule)](TrainingTime t) { return s.lr_at(t.step); });
  }

  /// Whether a schedule is set.
  explicit operator bool() const noexcept { return bool(f_); }
  /// The value at `t` (`fallback` when no schedule is set).
  [[nodiscard]] double at(TrainingTime t, double fallback = 1.0) const { return f_ ? f_(t) : fallback; }

 private:
  std::function<double(TrainingTime)> f_;
};

}  // namespace latent::inline v0
