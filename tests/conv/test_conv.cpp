// conv2d and conv_transpose2d: gradients over a grid of geometries, values against direct loops
// written from the formulas, transposed conv as the adjoint of conv, and shape errors that name
// the geometry.

#include <latent/latent.hpp>

#include "autodiff/gradcheck_helpers.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace {

using latent::ConvOptions;
using latent::ImageShape;
using latent::Index;
using latent_test::Md;

// x[c, i, j] of image b in the (C H W) x B layout.
double& at(Md& x, const ImageShape& s, Index b, Index c, Index i, Index j) {
  return x((c * s.height + i) * s.width + j, b);
}
double at(const Md& x, const ImageShape& s, Index b, Index c, Index i, Index j) {
  return x((c * s.height + i) * s.width + j, b);
}

// y[o, i, j] = b[o] + sum_{c, ki, kj} w[o, (c k + ki) k + kj] x[c, i s - p + ki d, j s - p + kj d].
Md conv_reference(const Md& x, const Md& w, const Md& bias, const ImageShape& in, const ConvOptions& o) {
  const ImageShape out = latent::conv2d_output("ref", in, w.rows(), o);
  const Index k = o.kernel;
  Md y = Md::Zero(out.size(), x.cols());
  for (Index b = 0; b < x.cols(); ++b)
    for (Index oc = 0; oc < out.channels; ++oc)
      for (Index i = 0; i < out.height; ++i)
        for (Index j = 0; j < out.width; ++j) {
          double sum = bias.size() ? bias(oc) : 0.0;
          for (Index c = 0; c < in.channels; ++c)
            for (Index ki = 0; ki < k; ++ki)
              for (Index kj = 0; kj < k; ++kj) {
                const Index ii = i * o.stride - o.padding + ki * o.dilation;
                const Index jj = j * o.stride - o.padding + kj * o.dilation;
                if (ii < 0 || ii >= in.height || jj < 0 || jj >= in.width) continue;
                sum += w(oc, (c * k + ki) * k + kj) * at(x, in, b, c, ii, jj);
              }
          at(y, out, b, oc, i, j) = sum;
        }
  return y;
}

// y[o, i s - p + ki d, j s - p + kj d] += w[c, (o k + ki) k + kj] x[c, i, j], then + b[o].
Md conv_transpose_reference(const Md& x, const Md& w, const Md& bias, Index out_channels, const ImageShape& in,
                            const ConvOptions& o) {
  const ImageShape out = latent::conv_transpose2d_output("ref", in, out_channels, o);
  const Index k = o.kernel;
  Md y = Md::Zero(out.size(), x.cols());
  for (Index b = 0; b < x.cols(); ++b) {
    for (Index c = 0; c < in.channels; ++c)
      for (Index i = 0; i < in.height; ++i)
        for (Index j = 0; j < in.width; ++j)
          for (Index oc = 0; oc < out_channels; ++oc)
            for (Index ki = 0; ki < k; ++ki)
              for (Index kj = 0; kj < k; ++kj) {
                const Index ii = i * o.stride - o.padding + ki * o.dilation;
                const Index jj = j * o.stride - o.padding + kj * o.dilation;
                if (ii < 0 || ii >= out.height || jj < 0 || jj >= out.width) continue;
                at(y, out, b, oc, ii, jj) += w(c, (oc * k + ki) * k + kj) * at(x, in, b, c, i, j);
              }
    if (bias.size())
      for (Index oc = 0; oc < out_channels; ++oc)
        for (Index i = 0; i < out.height; ++i)
          for (Index j = 0; j < out.width; ++j) at(y, out, b, oc, i, j) += bias(oc);
  }
  return y;
}

struct Case {
  ImageShape in;
  Index out_channels, batch;
  ConvOptions window;
  std::string label() const {
    return latent::to_string(in) + " -> " + std::to_string(out_channels) + " channels, batch " + std::to_string(batch) +
           ", k" + std::to_string(window.kernel) + " s" + std::to_string(window.stride) + " p" +
           std::to_string(window.padding) + " d" + std::to_string(window.dilation) + " op" +
           std::to_string(window.output_padding);
  }
};

