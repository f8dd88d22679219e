#pragma once
// The matrix products of a training step of the reference VAE (784-400-20, the mu and log-variance
// heads in one 400 -> 40 layer), run by Eigen's own GEMM and nothing else: the machine's floor for
// a step, and, over a Fashion-MNIST epoch, for an epoch (issue 8: ">= 85% of the GEMM floor").
// A floor timed in the same run as the step it bounds is what makes the share meaningful on a
// shared machine whose speed changes from minute to minute.

#include <latent/core.hpp>

#include "step_flops.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <array>

namespace latent_bench {

/// The reference VAE's layers as {inputs, outputs}, encoder then decoder.
inline constexpr std::array<std::array<Eigen::Index, 2>, 4> vae_layers = {
    {{784, 400}, {400, 40}, {20, 400}, {400, 784}}};

/// GEMM flops of one VAE step.
inline double vae_step_flops(Eigen::Index batch) { return step_flops(vae_layers, batch); }

template <class S>
class VaeGemms {
 public:
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

  // Every product writes its own destination and reads only fixed random operands, so values
  // never feed back into each other (no drift towards subnormals over an epoch).
  explicit VaeGemms(Eigen::Index max_batch) {
    latent::Rng rng(1);
    for (std::size_t l = 0; l < vae_layers.size(); ++l) {
      const auto [in, out] = vae_layers[l];
      w_[l].resize(out, in);                   // out x in
      grad_w_[l].resize(out, in);              // out x in
      input_[l].resize(in, max_batch);         // in x batch: the layer's input
      grad_input_[l].resize(in, max_batch);    // in x batch: its gradient
      output_[l].resize(out, max_batch);       // out x batch: the layer's output
      grad_output_[l].resize(out, max_batch);  // out x batch: its gradient
      rng.fill_uniform(w_[l], -0.05, 0.05);
      rng.fill_uniform(input_[l]);
      rng.fill_uniform(grad_output_[l], -1.0, 1.0);
    }
  }

  /// The products of one step at `batch` columns, in the order a step runs them.
  void step(Eigen::Index batch) {
    for (std::size_t l = 0; l < vae_layers.size(); ++l)
      output_[l].leftCols(batch).noalias() = w_[l] * input_[l].leftCols(batch);
    for (std::size_t l = vae_layers.size(); l-- > 0;) {
      const auto g = grad_output_[l].leftCols(batch);
      grad_w_[l].noalias() = g * input_[l].leftCols(batch).transpose();
      if (l > 0) grad_input_[l].leftCols(batch).noalias() = w_[l].transpose() * g;
    }
  }

  /// The products of one epoch over `examples` images in batches of `batch`.
  void epoch(Eigen::Index examples, Eigen::Index batch) {
    for (Eigen::Index first = 0; first < examples; first += batch) step(std::min(batch, examples - first));
  }

 private:
  std::array<M, vae_layers.size()> w_, grad_w_, input_, grad_input_, output_, grad_output_;
};

}  // namespace latent_bench
