#pragma once
// GEMM flops of one training step of a stack of dense layers, for the benchmarks' GFLOP/s.

#include <Eigen/Core>

#include <iterator>

namespace latent_bench {

/// `layers` holds {inputs, outputs} per layer, first layer first. Forward W x costs 2 in out
/// flops per column and layer, backward dW and dx twice that, minus dx of the first layer, which
/// is never formed (the data needs no gradient).
template <class Layers>
double step_flops(const Layers& layers, Eigen::Index batch) {
  double per_column = 0;
  for (const auto& [in, out] : layers) per_column += 2.0 * double(in) * double(out);
  const auto& [in0, out0] = *std::begin(layers);
  return double(batch) * (3 * per_column - 2.0 * double(in0) * double(out0));
}

}  // namespace latent_bench
