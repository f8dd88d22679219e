#pragma once
/// @file
/// 2-d convolution and transposed convolution on image batches, `(C H W) x batch` (one image per
/// column, channel-major then row-major), each a GEMM over the batch run chunk by chunk of images
/// (kernels/conv.hpp), or, with `LATENT_USE_DNNL`, float ones with channels in blocks of 16 on
/// oneDNN's direct convolution kernels (kernels/dnnl_conv.hpp).

#include <string>
#include <type_traits>

#include "latent/autodiff/ops/checks.hpp"
#include "latent/kernels/conv.hpp"
#include "latent/kernels/dnnl_conv.hpp"

namespace latent::inline v0 {

/// The shape of one image: `channels x height x width`, stored channel-major then row-major in
/// `channels * height * width` rows of a column.
struct ImageShape {
  Index channels = 1;  ///< C
  Index height = 1;    ///< H
  Index width = 1;     ///< W
  /// Rows of one image, C H W.
  [[nodiscard]] Index size() const noexcept { return channels * height * width; }
  friend bool operator==(const ImageShape&, const ImageShape&) = default;
};

/// "C x H x W", for messages.
inline std::string to_string(const ImageShape& s) {
  return std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width);
}

/// The window of a convolution, the same on both axes.
struct ConvOptions {
  Index kernel = 3;          ///< k: the window is k x k
  Index stride = 1;          ///< s: step between windows
  Index padding = 0;         ///< p: zeros added on every side of the input (conv) / cropped (transposed)
  Index dilation = 1;        ///< d: step between taps of a window
  Index output_padding = 0;  ///< transposed conv only: rows and columns added at the bottom and right
};

namespace detail {

inline std::string conv_description(const ImageShape& in, const ConvOptions& o, bool transposed) {
  std::string s = "input " + to_string(in) + " with kernel " + std::to_string(o.kernel) + ", stride " +
                  std::to_string(o.stride) + ", padding " + std::to_string(o.padding) + ", dilation " +
                  std::to_string(o.dilation);
  if (transposed) s += ", output_padding " + std::to_string(o.output_padding);
  return s;
}

inline void require_conv_options(const char* where, const ImageShape& in, const ConvOptions& o, bool transposed) {
  const auto fail = [&](const std::string& why) {
    throw ShapeError(where, conv_description(in, o, transposed) + ": " + why);
  };
  if (in.channels < 1 || in.height < 1 || in.width < 1) fail("the input must have at least one entry on each axis");
  if (o.kernel < 1 || o.stride < 1 || o.dilation < 1) fail("kernel, stride and dilation must be at least 1");
  if (o.padding < 0) fail("padding must not be negative");
  if (!transposed && o.output_padding != 0) fail("output_padding is for transposed convolutions only");
  if (o.output_padding < 0 || (transposed && o.output_padding >= std::max(o.stride, o.dilation)))
    fail("output_padding must be at least 0 and smaller than the stride or the dilation");
}

}  // namespace detail

/// The output image of a convolution with `out_channels` channels of `in`:
/// `Ho = floor((H + 2p - d (k - 1) - 1) / s) + 1`, likewise Wo. Throws `ShapeError` naming
/// `where`, the input and the window when an option is out of range or the output is empty.
inline ImageShape conv2d_output(const char* where, const ImageShape& in, Index out_channels, const ConvOptions& o) {
  detail::require_conv_options(where, in, o, false);
  const auto size = [&](Index n) {
    const Index span = n + 2 * o.padding - o.dilation * (o.kernel - 1) - 1;
    return span < 0 ? Index(0) : span / o.stride + 1;
  };
  const ImageShape out{out_channels, size(in.height), size(in.width)};
  if (out.height < 1 || out.width < 1)
    throw ShapeError(where, detail::conv_description(in, o, false) + ": the output would be " + to_string(out) +
                                " (the dilated kernel, d (k - 1) + 1, is larger than the padded input)");
  return out;
}

