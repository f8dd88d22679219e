#pragma once
/// @file
/// `Adam`: adaptive moment estimation (Kingma and Ba 2015) with L2 weight decay.

#include <cmath>
#include <utility>
#include <vector>

#include "latent/kernels/packet.hpp"
#include "latent/optim/optimizer.hpp"

namespace latent::inline v0 {

/// Options of `Adam` (names, meaning and defaults as torch.optim.Adam).
struct AdamOptions {
  double lr = 1e-3;         ///< eta, the learning rate
  double beta1 = 0.9;       ///< decay of the first-moment average m
  double beta2 = 0.999;     ///< decay of the second-moment average v
  double eps = 1e-8;        ///< added to sqrt(v_hat) so the step stays finite
  double weight_decay = 0;  ///< lambda of the L2 term added to the gradient
};

/// Adam, exactly as torch.optim.Adam (amsgrad off). At step t (1, 2, ...), with
/// g = grad + lambda theta:
///   m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2
///   theta <- theta - eta / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// Slots: "exp_avg" (m) and "exp_avg_sq" (v). Throws `NumericError` for options outside their
/// domain (betas in [0, 1), eps and weight_decay >= 0).
template <class S>
class Adam : public Optimizer<S> {
 public:
  /// Updates `params` with `options`.
  Adam(std::vector<Parameter<S>*> params, AdamOptions options = {}) : Adam("Adam", std::move(params), options, 0.0) {}

  /// The options it was built with (the learning rate may since have changed: see `lr()`).
  [[nodiscard]] const AdamOptions& options() const noexcept { return o_; }

 protected:
  /// For `AdamW`: Adam that also shrinks theta by (1 - eta * `decoupled_decay`) each step.
  Adam(std::string kind, std::vector<Parameter<S>*> params, const AdamOptions& options, double decoupled_decay)
      : Optimizer<S>(std::move(kind), std::move(params), options.lr, {"exp_avg", "exp_avg_sq"}),
        o_(options),
        decoupled_decay_(decoupled_decay) {
    const std::string& k = this->kind();
    if (!(o_.beta1 >= 0 && o_.beta1 < 1)) throw NumericError(k, "beta1 must be in [0, 1)");
    if (!(o_.beta2 >= 0 && o_.beta2 < 1)) throw NumericError(k, "beta2 must be in [0, 1)");
    if (!(o_.eps >= 0)) throw NumericError(k, "eps must be >= 0");
    if (!(o_.weight_decay >= 0 && decoupled_decay_ >= 0)) throw NumericError(k, "weight_decay must be >= 0");
  }

  /// The bias corrections of this step (see `Optimizer::begin_step`).
  void begin_step() override {
    const double t = double(this->steps());
    // theta -= eta / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), with numerator and
    // denominator multiplied by sqrt(1 - beta2^t): one division per entry instead of two.
    const double bias2_sqrt = std::sqrt(1 - std::pow(o_.beta2, t));
    step_size_ = S(this->lr() / (1 - std::pow(o_.beta1, t)) * bias2_sqrt);
    eps_ = S(o_.eps * bias2_sqrt);
    shrink_ = S(1 - this->lr() * decoupled_decay_);
  }

  /// The Adam rule on one block of columns (see `Optimizer::update`), fused into one pass: it
  /// reads theta, m, v and the gradient (formed in registers when it is kept as factors) once
  /// and writes theta, m, v once, which is faster than three Eigen assignments on the AVX-512
  /// cores we measured (figures in docs/performance.md, "Inside a step").
  [[gnu::flatten]] void update(typename Optimizer<S>::Block& block) override {
    using detail::load, detail::store;
    const S b1 = S(o_.beta1), b2 = S(o_.beta2);
    S* const theta = block.value.data();
    S* const m = block.slot(0).data();
    S* const v = block.slot(1).data();
    this->for_each_gradient_packet(block, o_.weight_decay, [&]<class P>(Index i, const P& g) {
      // m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,  theta = shrink theta - step m / (sqrt(v) + eps).
      const P th = load<P>(theta + i);
      const P m1 = detail::flush_subnormal(P(b1) * load<P>(m + i) + P(S(1) - b1) * g);
      const P v1 = detail::flush_subnormal(P(b2) * load<P>(v + i) + P(S(1) - b2) * (g * g));
      store(m + i, m1);
      store(v + i, v1);
      const P denominator = sqrt(v1) + P(eps_);
      store(theta + i, P(shrink_) * th - P(step_size_) * m1 / denominator);
    });
  }

 private:
  AdamOptions o_;
  double decoupled_decay_;
  S step_size_ = 0, eps_ = 0, shrink_ = 1;  // of the current step, set by begin_step
};

/// Options of `AdamW` (names, meaning and defaults as torch.optim.AdamW).
struct AdamWOptions {
  double lr = 1e-3;            ///< eta, the learning rate
  double beta1 = 0.9;          ///< decay of the first-moment average m
  double beta2 = 0.999;        ///< decay of the second-moment average v
  double eps = 1e-8;           ///< added to sqrt(v_hat) so the step stays finite
  double weight_decay = 1e-2;  ///< lambda of the decoupled decay theta <- (1 - eta lambda) theta
};

/// AdamW (Loshchilov and Hutter 2019), exactly as torch.optim.AdamW: weight decay is decoupled
/// from the gradient. At step t: theta <- (1 - eta lambda) theta, then the Adam update with
/// g = grad (no L2 term). Slots as `Adam`.
template <class S>
class AdamW : public Adam<S> {
 public:
  /// Updates `params` with `options`.
  AdamW(std::vector<Parameter<S>*> params, AdamWOptions options = {})
      : Adam<S>(
            "AdamW", std::move(params),
            {.lr = options.lr, .beta1 = options.beta1, .beta2 = options.beta2, .eps = options.eps, .weight_decay = 0},
            options.weight_decay),
        o_(options) {}

  /// The options it was built with (the learning rate may since have changed: see `lr()`).
  [[nodiscard]] const AdamWOptions& options() const noexcept { return o_; }

 private:
  AdamWOptions o_;
};

}  // namespace latent::inline v0
