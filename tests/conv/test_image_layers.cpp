// avg_pool2d, upsample_nearest, layer_norm and dropout: values against direct loops or closed
// forms, grad_check in double, and the modules around them.

#include <latent/latent.hpp>

#include "autodiff/gradcheck_helpers.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace {

using latent::ImageShape;
using latent::Index;
using latent::PoolOptions;
using latent_test::Md;

Md pool_reference(const Md& x, const ImageShape& in, const PoolOptions& o) {
  const ImageShape out = latent::avg_pool2d_output("ref", in, o);
  const Index s = o.stride ? o.stride : o.kernel;
  Md y = Md::Zero(out.size(), x.cols());
  for (Index b = 0; b < x.cols(); ++b)
    for (Index c = 0; c < in.channels; ++c)
      for (Index i = 0; i < out.height; ++i)
        for (Index j = 0; j < out.width; ++j) {
          double sum = 0;
          for (Index ki = 0; ki < o.kernel; ++ki)
            for (Index kj = 0; kj < o.kernel; ++kj) {
              const Index ii = i * s - o.padding + ki, jj = j * s - o.padding + kj;
              if (ii >= 0 && ii < in.height && jj >= 0 && jj < in.width)
                sum += x((c * in.height + ii) * in.width + jj, b);
            }
          y((c * out.height + i) * out.width + j, b) = sum / double(o.kernel * o.kernel);
        }
  return y;
}

}  // namespace

TEST_CASE("avg_pool2d agrees with direct loops and passes grad_check", "[conv]") {
  latent::Rng rng(31);
  int n = 0;
  for (Index k : {1, 2, 3})
    for (Index s : {0, 1, 2, 3})
      for (Index p : {0, 1}) {
        if (2 * p > k) continue;
        ++n;
        const ImageShape in{n % 2 ? 1 : 3, n % 2 ? 7 : 5, n % 2 ? 5 : 8};
        const Index batch = (n / 2) % 2 ? 5 : 1;
        const PoolOptions o{.kernel = k, .stride = s, .padding = p};
        INFO(latent::to_string(in) << " k" << k << " s" << s << " p" << p << " batch " << batch);
        const Md x = latent_test::random(in.size(), batch, rng);
        latent::Tape<double> t;
        const Md y = latent::avg_pool2d(t.constant(x), in, o).value();
        CHECK((y - pool_reference(x, in, o)).cwiseAbs().maxCoeff() < 1e-12);
        latent_test::check_gradients("avg_pool2d", [&](auto&, auto v) { return latent::avg_pool2d(v[0], in, o); }, {x});
      }
  CHECK(n >= 15);
  latent::Tape<double> t;
  CHECK_THROWS_WITH(latent::AvgPool2d<double>({2, 3, 3}, {.kernel = 4}),
                    Catch::Contains("AvgPool2d") && Catch::Contains("2x3x3") && Catch::Contains("kernel 4"));
}

TEST_CASE("upsample_nearest copies each entry into its block and passes grad_check", "[conv]") {
  latent::Rng rng(32);
  for (Index scale : {1, 2, 3}) {
    const ImageShape in{2, 3, 4};
    const Md x = latent_test::random(in.size(), 3, rng);
    latent::Tape<double> t;
    const Md y = latent::upsample_nearest(t.constant(x), in, scale).value();
    REQUIRE(y.rows() == in.size() * scale * scale);
    const Index Ho = 3 * scale, Wo = 4 * scale;
    for (Index b = 0; b < 3; ++b)
      for (Index c = 0; c < 2; ++c)
        for (Index i = 0; i < Ho; ++i)
          for (Index j = 0; j < Wo; ++j)
            REQUIRE(y((c * Ho + i) * Wo + j, b) == x((c * 3 + i / scale) * 4 + j / scale, b));
    latent_test::check_gradients("upsample_nearest x" + std::to_string(scale),
                                 [&](auto&, auto v) { return latent::upsample_nearest(v[0], in, scale); }, {x});
  }
  latent::Upsample<float> up({64, 7, 7}, 2);
  CHECK(up.output_shape() == ImageShape{64, 14, 14});
  CHECK_THROWS_WITH(latent::Upsample<float>({1, 2, 2}, 0), Catch::Contains("Upsample") && Catch::Contains("1x2x2"));
}

