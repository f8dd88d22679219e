#pragma once
/// @file
/// `RmsProp`: gradient steps divided by a running root mean square of the gradient (Hinton 2012).

#include <string>
#include <utility>
#include <vector>

#include "latent/kernels/packet.hpp"
#include "latent/optim/optimizer.hpp"

namespace latent::inline v0 {

/// Options of `RmsProp` (names, meaning and defaults as torch.optim.RMSprop).
struct RmsPropOptions {
  double lr = 1e-2;         ///< eta, the learning rate
  double alpha = 0.99;      ///< decay of the running averages
  double eps = 1e-8;        ///< added to the root mean square so the step stays finite
  double weight_decay = 0;  ///< lambda of the L2 term added to the gradient
  double momentum = 0;      ///< mu; 0 turns momentum off (no buffer is kept)
  bool centered = false;    ///< divide by an estimate of the standard deviation instead of the RMS
};

/// RMSprop, exactly as torch.optim.RMSprop. With g = grad + lambda theta:
///   s <- alpha s + (1 - alpha) g^2
///   centered: a <- alpha a + (1 - alpha) g,  d = sqrt(s - a^2) + eps;  else d = sqrt(s) + eps
///   momentum: b <- mu b + g / d,  theta <- theta - eta b;  else theta <- theta - eta g / d
/// Slots: "square_avg" (s), then "momentum_buffer" (b) when momentum > 0, then "grad_avg" (a)
/// when centered. Throws `NumericError` for options outside their domain.
template <class S>
class RmsProp : public Optimizer<S> {
 public:
  /// Updates `params` with `options`.
  RmsProp(std::vector<Parameter<S>*> params, RmsPropOptions options = {})
      : Optimizer<S>("RmsProp", std::move(params), options.lr, slot_names(options)), o_(options) {
    if (!(o_.alpha >= 0 && o_.alpha <= 1)) throw NumericError("RmsProp", "alpha must be in [0, 1]");
    if (!(o_.eps >= 0)) throw NumericError("RmsProp", "eps must be >= 0");
    if (!(o_.momentum >= 0)) throw NumericError("RmsProp", "momentum must be >= 0");
    if (!(o_.weight_decay >= 0)) throw NumericError("RmsProp", "weight_decay must be >= 0");
  }

  /// The options it was built with (the learning rate may since have changed: see `lr()`).
  [[nodiscard]] const RmsPropOptions& options() const noexcept { return o_; }

 protected:
  /// The RMSProp rule on one block of columns (see `Optimizer::update`).
  [[gnu::flatten]] void update(typename Optimizer<S>::Block& block) override {
    using detail::load, detail::store;
    const S alpha = S(o_.alpha), eps = S(o_.eps), lr = S(this->lr()), mu = S(o_.momentum);
    const bool momentum = o_.momentum > 0, centered = o_.centered;
    S* const theta = block.value.data();
    S* const square_avg = block.slot(0).data();
    S* const buffer = momentum ? block.slot(1).data() : nullptr;
    S* const grad_avg = centered ? block.slot(momentum ? 2 : 1).data() : nullptr;
    const auto average = [&]<class P>(const P& old, const P& x) {
      return detail::flush_subnormal(P(alpha) * old + P(S(1) - alpha) * x);
    };
    this->for_each_gradient_packet(block, o_.weight_decay, [&]<class P>(Index i, const P& g) {
      const P s = average(load<P>(square_avg + i), g * g);
      store(square_avg + i, s);
      P variance = s;
      if (centered) {
        const P a = average(load<P>(grad_avg + i), g);
        store(grad_avg + i, a);
        variance = s - a * a;
      }
      const P d = sqrt(variance) + P(eps);
      const P th = load<P>(theta + i);
      if (momentum) {
        const P b = detail::flush_subnormal(P(mu) * load<P>(buffer + i) + g / d);
        store(buffer + i, b);
        store(theta + i, th - P(lr) * b);
      } else {
        store(theta + i, th - P(lr) * g / d);
      }
    });
  }

 private:
  static std::vector<std::string> slot_names(const RmsPropOptions& o) {
    std::vector<std::string> names{"square_avg"};
    if (o.momentum > 0) names.emplace_back("momentum_buffer");
    if (o.centered) names.emplace_back("grad_avg");
    return names;
  }

  RmsPropOptions o_;
};

}  // namespace latent::inline v0
