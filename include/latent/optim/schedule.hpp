#pragma once
/// @file
/// Learning-rate schedules: functions t -> eta(t) of the epoch or step t (counted from 0), set on
/// an optimizer with `schedule.apply(opt, t)`. `LinearWarmup` wraps any other schedule.

#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>
#include <utility>

#include "latent/core/error.hpp"
#include "latent/optim/optimizer.hpp"

namespace latent::inline v0 {

/// What every schedule shares (CRTP): `Derived` provides `double lr_at(std::size_t t) const`.
template <class Derived>
class Schedule {
 public:
  /// Sets `opt`'s learning rate to `lr_at(t)` and returns it. Call once per epoch (or step),
  /// before that epoch's `step()`s.
  template <class S>
  double apply(Optimizer<S>& opt, std::size_t t) const {
    const double lr = static_cast<const Derived&>(*this).lr_at(t);
    opt.set_lr(lr);
    return lr;
  }
};

/// A constant eta(t) = lr: the base for `LinearWarmup` alone.
class ConstantLr : public Schedule<ConstantLr> {
 public:
  /// eta(t) = `lr`; throws `NumericError` if it is negative.
  explicit ConstantLr(double lr) : lr_(lr) { detail::check_lr("ConstantLr", lr); }
  /// eta(t).
  [[nodiscard]] double lr_at(std::size_t) const noexcept { return lr_; }

 private:
  double lr_;
};

/// Step decay, as torch.optim.lr_scheduler.StepLR: eta(t) = lr * gamma^floor(t / step_size).
class StepDecay : public Schedule<StepDecay> {
 public:
  /// Multiplies `lr` by `gamma` every `step_size` epochs; throws `NumericError` if step_size is 0
  /// or lr or gamma is negative.
  StepDecay(double lr, std::size_t step_size, double gamma = 0.1) : lr_(lr), step_size_(step_size), gamma_(gamma) {
    detail::check_lr("StepDecay", lr);
    if (step_size == 0) throw NumericError("StepDecay", "step_size must be >= 1");
    if (!(gamma >= 0)) throw NumericError("StepDecay", "gamma must be >= 0");
  }
  /// eta(t).
  [[nodiscard]] double lr_at(std::size_t t) const noexcept { return lr_ * std::pow(gamma_, double(t / step_size_)); }

 private:
  double lr_;
  std::size_t step_size_;
  double gamma_;
};

/// Cosine annealing (Loshchilov and Hutter 2017, without restarts), as
/// torch.optim.lr_scheduler.CosineAnnealingLR for t <= period:
/// eta(t) = min_lr + (lr - min_lr) (1 + cos(pi t / period)) / 2. After `period` it stays at
/// min_lr (PyTorch's cosine would climb again).
class CosineAnnealing : public Schedule<CosineAnnealing> {
 public:
  /// Anneals from `lr` at t = 0 to `min_lr` at t = `period`; throws `NumericError` if period is 0
  /// or a rate is negative.
  CosineAnnealing(double lr, std::size_t period, double min_lr = 0) : lr_(lr), min_lr_(min_lr), period_(period) {
    detail::check_lr("CosineAnnealing", lr);
    detail::check_lr("CosineAnnealing", min_lr);
    if (period == 0) throw NumericError("CosineAnnealing", "period must be >= 1");
  }
  /// eta(t).
  [[nodiscard]] double lr_at(std::size_t t) const noexcept {
    if (t >= period_) return min_lr_;
    return min_lr_ + (lr_ - min_lr_) * (1 + std::cos(std::numbers::pi * double(t) / double(period_))) / 2;
  }

 private:
  double lr_, min_lr_;
  std::size_t period_;
};

/// Linear warm-up in front of another schedule `After`, as PyTorch's
/// SequentialLR([LinearLR(start_factor, 1, warmup), after], milestones=[warmup]):
/// eta(t) = after(0) (f + (1 - f) t / warmup) for t < warmup, then after(t - warmup).
template <class After>
class LinearWarmup : public Schedule<LinearWarmup<After>> {
 public:
  /// Ramps from `start_factor` * after(0) to after(0) over `warmup` epochs, then follows `after`.
  /// Throws `NumericError` if warmup is 0 or start_factor is outside [0, 1].
  LinearWarmup(std::size_t warmup, After after, double start_factor = 1.0 / 3)
      : after_(std::move(after)), warmup_(warmup), start_factor_(start_factor) {
    if (warmup == 0) throw NumericError("LinearWarmup", "warmup must be >= 1");
    if (!(start_factor >= 0 && start_factor <= 1)) throw NumericError("LinearWarmup", "start_factor must be in [0, 1]");
  }
  /// eta(t).
  [[nodiscard]] double lr_at(std::size_t t) const {
    if (t >= warmup_) return after_.lr_at(t - warmup_);
    return after_.lr_at(0) * (start_factor_ + (1 - start_factor_) * double(t) / double(warmup_));
  }

 private:
  After after_;
  std::size_t warmup_;
  double start_factor_;
};

}  // namespace latent::inline v0
