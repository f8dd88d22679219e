#pragma once
// The matrix products of a training step of the convolutional VAE (latent::conv_vae's default net,
// issue 19), run by Eigen's own GEMM and nothing else: the floor of a conv VAE step and epoch, as
// vae_gemms.hpp is the MLP's. A convolution over a batch is one product of its patch matrix
// (P batch rows, K = C k k taps) with the filters; the 17 products below are the ones latent's
// conv ops run (autodiff/ops/conv.hpp), with the same shapes and transpositions.

#include <latent/core.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <array>

namespace latent_bench {

template <class S>
class ConvVaeGemms {
 public:
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

  // Every product writes its own destination and reads only fixed random operands, so values
  // never feed back into each other (no drift towards subnormals over an epoch).
  explicit ConvVaeGemms(Eigen::Index max_batch) {
    latent::Rng rng(1);
    const auto random = [&](Eigen::Index rows, Eigen::Index cols) {
      M m(rows, cols);
      rng.fill_uniform(m, -0.05, 0.05);
      return m;
    };
    for (std::size_t l = 0; l < convs_.size(); ++l) {
      const ConvShape s = conv_shapes[l];
      const Eigen::Index rows = s.positions * max_batch, taps = s.tap_channels * 16;  // 4 x 4 kernels
      Conv& c = convs_[l];
      c.w = random(s.channels, taps);
      c.grad_w = random(s.channels, taps);
      c.taps = random(rows, taps);
      c.channels = random(rows, s.channels);
      c.taps_out = random(rows, taps);
      c.channels_out = random(rows, s.channels);
    }
    for (std::size_t l = 0; l < linears_.size(); ++l) {
      const auto [in, out] = linear_shapes[l];
      Linear& d = linears_[l];
      d.w = random(out, in);
      d.grad_w = random(out, in);
      d.input = random(in, max_batch);
      d.grad_input = random(in, max_batch);
      d.output = random(out, max_batch);
      d.grad_output = random(out, max_batch);
    }
  }

  /// The products of one step at `batch` images, in the order a step runs them.
  void step(Eigen::Index batch) {
    // Forward: conv1, conv2 (Y = X W^T), the Linear head, the decoder's Linear, deconv1, deconv2 (D = Xc W).
    channels_from_taps(0, batch);
    channels_from_taps(1, batch);
    linear_forward(0, batch);
    linear_forward(1, batch);
    taps_from_channels(2, batch);
    taps_from_channels(3, batch);
    // Backward, last layer first: each layer's dW = channels^T taps and its input's gradient
    // (a transposed conv's dXc = E W^T, a conv's dX = Gy W); conv1's input is the data.
    for (std::size_t l : {3, 2}) {
      filter_gradient(l, batch);
      channels_from_taps(l, batch);
    }
    linear_backward(1, batch);
    linear_backward(0, batch);
    filter_gradient(1, batch);
    taps_from_channels(1, batch);
    filter_gradient(0, batch);
  }

  /// The products of one epoch over `examples` images in batches of `batch`.
  void epoch(Eigen::Index examples, Eigen::Index batch) {
    for (Eigen::Index first = 0; first < examples; first += batch) step(std::min(batch, examples - first));
  }

 private:
  // One conv layer as its GEMMs see it: a taps matrix T (P batch x K, K = tap_channels k k), a
  // channels matrix C (P batch x channels) and the filters W (channels x K). A conv's output is
  // T W^T, its dW = Gy^T T and its dX = Gy W; a transposed conv's output is Xc W, its dW = Xc^T E
  // and its dXc = E W^T: the same three products.
  struct ConvShape {
    Eigen::Index tap_channels, channels, positions;  // P: positions of the smaller image
  };
  static constexpr std::array<ConvShape, 4> conv_shapes = {{
      {1, 32, 196},  // conv1 1 -> 32, 28 -> 14
      {32, 64, 49},  // conv2 32 -> 64, 14 -> 7
      {32, 64, 49},  // deconv1 64 -> 32, 7 -> 14
      {1, 32, 196},  // deconv2 32 -> 1, 14 -> 28
  }};
  static constexpr std::array<std::array<Eigen::Index, 2>, 2> linear_shapes = {{{3136, 40}, {20, 3136}}};

  struct Conv {
    M w, grad_w, taps, channels, taps_out, channels_out;
  };
  struct Linear {
    M w, grad_w, input, grad_input, output, grad_output;
  };

  void channels_from_taps(std::size_t l, Eigen::Index batch) {  // T W^T
    Conv& c = convs_[l];
    const Eigen::Index rows = conv_shapes[l].positions * batch;
    c.channels_out.topRows(rows).noalias() = c.taps.topRows(rows) * c.w.transpose();
  }
  void taps_from_channels(std::size_t l, Eigen::Index batch) {  // C W
    Conv& c = convs_[l];
    const Eigen::Index rows = conv_shapes[l].positions * batch;
    c.taps_out.topRows(rows).noalias() = c.channels.topRows(rows) * c.w;
  }
  void filter_gradient(std::size_t l, Eigen::Index batch) {  // C^T T
    Conv& c = convs_[l];
    const Eigen::Index rows = conv_shapes[l].positions * batch;
    c.grad_w.noalias() = c.channels.topRows(rows).transpose() * c.taps.topRows(rows);
  }
  void linear_forward(std::size_t l, Eigen::Index batch) {
    Linear& d = linears_[l];
    d.output.leftCols(batch).noalias() = d.w * d.input.leftCols(batch);
  }
  void linear_backward(std::size_t l, Eigen::Index batch) {
    Linear& d = linears_[l];
    d.grad_w.noalias() = d.grad_output.leftCols(batch) * d.input.leftCols(batch).transpose();
    d.grad_input.leftCols(batch).noalias() = d.w.transpose() * d.grad_output.leftCols(batch);
  }

  std::array<Conv, conv_shapes.size()> convs_;
  std::array<Linear, linear_shapes.size()> linears_;
};

}  // namespace latent_bench
