#pragma once
/// @file
/// `clip_grad_norm`: rescales gradients whose joint norm is too large.

#include <cmath>
#include <string>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/layers/parameter.hpp"

namespace latent::inline v0 {

/// Clips the gradients of `params` jointly, as torch.nn.utils.clip_grad_norm_: with
/// n = sqrt(sum over parameters of ||grad||_F^2), every grad is multiplied by
/// c = max_norm / (n + 1e-6) when c < 1. Returns n, the norm before clipping (NaN or infinite if
/// a gradient is; the gradients are then scaled by 0 or NaN, as in PyTorch). The norm is summed
/// in double. Throws `NumericError` unless max_norm > 0.
template <class S>
double clip_grad_norm(const std::vector<Parameter<S>*>& params, double max_norm) {
  if (!(max_norm > 0)) throw NumericError("clip_grad_norm", "max_norm must be > 0, got " + std::to_string(max_norm));
  double squared = 0;
  for (Parameter<S>* p : params) squared += p->grad().template cast<double>().squaredNorm();
  const double norm = std::sqrt(squared);
  const double c = max_norm / (norm + 1e-6);
  if (!(c >= 1))
    for (Parameter<S>* p : params) p->grad() *= S(c);
  return norm;
}

}  // namespace latent::inline v0