// Every kernel 1/3/4/5 x stride 1/2/3 x padding 0/1/2 x dilation 1/2, with 1 or 3 channels and
// batch 1 or 5 taking turns, on non-square images (odd cases tall, even ones wide). Geometries
// whose output would be empty are left out (the error tests cover them).
std::vector<Case> grid(bool transposed) {
  std::vector<Case> cases;
  int n = 0;
  for (Index k : {1, 3, 4, 5})
    for (Index s : {1, 2, 3})
      for (Index p : {0, 1, 2})
        for (Index d : {1, 2}) {
          ++n;
          const Index channels = n % 2 ? 1 : 3, batch = (n / 2) % 2 ? 5 : 1;
          const ImageShape in = transposed ? ImageShape{channels, n % 2 ? 4 : 3, n % 2 ? 3 : 5}
                                           : ImageShape{channels, n % 2 ? 9 : 7, n % 2 ? 7 : 10};
          ConvOptions o{.kernel = k, .stride = s, .padding = p, .dilation = d};
          if (transposed) o.output_padding = (n / 4) % 2 && std::max(s, d) > 1 ? 1 : 0;
          try {
            if (transposed)
              (void)latent::conv_transpose2d_output("grid", in, 2, o);
            else
              (void)latent::conv2d_output("grid", in, 2, o);
          } catch (const latent::ShapeError&) {
            continue;
          }
          cases.push_back({in, 2, batch, o});
        }
  return cases;
}

}  // namespace

