#pragma once
// The reference network of the benchmarks, 784-400-20-400-784 with ReLU and a BCE-from-logits
// output, trained as an autoencoder on a uniform random batch: its parameters and input, and the
// GEMM flops of one forward + backward step (the input's own gradient is never formed).

#include <latent/autodiff.hpp>

#include "step_flops.hpp"

#include <array>

namespace latent_bench {

using M = Eigen::MatrixXf;
inline constexpr std::array<int, 5> sizes = {784, 400, 20, 400, 784};

struct MlpParams {
  std::array<M, 4> w, b, gw, gb;
  M x;
  explicit MlpParams(Eigen::Index batch) : x(sizes[0], batch) {
    latent::Rng rng(1);
    for (std::size_t l = 0; l < 4; ++l) {
      w[l].resize(sizes[l + 1], sizes[l]);
      rng.fill_normal(w[l]);
      w[l] *= 1.0f / std::sqrt(float(sizes[l]));
      b[l] = M::Zero(sizes[l + 1], 1);
      gw[l] = M::Zero(sizes[l + 1], sizes[l]);
      gb[l] = M::Zero(sizes[l + 1], 1);
    }
    rng.fill_uniform(x);
  }
  void zero_grad() {
    for (std::size_t l = 0; l < 4; ++l) {
      gw[l].setZero();
      gb[l].setZero();
    }
  }
};

/// GEMM flops of one step of the network.
inline double step_flops(Eigen::Index batch) {
  std::array<std::array<Eigen::Index, 2>, 4> layers;
  for (std::size_t l = 0; l < layers.size(); ++l) layers[l] = {sizes[l], sizes[l + 1]};
  return step_flops(layers, batch);
}

}  // namespace latent_bench
