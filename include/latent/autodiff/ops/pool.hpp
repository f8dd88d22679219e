#pragma once
/// @file
/// Average pooling and nearest-neighbour upsampling of image batches `(C H W) x batch` (one
/// image per column, channel-major then row-major; see `ImageShape`).

#include <string>

#include "latent/autodiff/ops/conv.hpp"

namespace latent::inline v0 {

/// The window of `avg_pool2d`, the same on both axes.
struct PoolOptions {
  Index kernel = 2;   ///< k: the window is k x k
  Index stride = 0;   ///< s: step between windows; 0 means k (PyTorch's default)
  Index padding = 0;  ///< p: zeros on every side, counted in the average (PyTorch's count_include_pad)
};

/// The output image of `avg_pool2d` on `in`: `Ho = floor((H + 2p - k) / s) + 1`, likewise Wo.
/// Throws `ShapeError` naming `where`, the input and the window when an option is out of range
/// (PyTorch's rule p <= k / 2 included) or the output is empty.
inline ImageShape avg_pool2d_output(const char* where, const ImageShape& in, const PoolOptions& o) {
  const Index s = o.stride == 0 ? o.kernel : o.stride;
  const std::string window = "input " + to_string(in) + " with kernel " + std::to_string(o.kernel) + ", stride " +
                             std::to_string(s) + ", padding " + std::to_string(o.padding);
  if (in.channels < 1 || in.height < 1 || in.width < 1 || o.kernel < 1 || s < 1 || o.padding < 0 ||
      2 * o.padding > o.kernel)
    throw ShapeError(where, window + ": sizes must be positive, padding at most half the kernel");
  const auto size = [&](Index n) { return n + 2 * o.padding < o.kernel ? 0 : (n + 2 * o.padding - o.kernel) / s + 1; };
  const ImageShape out{in.channels, size(in.height), size(in.width)};
  if (out.height < 1 || out.width < 1)
    throw ShapeError(where,
                     window + ": the output would be " + to_string(out) + " (the kernel is larger than the input)");
  return out;
}

/// Average pooling (PyTorch's `avg_pool2d` with count_include_pad): every output entry is the
/// mean of its k x k window, zeros of the padding included:
/// `y[c, i, j] = sum_{ki, kj} x[c, i s - p + ki, j s - p + kj] / k^2`. x is `(C H W) x batch`,
/// y `(C Ho Wo) x batch` (`avg_pool2d_output`). Throws `ShapeError` naming `where`, the input
/// and the window at record time.
template <class S>
Var<S> avg_pool2d(Var<S> x, const ImageShape& in, const PoolOptions& o, const char* where = "avg_pool2d") {
  const ImageShape out = avg_pool2d_output(where, in, o);
  if (x.rows() != in.size())
    throw ShapeError(where, "x is " + detail::shape_of(x) + " but a " + to_string(in) + " image has " +
                                std::to_string(in.size()) + " rows");
  // A depthwise convolution with every weight 1 / k^2: the loops of `conv`, one channel at a time.
  const detail::ConvGeometry g{
      1, in.height, in.width, out.height, out.width, o.kernel, o.stride == 0 ? o.kernel : o.stride, o.padding, 1};
  const Index planes = in.channels * x.cols();
  const S scale = S(1) / S(o.kernel * o.kernel);
  Tape<S>& t = x.tape();
  // dx[c, i s - p + ki, j s - p + kj] += G[c, i, j] / k^2.
  const Var<S> y = t.record(where, out.size(), x.cols(), {x}, [x, g, planes, scale](Tape<S>& t, Var<S> y) {
    const auto gy = t.adjoint_of(y);
    auto dx = t.adjoint(x);
    detail::for_each_column_block(g.positions() * g.kernel * g.kernel, planes, [&](Index first, Index count) {
      for (Index q = first; q < first + count; ++q)
        detail::pool_plane_adjoint(gy.data() + q * g.positions(), g, scale, dx.data() + q * g.height * g.width);
    });
  });
  auto v = t.value_of(y);
  const S* xv = x.value().data();
  detail::for_each_column_block(g.positions() * g.kernel * g.kernel, planes, [&](Index first, Index count) {
    for (Index q = first; q < first + count; ++q)
      detail::pool_plane(xv + q * g.height * g.width, g, scale, v.data() + q * g.positions());
  });
  t.finish(y);
  return y;
}

/// Nearest-neighbour upsampling by an integer `scale` (PyTorch's `Upsample(scale_factor, mode=
/// "nearest")`): `y[c, i, j] = x[c, floor(i / scale), floor(j / scale)]`, so x `(C H W) x batch`
/// becomes `(C (H scale) (W scale)) x batch`. Throws `ShapeError` naming `where` and the input
/// for a scale below 1 or x without `C H W` rows.
template <class S>
Var<S> upsample_nearest(Var<S> x, const ImageShape& in, Index scale, const char* where = "upsample_nearest") {
  if (scale < 1 || in.channels < 1 || in.height < 1 || in.width < 1)
    throw ShapeError(where, "input " + to_string(in) + " with scale " + std::to_string(scale) +
                                ": sizes and scale must be at least 1");
  if (x.rows() != in.size())
    throw ShapeError(where, "x is " + detail::shape_of(x) + " but a " + to_string(in) + " image has " +
                                std::to_string(in.size()) + " rows");
  const Index H = in.height, W = in.width, planes = in.channels * x.cols(), Wo = W * scale;
  Tape<S>& t = x.tape();
  // dx[c, i, j] += sum of G over the scale x scale block that copies x[c, i, j].
  const Var<S> y =
      t.record(where, in.size() * scale * scale, x.cols(), {x}, [x, H, W, planes, scale, Wo](Tape<S>& t, Var<S> y) {
        const S* gy = t.adjoint_of(y).data();
        S* dx = t.adjoint(x).data();
        detail::for_each_column_block(H * W * scale * scale, planes, [&](Index first, Index n) {
          for (Index q = first; q < first + n; ++q)
            for (Index i = 0; i < H * scale; ++i)
              for (Index j = 0; j < Wo; ++j)
                dx[(q * H + i / scale) * W + j / scale] += gy[(q * H * scale + i) * Wo + j];
        });
      });
  S* yv = t.value_of(y).data();
  const S* xv = x.value().data();
  detail::for_each_column_block(H * W * scale * scale, planes, [&](Index first, Index n) {
    for (Index q = first; q < first + n; ++q)
      for (Index i = 0; i < H * scale; ++i)
        for (Index j = 0; j < Wo; ++j) yv[(q * H * scale + i) * Wo + j] = xv[(q * H + i / scale) * W + j / scale];
  });
  t.finish(y);
  return y;
}

}  // namespace latent::inline v0