TEST_CASE("conv2d agrees with direct loops over the grid of geometries", "[conv]") {
  latent::Rng rng(19);
  const auto cases = grid(false);
  REQUIRE(cases.size() >= 60);
  for (const Case& c : cases) {
    INFO(c.label());
    const Md x = latent_test::random(c.in.size(), c.batch, rng);
    const Md w = latent_test::random(c.out_channels, c.in.channels * c.window.kernel * c.window.kernel, rng);
    const Md b = latent_test::random(c.out_channels, 1, rng);
    latent::Tape<double> t;
    const Md y = latent::conv2d(t.constant(x), t.constant(w), t.constant(b), c.in, c.window).value();
    const Md ref = conv_reference(x, w, b, c.in, c.window);
    REQUIRE(y.rows() == ref.rows());
    CHECK((y - ref).cwiseAbs().maxCoeff() < 1e-12);
    const Md y_nobias = latent::conv2d(t.constant(x), t.constant(w), c.in, c.window).value();
    CHECK((y_nobias - conv_reference(x, w, Md(), c.in, c.window)).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("conv_transpose2d agrees with direct loops over the grid of geometries", "[conv]") {
  latent::Rng rng(20);
  const auto cases = grid(true);
  REQUIRE(cases.size() >= 60);
  for (const Case& c : cases) {
    INFO(c.label());
    const Md x = latent_test::random(c.in.size(), c.batch, rng);
    const Md w = latent_test::random(c.in.channels, c.out_channels * c.window.kernel * c.window.kernel, rng);
    const Md b = latent_test::random(c.out_channels, 1, rng);
    latent::Tape<double> t;
    const Md y = latent::conv_transpose2d(t.constant(x), t.constant(w), t.constant(b), c.in, c.window).value();
    const Md ref = conv_transpose_reference(x, w, b, c.out_channels, c.in, c.window);
    REQUIRE(y.rows() == ref.rows());
    CHECK((y - ref).cwiseAbs().maxCoeff() < 1e-12);
    const Md y_nobias = latent::conv_transpose2d(t.constant(x), t.constant(w), c.out_channels, c.in, c.window).value();
    CHECK((y_nobias - conv_transpose_reference(x, w, Md(), c.out_channels, c.in, c.window)).cwiseAbs().maxCoeff() <
          1e-12);
  }
}

TEST_CASE("conv2d passes grad_check over the grid of geometries", "[conv]") {
  latent::Rng rng(21);
  for (const Case& c : grid(false)) {
    const Md x = latent_test::random(c.in.size(), c.batch, rng);
    const Md w = latent_test::random(c.out_channels, c.in.channels * c.window.kernel * c.window.kernel, rng);
    const Md b = latent_test::random(c.out_channels, 1, rng);
    latent_test::check_gradients("conv2d " + c.label(),
                                 [&](auto&, auto v) { return latent::conv2d(v[0], v[1], v[2], c.in, c.window); },
                                 {x, w, b});
  }
}

TEST_CASE("conv_transpose2d passes grad_check over the grid of geometries", "[conv]") {
  latent::Rng rng(22);
  for (const Case& c : grid(true)) {
    const Md x = latent_test::random(c.in.size(), c.batch, rng);
    const Md w = latent_test::random(c.in.channels, c.out_channels * c.window.kernel * c.window.kernel, rng);
    const Md b = latent_test::random(c.out_channels, 1, rng);
    latent_test::check_gradients(
        "conv_transpose2d " + c.label(),
        [&](auto&, auto v) { return latent::conv_transpose2d(v[0], v[1], v[2], c.in, c.window); }, {x, w, b});
  }
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d: <A x, y> = <x, A^T y>", "[conv]") {
  latent::Rng rng(23);
  int checked = 0;
  for (const Case& c : grid(false)) {
    // The conv's output image; the transposed conv of it must give back the input's size, which
    // fixes output_padding (the widths differ by a multiple of the stride, so one serves both axes).
    ImageShape in = c.in;
    in.width = in.height + c.window.stride;
    ConvOptions o = c.window;
    ImageShape out;
    try {
      out = latent::conv2d_output("adjoint", in, c.out_channels, o);
    } catch (const latent::ShapeError&) {
      continue;
    }
    o.output_padding = in.height - ((out.height - 1) * o.stride - 2 * o.padding + o.dilation * (o.kernel - 1) + 1);
    if (o.output_padding >= std::max(o.stride, o.dilation)) continue;
    INFO(c.label());
    const Md x = latent_test::random(in.size(), c.batch, rng);
    const Md y = latent_test::random(out.size(), c.batch, rng);
    const Md w = latent_test::random(c.out_channels, in.channels * o.kernel * o.kernel, rng);
    latent::Tape<double> t;
    const Md ax = latent::conv2d(t.constant(x), t.constant(w), in, c.window).value();
    const Md aty = latent::conv_transpose2d(t.constant(y), t.constant(w), in.channels, out, o).value();
    REQUIRE(aty.rows() == x.rows());
    const double lhs = (ax.array() * y.array()).sum(), rhs = (x.array() * aty.array()).sum();
    CHECK(std::abs(lhs - rhs) <= 1e-12 * std::max(1.0, std::abs(lhs)));
    ++checked;
  }
  CHECK(checked >= 50);
}

TEST_CASE("conv layers run in image chunks over two threads give the direct loops' values and input gradients",
          "[conv]") {
  // 3 x 56 x 48 images and a 3 x 3 window: 581 kB of patches per image in double, so every
  // image is a chunk of its own (kernels/conv.hpp, conv_chunk_bytes), and the batch of 5 is
  // split over 2 threads. The input gradient of <conv(x), r> is conv_transpose(r) and the other
  // way round, each against its direct loops.
  const int threads = latent::num_threads();
  latent::set_num_threads(2);
  latent::Rng rng(24);
  const ImageShape in{3, 56, 48};
  const ConvOptions o{.kernel = 3, .stride = 1, .padding = 1};
  const Index out_channels = 4, batch = 5;
  const ImageShape out = latent::conv2d_output("chunks", in, out_channels, o);
  REQUIRE(out.height * out.width * in.channels * 9 * Index(sizeof(double)) > Index(latent::detail::conv_chunk_bytes));
  const Md x = latent_test::random(in.size(), batch, rng), r = latent_test::random(out.size(), batch, rng);
  const Md w = latent_test::random(out_channels, in.channels * 9, rng), b = latent_test::random(out_channels, 1, rng);
  {
    latent::Tape<double> t;
    const auto xv = t.variable(x);
    const auto y = latent::conv2d(xv, t.constant(w), t.constant(b), in, o);
    CHECK((y.value() - conv_reference(x, w, b, in, o)).cwiseAbs().maxCoeff() < 1e-12);
    t.backward(latent::sum(latent::mul(y, t.constant(r))));
    CHECK((Md(xv.grad()) - conv_transpose_reference(r, w, Md(), in.channels, out, o)).cwiseAbs().maxCoeff() < 1e-12);
  }
  {
    latent::Tape<double> t;
    const auto rv = t.variable(r);
    const auto y = latent::conv_transpose2d(rv, t.constant(w), t.constant(b.topRows(in.channels)), out, o);
    CHECK((y.value() - conv_transpose_reference(r, w, b.topRows(in.channels), in.channels, out, o))
              .cwiseAbs()
              .maxCoeff() < 1e-12);
    t.backward(latent::sum(latent::mul(y, t.constant(x))));
    CHECK((Md(rv.grad()) - conv_reference(x, w, Md(), in, o)).cwiseAbs().maxCoeff() < 1e-12);
  }
  latent::set_num_threads(threads);
}

TEST_CASE("float conv layers with channels in blocks of 16 agree with double ones, on one and two threads",
          "[conv]") {
  // The channel counts the oneDNN route takes (kernels/dnnl_conv.hpp): in the native test
  // binary, built as the examples are, these run on it; elsewhere on the im2col route. Values,
  // input, weight and bias gradients of <y, r> + |x|^2 against the double im2col route (checked
  // against direct loops above), batches split over two threads unevenly, and the same bits on
  // a second run.
  const int threads = latent::num_threads();
  latent::Rng rng(25);
  struct Layer {
    ImageShape in;
    Index out_channels, batch;
    ConvOptions window;
  };
  const Layer layers[] = {{{32, 14, 14}, 64, 7, {.kernel = 4, .stride = 2, .padding = 1}},
                          {{16, 9, 12}, 32, 5, {.kernel = 3, .stride = 1, .padding = 1}},
                          {{16, 11, 8}, 16, 1, {.kernel = 3, .stride = 2, .padding = 0, .dilation = 2}},
                          {{32, 7, 7}, 16, 3, {.kernel = 5, .stride = 1, .padding = 2}}};
  struct Result {
    Md y, dx, dw, db;
  };
  const auto run = [](bool transposed, const Md& x, const Md& w, const Md& b, const Md& r, const ImageShape& in,
                      const ConvOptions& o, auto scalar) {
    using S = decltype(scalar);
    latent::Tape<S> t;
    const auto xv = t.variable(x.cast<S>()), wv = t.variable(w.cast<S>()), bv = t.variable(b.cast<S>());
    const auto y = transposed ? latent::conv_transpose2d(xv, wv, bv, in, o) : latent::conv2d(xv, wv, bv, in, o);
    // x also reaches the loss directly, after y: its adjoint holds that before y's backward adds.
    t.backward(latent::add(latent::sum(latent::mul(y, t.constant(r.cast<S>()))), latent::sum(latent::mul(xv, xv))));
    return Result{y.value().template cast<double>(), Md(xv.grad().template cast<double>()),
                  Md(wv.grad().template cast<double>()), Md(bv.grad().template cast<double>())};
  };
  const auto relative = [](const Md& a, const Md& e) { return (a - e).cwiseAbs().maxCoeff() / e.cwiseAbs().maxCoeff(); };
  for (const Layer& l : layers)
    for (const bool transposed : {false, true})
      for (const int n : {1, 2}) {
        latent::set_num_threads(n);
        const ImageShape out = transposed ? latent::conv_transpose2d_output("f", l.in, l.out_channels, l.window)
                                          : latent::conv2d_output("f", l.in, l.out_channels, l.window);
        INFO(latent::to_string(l.in) << " -> " << latent::to_string(out) << (transposed ? " transposed" : "")
                                     << ", batch " << l.batch << ", " << n << " threads");
        const Index taps = l.window.kernel * l.window.kernel;
        const Md x = latent_test::random(l.in.size(), l.batch, rng), r = latent_test::random(out.size(), l.batch, rng);
        const Md w = latent_test::random(transposed ? l.in.channels : l.out_channels,
                                         (transposed ? l.out_channels : l.in.channels) * taps, rng);
        const Md b = latent_test::random(l.out_channels, 1, rng);
        const Result exact = run(transposed, x, w, b, r, l.in, l.window, 0.0);
        const Result single = run(transposed, x, w, b, r, l.in, l.window, 0.0f);
        CHECK(relative(single.y, exact.y) < 1e-5);
        CHECK(relative(single.dx, exact.dx) < 1e-5);
        CHECK(relative(single.dw, exact.dw) < 1e-5);
        CHECK(relative(single.db, exact.db) < 1e-5);
        const Result again = run(transposed, x, w, b, r, l.in, l.window, 0.0f);
        CHECK((again.y.array() == single.y.array()).all());
        CHECK((again.dx.array() == single.dx.array()).all());
        CHECK((again.dw.array() == single.dw.array()).all());
      }
  latent::set_num_threads(threads);
#if defined(LATENT_USE_DNNL)
  // Built with the route, the conv VAE's 32 -> 64 layer takes it (it would stay on the im2col
  // route silently if oneDNN declined).
  const latent::detail::ConvGeometry vae_layer{32, 14, 14, 7, 7, 4, 2, 1, 1};
  CHECK(latent::detail::dnnl_conv_route({vae_layer, 64, 128}, 2));
#endif
}

TEST_CASE("bad convolution geometry is a ShapeError naming the layer, the input and the window", "[conv]") {
  latent::Rng rng(24);
  const auto message = [](auto&& f) {
    try {
      f();
    } catch (const latent::ShapeError& e) {
      return std::string(e.what());
    }
    return std::string("no ShapeError");
  };
  // A kernel larger than the padded image: empty output.
  const std::string empty = message([&] {
    latent::Conv2d<float>({1, 3, 4}, 8, {.kernel = 5, .stride = 2, .padding = 0}, rng);
  });
  CHECK_THAT(empty, Catch::Contains("Conv2d") && Catch::Contains("1x3x4") && Catch::Contains("kernel 5") &&
                        Catch::Contains("stride 2") && Catch::Contains("padding 0"));
  // x whose rows are not C H W.
  latent::Conv2d<float> conv({1, 28, 28}, 32, {.kernel = 4, .stride = 2, .padding = 1}, rng);
  latent::Tape<float> t;
  const std::string rows = message([&] { conv.forward(t, t.constant(latent::Matrix<float>::Zero(700, 2))); });
  CHECK_THAT(rows, Catch::Contains("Conv2d") && Catch::Contains("1x28x28") && Catch::Contains("kernel 4") &&
                       Catch::Contains("stride 2") && Catch::Contains("padding 1") && Catch::Contains("700x2"));
  // Transposed: output_padding not below the stride; padding that crops everything.
  const std::string op = message([&] {
    latent::ConvTranspose2d<float>({64, 7, 7}, 32, {.kernel = 4, .stride = 2, .padding = 1, .output_padding = 2}, rng);
  });
  CHECK_THAT(op,
             Catch::Contains("ConvTranspose2d") && Catch::Contains("64x7x7") && Catch::Contains("output_padding 2"));
  const std::string crop = message([&] {
    latent::ConvTranspose2d<float>({1, 1, 1}, 1, {.kernel = 1, .stride = 1, .padding = 1}, rng);
  });
  CHECK_THAT(crop, Catch::Contains("ConvTranspose2d") && Catch::Contains("1x1x1") && Catch::Contains("padding 1"));
  CHECK_THAT(message([&] {
               latent::Conv2d<float>({1, 8, 8}, 2, {.kernel = 3, .stride = 0}, rng);
             }),
             Catch::Contains("stride 0"));
  // The op itself: W of the wrong shape.
  const std::string weight = message([&] {
    latent::conv2d(t.constant(latent::Matrix<float>::Zero(16, 1)), t.constant(latent::Matrix<float>::Zero(2, 5)),
                   ImageShape{1, 4, 4}, {.kernel = 3});
  });
  CHECK_THAT(weight, Catch::Contains("conv2d") && Catch::Contains("2x5") && Catch::Contains("2x9"));
}

TEST_CASE("Conv2d and ConvTranspose2d layers: shapes, parameters and the default net's sizes", "[conv]") {
  latent::Rng rng(25);
  latent::Conv2d<double> c1({1, 28, 28}, 32, {.kernel = 4, .stride = 2, .padding = 1}, rng);
  latent::Conv2d<double> c2(c1.output_shape(), 64, {.kernel = 4, .stride = 2, .padding = 1}, rng);
  CHECK(c1.output_shape() == ImageShape{32, 14, 14});
  CHECK(c2.output_shape() == ImageShape{64, 7, 7});
  CHECK(c1.num_parameters() == 32 * 16 + 32);
  CHECK(c2.num_parameters() == 64 * 32 * 16 + 64);
  latent::ConvTranspose2d<double> t1({64, 7, 7}, 32, {.kernel = 4, .stride = 2, .padding = 1}, rng);
  latent::ConvTranspose2d<double> t2(t1.output_shape(), 1, {.kernel = 4, .stride = 2, .padding = 1}, rng);
  CHECK(t1.output_shape() == ImageShape{32, 14, 14});
  CHECK(t2.output_shape() == ImageShape{1, 28, 28});
  CHECK(t1.num_parameters() == 64 * 32 * 16 + 32);
  CHECK(t2.num_parameters() == 32 * 16 + 1);
  // PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C k k (conv), Cout k k (transposed).
  CHECK(c2.weight().value.cwiseAbs().maxCoeff() <= 1 / std::sqrt(32.0 * 16));
  CHECK(c2.weight().value.cwiseAbs().maxCoeff() > 0.9 / std::sqrt(32.0 * 16));
  CHECK(t1.weight().value.cwiseAbs().maxCoeff() <= 1 / std::sqrt(32.0 * 16));
  CHECK(t2.weight().value.cwiseAbs().maxCoeff() > 0.9 / std::sqrt(1.0 * 16));

  // The layers' parameter gradients, through a small chain, in double.
  latent::Conv2d<double> small({2, 6, 5}, 3, {.kernel = 3, .stride = 2, .padding = 1}, rng);
  latent::ConvTranspose2d<double> back(small.output_shape(), 2,
                                       {.kernel = 3, .stride = 2, .padding = 1, .output_padding = 1}, rng);
  const Md x = latent_test::random(small.input_shape().size(), 3, rng);
  auto params = small.named_parameters();
  for (auto& p : back.named_parameters()) params.push_back(p);
  const auto result = latent::grad_check_parameters(
      [&](latent::Tape<double>& t) { return latent::tanh(back.forward(t, small.forward(t, t.constant(x)))); }, params);
  INFO(result.message());
  CHECK(result.max_rel_error < 1e-6);
  CHECK(back.output_shape() == ImageShape{2, 6, 6});
}

TEST_CASE("Flatten and Unflatten pass images through and name the shape they expected", "[conv]") {
  latent::Flatten<float> flatten({64, 7, 7});
  latent::Unflatten<float> unflatten({64, 7, 7});
  latent::Tape<float> t;
  const auto x = t.constant(latent::Matrix<float>::Random(3136, 2));
  CHECK(flatten.forward(t, x).id() == x.id());
  CHECK(unflatten.forward(t, x).id() == x.id());
  const auto bad = t.constant(latent::Matrix<float>::Zero(3000, 2));
  CHECK_THROWS_WITH(unflatten.forward(t, bad), Catch::Contains("Unflatten") && Catch::Contains("64x7x7"));
  CHECK_THROWS_WITH(flatten.forward(t, bad), Catch::Contains("Flatten") && Catch::Contains("3000x2"));
}