/// The output image of a transposed convolution with `out_channels` channels of `in`:
/// `Ho = (H - 1) s - 2p + d (k - 1) + output_padding + 1`, likewise Wo. Throws `ShapeError` as
/// `conv2d_output` does.
inline ImageShape conv_transpose2d_output(const char* where, const ImageShape& in, Index out_channels,
                                          const ConvOptions& o) {
  detail::require_conv_options(where, in, o, true);
  const auto size = [&](Index n) {
    return (n - 1) * o.stride - 2 * o.padding + o.dilation * (o.kernel - 1) + o.output_padding + 1;
  };
  const ImageShape out{out_channels, size(in.height), size(in.width)};
  if (out.height < 1 || out.width < 1)
    throw ShapeError(where, detail::conv_description(in, o, true) + ": the output would be " + to_string(out) +
                                " (the padding crops more than the kernel adds)");
  return out;
}

namespace detail {

// The convolution from `in` to `out` as the loops see it.
inline ConvGeometry conv_geometry(const ImageShape& in, const ImageShape& out, const ConvOptions& o) {
  return {in.channels, in.height, in.width, out.height, out.width, o.kernel, o.stride, o.padding, o.dilation};
}

template <class S>
void require_conv_operands(const char* where, const ImageShape& in, const ConvOptions& o, bool transposed, Var<S> x,
                           Var<S> w, Index w_rows, Index w_cols, const Var<S>* b, Index bias_rows) {
  if (x.rows() != in.size())
    throw ShapeError(where, conv_description(in, o, transposed) + ": x is " + shape_of(x) + " but an input image has " +
                                std::to_string(in.size()) + " rows (C H W)");
  if (w.rows() != w_rows || w.cols() != w_cols)
    throw ShapeError(where,
                     conv_description(in, o, transposed) + ": W is " + shape_of(w) + " but must be " +
                         shape_str(w_rows, w_cols) +
                         (transposed ? " (in_channels x out_channels k k)" : " (out_channels x in_channels k k)"));
  if (b && (b->rows() != bias_rows || b->cols() != 1))
    throw ShapeError(where, conv_description(in, o, transposed) + ": b is " + shape_of(*b) + " but must be " +
                                shape_str(bias_rows, 1) + " (one per output channel)");
}

#if defined(LATENT_USE_DNNL)
// y = conv(x) or, when `transposed`, conv^T(x) (+ b) on oneDNN's kernels (kernels/dnnl_conv.hpp),
// share by share of the batch, for the convolution g with `conv_out_channels` outputs. The tape
// keeps x in oneDNN's blocked layout and one weight gradient per share, added in share order.
inline Var<float> conv_on_dnnl(const char* name, Var<float> x, Var<float> w, const Var<float>* bias,
                               const DnnlConvShape& conv, bool transposed, int shares) {
  Tape<float>& t = x.tape();
  const ConvGeometry& g = conv.geometry;
  const Index conv_out_channels = conv.out_channels;
  const Index B = x.cols(), in_size = g.image_size(), out_size = conv_out_channels * g.positions();
  const Index x_size = transposed ? out_size : in_size, y_size = transposed ? in_size : out_size;
  const Index y_channels = transposed ? g.channels : conv_out_channels;
  const Index y_positions = transposed ? g.height * g.width : g.positions();
  const Index w_size = w.rows() * w.cols();
  const bool has_bias = bias != nullptr;
  const Var<float> b = has_bias ? *bias : Var<float>();
  const Var<float> kept = t.record("conv_blocked_input", x_size, B);
  const Var<float> dw_shares = t.record("conv_weight_gradient_shares", w_size, shares);
  const bool x_grad = t.needs_grad(x), w_grad = t.needs_grad(w);
  const auto backward = [=](Tape<float>& t, Var<float> y) {
    const float* gy = t.adjoint_of(y).data();
    const float* kv = kept.value().data();
    const float* wv = w.value().data();
    float* dws = t.value_of(dw_shares).data();
    const auto by_shares = [&](float* dx, bool add) {
      for_each_dnnl_conv_share(name, conv, shares, [&](const DnnlConv& kernels, int s, const ImageRange& r) {
        float* dw = w_grad ? dws + s * w_size : nullptr;
        float* dxs = dx ? dx + r.first * x_size : nullptr;
        return transposed ? kernels.transpose_backward(kv + r.first * x_size, gy + r.first * y_size, wv, dw, dxs, add)
                          : kernels.conv_backward(kv + r.first * x_size, gy + r.first * y_size, wv, dw, dxs, add);
      });
    };
    if (x_grad)
      t.write_whole_adjoint(x, [&](View<float>& dx, bool add) { by_shares(dx.data(), add); });
    else if (w_grad)
      by_shares(nullptr, false);
    if (w_grad) {
      Eigen::Map<Matrix<float>> by_share(dws, w_size, shares);
      for (int s = 1; s < shares; ++s) by_share.col(0) += by_share.col(s);
      t.accumulate(w, ConstView<float>(dws, w.rows(), w.cols()));
    }
    if (has_bias && t.needs_grad(b)) channel_totals(gy, y_positions, y_channels, B, t.adjoint(b).data(), true);
  };
  const Var<float> y = has_bias ? t.record(name, y_size, B, {x, w, b}, backward)
                                : t.record(name, y_size, B, {x, w}, backward);
  const float* xv = x.value().data();
  const float* wv = w.value().data();
  const float* shift = has_bias ? b.value().data() : nullptr;
  float* kv = t.value_of(kept).data();
  float* yv = t.value_of(y).data();
  for_each_dnnl_conv_share(name, conv, shares, [&](const DnnlConv& kernels, int, const ImageRange& r) {
    const bool ran =
        transposed ? kernels.transpose_forward(xv + r.first * x_size, wv, kv + r.first * x_size, yv + r.first * y_size)
                   : kernels.conv_forward(xv + r.first * x_size, wv, kv + r.first * x_size, yv + r.first * y_size);
    if (ran && shift) add_channel_bias(yv, y_positions, y_channels, r, shift);
    return ran;
  });
  t.finish(y);
  return y;
}
#endif

// y = conv(x) (+ b): X = im2col(x) (P B x K), Y = X W^T (P B x Cout), y = images(Y) + b.
// Backward, with G the adjoint of y and Gy = channels-as-columns(G):
//   dW += Gy^T X,  dX = Gy W,  dx += col2im(dX),  db += column totals of Gy.
// Gy reuses the product's buffer and dX the patches': a step holds one patch matrix per conv.
// X and dX are made and used chunk by chunk of images, while in cache (`for_each_image_chunk`).
template <class S>
Var<S> conv(const char* where, Var<S> x, Var<S> w, const Var<S>* bias, const ImageShape& in, Index out_channels,
            const ConvOptions& o) {
  const ImageShape out = conv2d_output(where, in, out_channels, o);
  const ConvGeometry g = conv_geometry(in, out, o);
  require_conv_operands(where, in, o, false, x, w, out_channels, g.taps(), bias, out_channels);
  Tape<S>& t = x.tape();
  const Index P = g.positions(), B = x.cols(), rows = P * B;
#if defined(LATENT_USE_DNNL)
  if constexpr (std::is_same_v<S, float>)
    if (const int shares = threads_for(rows * g.taps(), B); dnnl_conv_route({g, out_channels, B}, shares))
      return conv_on_dnnl("conv2d", x, w, bias, {g, out_channels, B}, false, shares);
#endif
  const std::size_t patch_bytes = std::size_t(P * g.taps()) * sizeof(S);  // of one image
  const bool has_bias = bias != nullptr;
  const Var<S> b = has_bias ? *bias : Var<S>();
  const Var<S> patches = t.record("conv2d_patches", rows, g.taps());
  // The product X W^T, then (in backward) Gy: the forward value is not needed once y is formed.
  const Var<S> by_channel = t.record("conv2d_by_channel", rows, out_channels);
  const bool x_grad = t.needs_grad(x);
  const auto backward = [=](Tape<S>& t, Var<S> y) {
    S* gy_data = t.value_of(by_channel).data();
    const S* g_images = t.adjoint_of(y).data();
    for_each_image_share(B, P * out_channels,
                         [&](const ImageRange& r) { from_images(g_images, P, out_channels, r, gy_data); });
    const ConstView<S> gy(gy_data, rows, out_channels), xs(patches.value().data(), rows, g.taps());
    if (has_bias && t.needs_grad(b)) column_totals<S>(gy_data, rows, out_channels, t.adjoint(b).data(), true);
    t.accumulate_product(w, gy.transpose(), xs);
    if (x_grad) {
      // dX overwrites X, which dW was the last to read (a gradient kept as factors copies them).
      S* dxs = t.value_of(patches).data();
      S* dx = t.adjoint(x).data();
      const auto gy_op = gemm_operand(gy), w_op = gemm_operand(w.value());
      check_gemm_sizes(gy_op, w_op);
      for_each_image_chunk<S>(B, patch_bytes, [&](const ImageRange& r, PackingBuffers<S>& buffers) {
        gemm_rows(gy_op, w_op, dxs, r.first * P, r.count * P, false, buffers);
        col2im<S>(dxs, g, r, dx, true);
      });
    }
  };
  const Var<S> y = has_bias ? t.record("conv2d", out.size(), B, {x, w, b}, backward)
                            : t.record("conv2d", out.size(), B, {x, w}, backward);
  S* xs = t.value_of(patches).data();
  S* product = t.value_of(by_channel).data();
  S* yv = t.value_of(y).data();
  const S* shift = has_bias ? b.value().data() : nullptr;
  const GemmOperand<S> xs_op{xs, rows, g.taps(), false}, wt_op = gemm_operand(w.value().transpose());
  check_gemm_sizes(xs_op, wt_op);
  for_each_image_chunk<S>(B, patch_bytes, [&](const ImageRange& r, PackingBuffers<S>& buffers) {
    im2col(x.value().data(), g, r, xs);
    gemm_rows(xs_op, wt_op, product, r.first * P, r.count * P, false, buffers);
    to_images<S>(product, P, out_channels, r, shift, yv, false);
  });
  t.finish(y);
  return y;
}

// y = conv_transpose(x) (+ b), the adjoint of the convolution g from the output image to the
// input one: Xc = channels-as-columns(x) (P B x Cin, P = H W), D = Xc W (P B x K), y = col2im(D) + b.
// Backward, with G the adjoint of y and E = im2col(G) (P B x K):
//   dW += Xc^T E,  dXc = E W^T,  dx += images(dXc),  db += channel totals of G.
// E reuses D's buffer and dXc Xc's. D is made and used chunk by chunk of images, while in cache.
template <class S>
Var<S> conv_transpose(const char* where, Var<S> x, Var<S> w, const Var<S>* bias, const ImageShape& in,
                      Index out_channels, const ConvOptions& o) {
  const ImageShape out = conv_transpose2d_output(where, in, out_channels, o);
  const ConvGeometry g = conv_geometry(out, in, o);  // the convolution this one is the adjoint of
  require_conv_operands(where, in, o, true, x, w, in.channels, g.taps(), bias, out_channels);
  Tape<S>& t = x.tape();
  const Index P = g.positions(), B = x.cols(), rows = P * B, C = in.channels;
#if defined(LATENT_USE_DNNL)
  if constexpr (std::is_same_v<S, float>)
    if (const int shares = threads_for(rows * g.taps(), B); dnnl_conv_route({g, C, B}, shares))
      return conv_on_dnnl("conv_transpose2d", x, w, bias, {g, C, B}, true, shares);
#endif
  const std::size_t patch_bytes = std::size_t(P * g.taps()) * sizeof(S);  // of one image
  const bool has_bias = bias != nullptr;
  const Var<S> b = has_bias ? *bias : Var<S>();
  const Var<S> by_channel = t.record("conv_transpose2d_by_channel", rows, C);
  // D, then (in backward) E = im2col(G): the forward value is not needed once y is formed.
  const Var<S> patches = t.record("conv_transpose2d_patches", rows, g.taps());
  const bool x_grad = t.needs_grad(x);
  const auto backward = [=](Tape<S>& t, Var<S> y) {
    const S* gy = t.adjoint_of(y).data();
    S* e = t.value_of(patches).data();
    for_each_image_share(B, P * g.taps(), [&](const ImageRange& r) { im2col(gy, g, r, e); });
    if (has_bias && t.needs_grad(b))
      channel_totals(gy, g.height * g.width, out_channels, B, t.adjoint(b).data(), true);
    const ConstView<S> es(e, rows, g.taps()), xc(by_channel.value().data(), rows, C);
    t.accumulate_product(w, xc.transpose(), es);
    if (x_grad) {
      S* dxc = t.value_of(by_channel).data();  // dXc overwrites Xc, which dW was the last to read
      S* dx = t.adjoint(x).data();
      const auto es_op = gemm_operand(es), wt_op = gemm_operand(w.value().transpose());
      check_gemm_sizes(es_op, wt_op);
      for_each_image_chunk<S>(B, patch_bytes, [&](const ImageRange& r, PackingBuffers<S>& buffers) {
        gemm_rows(es_op, wt_op, dxc, r.first * P, r.count * P, false, buffers);
        to_images<S>(dxc, P, C, r, nullptr, dx, true);
      });
    }
  };
  const Var<S> y = has_bias ? t.record("conv_transpose2d", out.size(), B, {x, w, b}, backward)
                            : t.record("conv_transpose2d", out.size(), B, {x, w}, backward);
  S* xc = t.value_of(by_channel).data();
  S* d = t.value_of(patches).data();
  S* yv = t.value_of(y).data();
  const GemmOperand<S> xc_op{xc, rows, C, false}, w_op = gemm_operand(w.value());
  check_gemm_sizes(xc_op, w_op);
  for_each_image_chunk<S>(B, patch_bytes, [&](const ImageRange& r, PackingBuffers<S>& buffers) {
    from_images(x.value().data(), P, C, r, xc);
    gemm_rows(xc_op, w_op, d, r.first * P, r.count * P, false, buffers);
    col2im<S>(d, g, r, yv, false);
    if (has_bias) add_channel_bias(yv, g.height * g.width, out_channels, r, b.value().data());
  });
  t.finish(y);
  return y;
}

}  // namespace detail

