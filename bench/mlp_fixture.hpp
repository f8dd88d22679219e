#pragma once
// The reference network of the benchmarks, 784-400-20-400-784 with ReLU and a BCE-from-logits
// output, trained as an autoencoder on a uniform random batch: its parameters and input, and the
// GEMM flops of one forward + backward step (the input's own gradient is never formed).

#include <latent/autodiff.hpp>

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

/// Forward W x (2 m k n per layer), backward dW and dx (twice that) except dx of layer one.
inline double step_flops(Eigen::Index batch) {
  double per_column = 0;
  for (std::size_t l = 0; l < 4; ++l) per_column += 2.0 * sizes[l] * sizes[l + 1];
  return double(batch) * (3 * per_column - 2.0 * sizes[0] * sizes[1]);
}

}  // namespace latent_bench
