#pragma once
/// @file
/// `Sgd`: stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay.

#include <utility>
#include <vector>

#include "latent/optim/optimizer.hpp"

namespace latent::inline v0 {

/// Options of `Sgd` (names and meaning as torch.optim.SGD).
struct SgdOptions {
  double lr = 1e-2;         ///< eta, the learning rate (PyTorch has no default)
  double momentum = 0;      ///< mu; 0 turns momentum off (no buffer is kept)
  double dampening = 0;     ///< tau, scales the new gradient in the buffer by (1 - tau)
  bool nesterov = false;    ///< Nesterov momentum; needs momentum > 0 and dampening = 0
  double weight_decay = 0;  ///< lambda of the L2 term added to the gradient
};

/// Stochastic gradient descent, exactly as torch.optim.SGD. With g = grad + lambda theta:
///   no momentum:  theta <- theta - eta g
///   momentum:     b <- mu b + (1 - tau) g   (b = g on the first step)
///                 theta <- theta - eta (g + mu b)  with Nesterov, else theta - eta b
/// Slot: "momentum_buffer" (only when momentum > 0). Throws `NumericError` for options outside
/// their domain.
template <class S>
class Sgd : public Optimizer<S> {
 public:
  /// Updates `params` with `options`.
  Sgd(std::vector<Parameter<S>*> params, SgdOptions options = {})
      : Optimizer<S>("Sgd", std::move(params), options.lr,
                     options.momentum != 0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{}),
        o_(options) {
    if (!(o_.momentum >= 0)) throw NumericError("Sgd", "momentum must be >= 0");
    if (!(o_.weight_decay >= 0)) throw NumericError("Sgd", "weight_decay must be >= 0");
    if (o_.nesterov && (o_.momentum <= 0 || o_.dampening != 0))
      throw NumericError("Sgd", "Nesterov momentum needs momentum > 0 and dampening = 0");
  }

  /// The options it was built with (the learning rate may since have changed: see `lr()`).
  [[nodiscard]] const SgdOptions& options() const noexcept { return o_; }

 protected:
  /// The SGD rule on one block of columns (see `Optimizer::update`), in one pass over the
  /// gradient (`Optimizer::for_each_gradient_packet`).
  [[gnu::flatten]] void update(typename Optimizer<S>::Block& block) override {
    using detail::load, detail::store;
    const S lr = S(this->lr()), mu = S(o_.momentum), damped = S(1 - o_.dampening);
    const bool momentum = o_.momentum != 0, first = this->steps() == 1, nesterov = o_.nesterov;
    S* const theta = block.value.data();
    S* const buffer = momentum ? block.slot(0).data() : nullptr;
    this->for_each_gradient_packet(block, o_.weight_decay, [&]<class P>(Index i, const P& g) {
      P step = g;
      if (momentum) {
        // PyTorch starts the buffer at g itself, undamped.
        const P b = first ? g : detail::flush_subnormal(P(mu) * load<P>(buffer + i) + P(damped) * g);
        store(buffer + i, b);
        step = nesterov ? g + P(mu) * b : b;
      }
      store(theta + i, load<P>(theta + i) - P(lr) * step);
    });
  }

 private:
  SgdOptions o_;
};

}  // namespace latent::inline v0
