#pragma once
/// @file
/// `Conv2d` and `ConvTranspose2d`: convolution layers on image batches `(C H W) x batch`.

#include "latent/autodiff/ops/conv.hpp"
#include "latent/layers/init.hpp"
#include "latent/layers/linear.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

namespace detail {

/// What `Conv2d` and `ConvTranspose2d` share: the input and output image shapes, the window, the
/// filters W and the bias b, drawn as PyTorch draws them, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
template <class S>
class ConvLayer : public Module<S> {
 public:
  /// The shape of each input image.
  [[nodiscard]] const ImageShape& input_shape() const noexcept { return input_; }
  /// The shape of each output image.
  [[nodiscard]] const ImageShape& output_shape() const noexcept { return output_; }
  /// W: `Cout x (C k k)` for a convolution, `C x (Cout k k)` for a transposed one.
  Parameter<S>& weight() noexcept { return weight_; }
  /// b, `Cout x 1` (empty without bias).
  Parameter<S>& bias() noexcept { return bias_; }

 protected:
  /// W gets `weight_rows` rows, one per filter of `fan_in` taps; `fan_out` completes the fans
  /// that initialisers such as Xavier take.
  ConvLayer(const ImageShape& input, const ImageShape& output, const ConvOptions& window, Index weight_rows,
            Index fan_in, Index fan_out, Rng& rng, const LinearOptions& options)
      : input_(input),
        output_(output),
        window_(window),
        weight_("weight", weight_rows, fan_in),
        bias_("bias", options.bias ? output.channels : 0, 1),
        has_bias_(options.bias) {
    options.init.apply(weight_.value, fan_in, fan_out, rng);
    if (has_bias_) options.bias_init.apply(bias_.value, fan_in, fan_out, rng);
  }

  /// Lists `weight()` and, with a bias, `bias()`.
  void visit_own_parameters(const typename Module<S>::ParameterVisitor& f) override {
    f(weight_);
    if (has_bias_) f(bias_);
  }

  ImageShape input_, output_;
  ConvOptions window_;
  Parameter<S> weight_, bias_;
  bool has_bias_;
};

}  // namespace detail

/// A 2-d convolution layer (PyTorch's `nn.Conv2d`): images `input` (C x H x W) to `out_channels`
/// channels, `y = conv2d(x, W, b)`, x `(C H W) x batch`, y `(Cout Ho Wo) x batch` with
/// `Ho = floor((H + 2p - d (k - 1) - 1) / s) + 1` (`output_shape()`). W is `Cout x (C k k)`
/// (PyTorch's `[Cout][C][k][k]`), b `Cout x 1`; both drawn as PyTorch does by default,
/// U(-1/sqrt(C k k), 1/sqrt(C k k)). Parameters "weight" and "bias". The constructor throws
/// `ShapeError` naming "Conv2d", the input C x H x W and the window when the geometry is invalid
/// (empty output, options out of range); `forward` when x does not have C H W rows.
template <class S>
class Conv2d : public detail::ConvLayer<S> {
 public:
  Conv2d(const ImageShape& input, Index out_channels, const ConvOptions& window, Rng& rng, LinearOptions options = {})
      : detail::ConvLayer<S>(
            input, conv2d_output("Conv2d", input, require_size("Conv2d", "out_channels", out_channels), window), window,
            out_channels, input.channels * window.kernel * window.kernel, out_channels * window.kernel * window.kernel,
            rng, options) {}

  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    return this->has_bias_
               ? conv2d(x, this->weight_.on(tape), this->bias_.on(tape), this->input_, this->window_, "Conv2d")
               : conv2d(x, this->weight_.on(tape), this->input_, this->window_, "Conv2d");
  }
};

/// A 2-d transposed convolution layer (PyTorch's `nn.ConvTranspose2d`), the adjoint of a
/// convolution: images `input` (C x H x W) to `out_channels` channels of
/// `Ho = (H - 1) s - 2p + d (k - 1) + output_padding + 1` (`output_shape()`), likewise Wo. W is
/// `C x (Cout k k)` (PyTorch's `[C][Cout][k][k]`), b `Cout x 1`, drawn as PyTorch does,
/// U(-1/sqrt(Cout k k), 1/sqrt(Cout k k)): PyTorch takes the fans of the weight [C][Cout][k][k]
/// as a convolution's, fan_in = Cout k k. Parameters "weight" and "bias". Throws `ShapeError`
/// naming "ConvTranspose2d" as `Conv2d` does.
template <class S>
class ConvTranspose2d : public detail::ConvLayer<S> {
 public:
  ConvTranspose2d(const ImageShape& input, Index out_channels, const ConvOptions& window, Rng& rng,
                  LinearOptions options = {})
      : detail::ConvLayer<S>(
            input,
            conv_transpose2d_output("ConvTranspose2d", input,
                                    require_size("ConvTranspose2d", "out_channels", out_channels), window),
            window, input.channels, out_channels * window.kernel * window.kernel,
            input.channels * window.kernel * window.kernel, rng, options) {}

  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    return this->has_bias_ ? conv_transpose2d(x, this->weight_.on(tape), this->bias_.on(tape), this->input_,
                                              this->window_, "ConvTranspose2d")
                           : conv_transpose2d(x, this->weight_.on(tape), this->output_.channels, this->input_,
                                              this->window_, "ConvTranspose2d");
  }
};

namespace detail {

/// Throws `ShapeError` naming `layer` unless x has the `C H W` rows of `image`.
template <class S>
void require_image_rows(const char* layer, Var<S> x, const ImageShape& image) {
  if (x.rows() != image.size())
    throw ShapeError(layer, "x is " + shape_of(x) + " but a " + to_string(image) + " image has " +
                                std::to_string(image.size()) + " rows");
}

}  // namespace detail

/// Images to feature vectors, `(C H W) x batch` -> the same: one image per column is already the
/// flat layout (channel-major, then row-major), so `Flatten` only checks the rows, naming the
/// image shape, and passes x on. It marks in a network where images become features.
template <class S>
class Flatten : public Module<S> {
 public:
  explicit Flatten(const ImageShape& image) : image_(image) {}
  Var<S> forward(Tape<S>&, Var<S> x) const override {
    detail::require_image_rows("Flatten", x, image_);
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
    detail::require_image_rows("Unflatten", x, image_);
    return x;
  }
  /// The shape of each image.
  [[nodiscard]] const ImageShape& image_shape() const noexcept { return image_; }

 private:
  ImageShape image_;
};

}  // namespace latent::inline v0
