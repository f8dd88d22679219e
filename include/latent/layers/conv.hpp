#pragma once
/// @file
/// `Conv2d` and `ConvTranspose2d`: convolution layers on image batches `(C H W) x batch`.

#include "latent/autodiff/ops/conv.hpp"
#include "latent/layers/init.hpp"
#include "latent/layers/linear.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// A 2-d convolution layer (PyTorch's `nn.Conv2d`): images `input` (C x H x W) to `out_channels`
/// channels, `y = conv2d(x, W, b)`, x `(C H W) x batch`, y `(Cout Ho Wo) x batch` with
/// `Ho = floor((H + 2p - d (k - 1) - 1) / s) + 1` (`output_shape()`). W is `Cout x (C k k)`
/// (PyTorch's `[Cout][C][k][k]`), b `Cout x 1`; both drawn as PyTorch does by default,
/// U(-1/sqrt(C k k), 1/sqrt(C k k)). Parameters "weight" and "bias". The constructor throws
/// `ShapeError` naming "Conv2d", the input C x H x W and the window when the geometry is invalid
/// (empty output, options out of range); `forward` when x does not have C H W rows.
template <class S>
class Conv2d : public Module<S> {
 public:
  Conv2d(const ImageShape& input, Index out_channels, const ConvOptions& window, Rng& rng, LinearOptions options = {})
      : input_(input),
        output_(conv2d_output("Conv2d", input, require_size("Conv2d", "out_channels", out_channels), window)),
        window_(window),
        weight_("weight", out_channels, input.channels * window.kernel * window.kernel),
        bias_("bias", options.bias ? out_channels : 0, 1),
        has_bias_(options.bias) {
    const Index taps = window.kernel * window.kernel;
    options.init.apply(weight_.value, input.channels * taps, out_channels * taps, rng);
    if (has_bias_) options.bias_init.apply(bias_.value, input.channels * taps, out_channels * taps, rng);
  }

  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    return has_bias_ ? conv2d(x, weight_.on(tape), bias_.on(tape), input_, window_, "Conv2d")
                     : conv2d(x, weight_.on(tape), input_, window_, "Conv2d");
  }

  /// The shape of each input image.
  [[nodiscard]] const ImageShape& input_shape() const noexcept { return input_; }
  /// The shape of each output image.
  [[nodiscard]] const ImageShape& output_shape() const noexcept { return output_; }
  /// W, `Cout x (C k k)`.
  Parameter<S>& weight() noexcept { return weight_; }
  /// b, `Cout x 1` (empty without bias).
  Parameter<S>& bias() noexcept { return bias_; }

 protected:
  /// Lists `weight()` and, with a bias, `bias()`.
  void visit_own_parameters(const typename Module<S>::ParameterVisitor& f) override {
    f(weight_);
    if (has_bias_) f(bias_);
  }

 private:
  ImageShape input_, output_;
  ConvOptions window_;
  Parameter<S> weight_, bias_;
  bool has_bias_;
};

/// A 2-d transposed convolution layer (PyTorch's `nn.ConvTranspose2d`), the adjoint of a
/// convolution: images `input` (C x H x W) to `out_channels` channels of
/// `Ho = (H - 1) s - 2p + d (k - 1) + output_padding + 1` (`output_shape()`), likewise Wo. W is
/// `C x (Cout k k)` (PyTorch's `[C][Cout][k][k]`), b `Cout x 1`, drawn as PyTorch does,
/// U(-1/sqrt(Cout k k), 1/sqrt(Cout k k)). Parameters "weight" and "bias". Throws `ShapeError`
/// naming "ConvTranspose2d" as `Conv2d` does.
template <class S>
class ConvTranspose2d : public Module<S> {
 public:
  ConvTranspose2d(const ImageShape& input, Index out_channels, const ConvOptions& window, Rng& rng,
                  LinearOptions options = {})
      : input_(input),
        output_(conv_transpose2d_output("ConvTranspose2d", input,
                                        require_size("ConvTranspose2d", "out_channels", out_channels), window)),
        window_(window),
        weight_("weight", input.channels, out_channels * window.kernel * window.kernel),
        bias_("bias", options.bias ? out_channels : 0, 1),
        has_bias_(options.bias) {
    const Index taps = window.kernel * window.kernel;
    // PyTorch takes the fans of the weight [C][Cout][k][k] as a conv's: fan_in = Cout k k.
    options.init.apply(weight_.value, out_channels * taps, input.channels * taps, rng);
    if (has_bias_) options.bias_init.apply(bias_.value, out_channels * taps, input.channels * taps, rng);
  }

  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    return has_bias_ ? conv_transpose2d(x, weight_.on(tape), bias_.on(tape), input_, window_, "ConvTranspose2d")
                     : conv_transpose2d(x, weight_.on(tape), output_.channels, input_, window_, "ConvTranspose2d");
  }

  /// The shape of each input image.
  [[nodiscard]] const ImageShape& input_shape() const noexcept { return input_; }
  /// The shape of each output image.
  [[nodiscard]] const ImageShape& output_shape() const noexcept { return output_; }
  /// W, `C x (Cout k k)`.
  Parameter<S>& weight() noexcept { return weight_; }
  /// b, `Cout x 1` (empty without bias).
  Parameter<S>& bias() noexcept { return bias_; }

 protected:
  /// Lists `weight()` and, with a bias, `bias()`.
  void visit_own_parameters(const typename Module<S>::ParameterVisitor& f) override {
    f(weight_);
    if (has_bias_) f(bias_);
  }

 private:
  ImageShape input_, output_;
  ConvOptions window_;
  Parameter<S> weight_, bias_;
  bool has_bias_;
};

/// Images to feature vectors, `(C H W) x batch` -> the same: one image per column is already the
/// flat layout (channel-major, then row-major), so `Flatten` only checks the rows, naming the
/// image shape, and passes x on. It marks in a network where images become features.
template <class S>
class Flatten : public Module<S> {
 public:
  explicit Flatten(const ImageShape& image) : image_(image) {}
  Var<S> forward(Tape<S>&, Var<S> x) const override {
    if (x.rows() != image_.size())
      throw ShapeError("Flatten", "x is " + detail::shape_of(x) + " but a " + to_string(image_) + " image has " +
                                      std::to_string(image_.size()) + " rows");
    return x;
  }
  /// The shape of each image.
  [[nodiscard]] const ImageShape& image_shape() const noexcept { return image_; }

 private:
  ImageShape image_;
};

/// Feature vectors to images of `image` (C x H x W): as `Flatten`, a check that x has `C H W`
/// rows (read channel-major, then row-major), with no copy.
template <class S>
class Unflatten : public Module<S> {
 public:
  explicit Unflatten(const ImageShape& image) : image_(image) {}
  Var<S> forward(Tape<S>&, Var<S> x) const override {
    if (x.rows() != image_.size())
      throw ShapeError("Unflatten", "x is " + detail::shape_of(x) + " but a " + to_string(image_) + " image needs " +
                                        std::to_string(image_.size()) + " rows");
    return x;
  }
  /// The shape of each image.
  [[nodiscard]] const ImageShape& image_shape() const noexcept { return image_; }

 private:
  ImageShape image_;
};

}  // namespace latent::inline v0
