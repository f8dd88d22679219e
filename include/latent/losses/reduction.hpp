#pragma once
/// @file
/// `Reduction`: how a per-example loss row becomes the number you optimise.

#include "latent/autodiff/ops/reduce.hpp"

namespace latent::inline v0 {

/// How a loss reduces over the batch. Every loss is first summed over features (one number per
/// example, in nats for likelihood losses); then:
enum class Reduction {
  mean,  ///< averaged over the batch: 1x1, "per example" (latent's reporting unit)
  sum,   ///< summed over the batch: 1x1
  none,  ///< kept per example: 1 x batch
};

namespace losses {

/// Reduces a 1 x batch row of per-example values as `r` says.
template <class S>
Var<S> reduce(Var<S> per_example, Reduction r) {
  switch (r) {
    case Reduction::mean:
      return mean(per_example);
    case Reduction::sum:
      return sum(per_example);
    case Reduction::none:
      return per_example;
  }
  return per_example;
}

}  // namespace losses
}  // namespace latent::inline v0
