#pragma once
/// @file
/// `AvgPool2d` and `Upsample`: resampling layers for image batches `(C H W) x batch`.

#include "latent/autodiff/ops/pool.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// Average pooling of images `input` (PyTorch's `nn.AvgPool2d`, count_include_pad): each output
/// entry the mean of a k x k window, `Ho = floor((H + 2p - k) / s) + 1` (`output_shape()`). No
/// parameters. The constructor throws `ShapeError` naming "AvgPool2d", the input and the window
/// for an empty output or options out of range.
template <class S>
class AvgPool2d : public Module<S> {
 public:
  AvgPool2d(const ImageShape& input, const PoolOptions& window)
      : input_(input), output_(avg_pool2d_output("AvgPool2d", input, window)), window_(window) {}
  Var<S> forward(Tape<S>&, Var<S> x) const override { return avg_pool2d(x, input_, window_, "AvgPool2d"); }
  /// The shape of each input image.
  [[nodiscard]] const ImageShape& input_shape() const noexcept { return input_; }
  /// The shape of each output image.
  [[nodiscard]] const ImageShape& output_shape() const noexcept { return output_; }

 private:
  ImageShape input_, output_;
  PoolOptions window_;
};

/// Nearest-neighbour upsampling of images `input` by an integer `scale` (PyTorch's
/// `nn.Upsample(scale_factor=scale, mode="nearest")`): output `C x (H scale) x (W scale)`, each
/// entry copied from the input entry it falls in. No parameters. Throws `ShapeError` naming
/// "Upsample" for a scale below 1.
template <class S>
class Upsample : public Module<S> {
 public:
  Upsample(const ImageShape& input, Index scale) : input_(input), scale_(scale) {
    if (scale < 1 || input.channels < 1 || input.height < 1 || input.width < 1)
      throw ShapeError("Upsample", "input " + to_string(input) + " with scale " + std::to_string(scale) +
                                       ": sizes and scale must be at least 1");
  }
  Var<S> forward(Tape<S>&, Var<S> x) const override { return upsample_nearest(x, input_, scale_, "Upsample"); }
  /// The shape of each input image.
  [[nodiscard]] const ImageShape& input_shape() const noexcept { return input_; }
  /// The shape of each output image.
  [[nodiscard]] ImageShape output_shape() const noexcept {
    return {input_.channels, input_.height * scale_, input_.width * scale_};
  }

 private:
  ImageShape input_;
  Index scale_;
};

}  // namespace latent::inline v0