/// 2-d convolution (cross-correlation, as PyTorch's `conv2d`) of a batch of images `x`
/// (`(C H W) x batch`, see `ImageShape`) with the filters `w` (`Cout x (C k k)`, row o holding
/// filter o with taps ordered (c, ki, kj), as PyTorch's weight `[Cout][C][k][k]`) plus the bias
/// `b` (`Cout x 1`):
/// `y[o, i, j] = b[o] + sum_{c, ki, kj} w[o, c, ki, kj] x[c, i s - p + ki d, j s - p + kj d]`
/// (zero outside the image). The output is `(Cout Ho Wo) x batch` with `Ho` as `conv2d_output`
/// gives. `where` names the op in errors (a layer passes its own name). Throws `ShapeError` naming
/// the input `C x H x W`, kernel, stride, padding and dilation at record time for an empty output,
/// options out of range, or operands of the wrong shape.
template <class S>
Var<S> conv2d(Var<S> x, Var<S> w, Var<S> b, const ImageShape& in, const ConvOptions& o, const char* where = "conv2d") {
  return detail::conv(where, x, w, &b, in, w.rows(), o);
}

/// `conv2d` without a bias.
template <class S>
Var<S> conv2d(Var<S> x, Var<S> w, const ImageShape& in, const ConvOptions& o, const char* where = "conv2d") {
  return detail::conv<S>(where, x, w, nullptr, in, w.rows(), o);
}