TEST_CASE("layer_norm standardises every column and passes grad_check", "[conv]") {
  latent::Rng rng(33);
  for (const auto& [rows, cols] : std::vector<std::pair<Index, Index>>{{2, 1}, {5, 1}, {7, 4}, {30, 3}}) {
    const Md x = latent_test::random(rows, cols, rng);
    const Md gamma = latent_test::random(rows, 1, rng), beta = latent_test::random(rows, 1, rng);
    latent::Tape<double> t;
    const Md y =
        latent::layer_norm(t.constant(x), t.constant(Md::Ones(rows, 1)), t.constant(Md::Zero(rows, 1)), 1e-12).value();
    for (Index j = 0; j < cols; ++j) {
      CHECK(std::abs(y.col(j).mean()) < 1e-12);
      CHECK(std::abs(y.col(j).squaredNorm() / double(rows) - 1) < 1e-9);
    }
    latent_test::check_gradients("layer_norm " + std::to_string(rows) + "x" + std::to_string(cols),
                                 [&](auto&, auto v) { return latent::layer_norm(v[0], v[1], v[2]); }, {x, gamma, beta});
  }
  latent::LayerNorm<double> norm(6);
  CHECK(norm.num_parameters() == 12);
  latent::Tape<double> t;
  CHECK_THROWS_WITH(norm.forward(t, t.constant(Md::Zero(5, 2))),
                    Catch::Contains("layer_norm") && Catch::Contains("5x2"));
}

TEST_CASE("dropout: kept entries scaled by 1 / (1 - p), the identity in eval, a fresh mask per call", "[conv]") {
  latent::Rng rng(34);
  const Md x = latent_test::random(40, 50, rng, latent_test::Domain::away_from_zero);
  // Gradient with the mask held fixed (the same stream for every evaluation).
  latent_test::check_gradients("dropout",
                               [](auto&, auto v) {
                                 latent::Rng noise(7);
                                 return latent::dropout(v[0], 0.3, noise);
                               },
                               {x.topRows(6).leftCols(4)});

  latent::Dropout<double> drop(0.25, latent::Rng(9));
  latent::Tape<double> t;
  const Md y1 = drop.forward(t, t.constant(x)).value(), y2 = drop.forward(t, t.constant(x)).value();
  Index dropped = 0;
  for (Index i = 0; i < x.size(); ++i) {
    if (y1(i) == 0)
      ++dropped;
    else
      REQUIRE(std::abs(y1(i) - x(i) / 0.75) < 1e-12);
  }
  // 2000 entries, p = 0.25: 500 expected, sd sqrt(2000 * 0.25 * 0.75) = 19.4.
  CHECK(dropped > 500 - 80);
  CHECK(dropped < 500 + 80);
  CHECK((y1 - y2).cwiseAbs().maxCoeff() > 0);  // the stream advanced: a new mask
  drop.eval();
  const auto x_var = t.constant(x);
  CHECK(drop.forward(t, x_var).id() == x_var.id());
  CHECK_THROWS_AS(latent::Dropout<float>(1.0, latent::Rng(1)), latent::NumericError);
}

TEST_CASE("Dropout draws from the tape's generator when it has one, and NoiseFrom restores it", "[conv][layers]") {
  latent::Rng data(4);
  Md x(30, 20);
  data.fill_uniform(x, 0.5, 1.5);
  // Two Dropouts with different streams of their own draw the same mask from the same run generator.
  latent::Dropout<double> a(0.5, latent::Rng(1)), b(0.5, latent::Rng(2));
  latent::Tape<double> t;
  latent::Rng run(7);
  t.set_noise(&run);
  const Md ya = a.forward(t, t.constant(x)).value();
  const latent::Rng::State after_a = run.state();
  run = latent::Rng(7);
  const Md yb = b.forward(t, t.constant(x)).value();
  CHECK(ya == yb);
  CHECK(run.state() == after_a);                      // the run's generator advanced
  CHECK(a.noise().state() == latent::Rng(1).state());  // the own streams did not
  CHECK(b.noise().state() == latent::Rng(2).state());
  // The mask is the one dropout() draws from that generator.
  latent::Rng same(7);
  CHECK(ya == latent::dropout(t.constant(x), 0.5, same).value());

  // NoiseFrom sets the generator for a scope and puts the previous one back.
  t.set_noise(nullptr);
  {
    latent::Rng scoped(7);
    const latent::NoiseFrom<double> noise(t, scoped);
    CHECK(t.noise() == &scoped);
    CHECK(a.forward(t, t.constant(x)).value() == ya);
  }
  CHECK(t.noise() == nullptr);
  CHECK(a.forward(t, t.constant(x)).value() != ya);  // own stream, from Rng(1)
  CHECK(a.noise().state() != latent::Rng(1).state());
}
