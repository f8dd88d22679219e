// im2col and col2im in float against loops written from their definitions, over geometries whose
// stride-2 rows are shorter and longer than one 16-float vector, with padding, dilation and a
// range of images that starts inside the batch. Also built with -march=native (latent_tests_native).

#include <catch2/catch.hpp>

#include <latent/core/rng.hpp>
#include <latent/kernels/conv.hpp>

namespace {

using latent::Index;
using latent::detail::ConvGeometry;
using latent::detail::ImageRange;
using Mf = latent::Matrix<float>;

struct Case {
  Index channels, height, width, kernel, stride, padding, dilation;
};

ConvGeometry geometry(const Case& c) {
  const Index span = c.dilation * (c.kernel - 1) + 1;
  return {c.channels,
          c.height,
          c.width,
          (c.height + 2 * c.padding - span) / c.stride + 1,
          (c.width + 2 * c.padding - span) / c.stride + 1,
          c.kernel,
          c.stride,
          c.padding,
          c.dilation};
}

// Input row and column that tap k of output position (oh, ow) reads, or -1 in the padding.
Index source(const ConvGeometry& g, Index k, Index oh, Index ow) {
  const Index kk = g.kernel * g.kernel, c = k / kk, ki = (k % kk) / g.kernel, kj = k % g.kernel;
  const Index i = oh * g.stride + ki * g.dilation - g.padding, j = ow * g.stride + kj * g.dilation - g.padding;
  if (i < 0 || i >= g.height || j < 0 || j >= g.width) return -1;
  return (c * g.height + i) * g.width + j;
}

}  // namespace

TEST_CASE("im2col and col2im in float match their definitions, rows of every length", "[kernels][conv]") {
  const Case cases[] = {{1, 28, 28, 4, 2, 1, 1}, {32, 14, 14, 4, 2, 1, 1}, {3, 9, 41, 3, 2, 2, 1},
                        {2, 40, 70, 5, 2, 0, 2}, {1, 5, 34, 1, 2, 0, 1},   {2, 11, 13, 3, 3, 1, 1},
                        {2, 8, 9, 3, 1, 1, 2},   {1, 7, 66, 4, 2, 1, 1}};
  latent::Rng rng(5);
  for (const Case& c : cases) {
    const ConvGeometry g = geometry(c);
    const Index batch = 5, P = g.positions(), K = g.taps();
    const ImageRange r{batch, 1, 3};  // images 1, 2, 3 of 5
    Mf x(g.image_size(), batch);
    rng.fill_uniform(x);
    Mf cols = Mf::Constant(P * batch, K, -7.0f);  // rows outside r must keep this
    latent::detail::im2col(x.data(), g, r, cols.data());

    Mf dx(g.image_size(), batch);
    rng.fill_uniform(dx);
    Mf want_dx = dx;
    latent::detail::col2im(cols.data(), g, r, dx.data(), true);

    INFO("C " << c.channels << " H " << c.height << " W " << c.width << " k " << c.kernel << " s " << c.stride << " p "
              << c.padding << " d " << c.dilation);
    bool patches_right = true;
    for (Index k = 0; k < K; ++k)
      for (Index b = 0; b < batch; ++b)
        for (Index oh = 0; oh < g.out_height; ++oh)
          for (Index ow = 0; ow < g.out_width; ++ow) {
            const Index p = oh * g.out_width + ow, from = source(g, k, oh, ow);
            const float got = cols(b * P + p, k);
            const bool inside = b >= r.first && b < r.first + r.count;
            const float want = !inside ? -7.0f : from < 0 ? 0.0f : x(from, b);
            patches_right = patches_right && got == want;
            // col2im adds tap by tap in this order, so the float sums are bit-identical.
            if (inside && from >= 0) want_dx(from, b) += got;
          }
    CHECK(patches_right);
    CHECK(dx == want_dx);
  }
}