/// 2-d transposed convolution (PyTorch's `conv_transpose2d`): the adjoint of `conv2d` from the
/// output image back to the input one, with `w` of `C x (Cout k k)` (PyTorch's weight
/// `[C][Cout][k][k]`) and bias `b` (`Cout x 1`): every input entry x[c, i, j] adds
/// `w[c, o, ki, kj] x[c, i, j]` into y[o, i s - p + ki d, j s - p + kj d]. The output is
/// `(Cout Ho Wo) x batch` with `Ho = (H - 1) s - 2p + d (k - 1) + output_padding + 1`
/// (`conv_transpose2d_output`). Throws `ShapeError` as `conv2d` does.
template <class S>
Var<S> conv_transpose2d(Var<S> x, Var<S> w, Var<S> b, const ImageShape& in, const ConvOptions& o,
                        const char* where = "conv_transpose2d") {
  return detail::conv_transpose(where, x, w, &b, in, b.rows(), o);
}

/// `conv_transpose2d` without a bias; `out_channels` gives Cout (W has `Cout k k` columns).
template <class S>
Var<S> conv_transpose2d(Var<S> x, Var<S> w, Index out_channels, const ImageShape& in, const ConvOptions& o,
                        const char* where = "conv_transpose2d") {
  return detail::conv_transpose<S>(where, x, w, nullptr, in, out_channels, o);
}

}  // namespace latent::inline v0
