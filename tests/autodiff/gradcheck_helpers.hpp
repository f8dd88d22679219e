#pragma once
// Shared machinery of the op tests: random inputs on the shapes every op must handle, a
// grad_check in double, and the float forward pass compared with the double one.

#include <latent/autodiff.hpp>
#include <latent/autodiff/grad_check.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <utility>
#include <vector>

namespace latent_test {

using latent::Index;
using Md = Eigen::MatrixXd;

/// 1x1, batch 1, wide, tall and an ordinary case.
inline const std::vector<std::pair<Index, Index>> shapes = {{1, 1}, {5, 1}, {3, 17}, {17, 3}, {6, 4}};

enum class Domain { any, positive, away_from_zero, unit_interval };

/// A rows x cols matrix of draws suited to `domain`; `away_from_zero` keeps |x| >= 0.1 so the
/// stencil (|step| <= 2e-3) never crosses a kink at 0.
inline Md random(Index rows, Index cols, latent::Rng& rng, Domain domain = Domain::any) {
  Md m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) {
    double x = rng.uniform(-2.0, 2.0);
    switch (domain) {
      case Domain::any:
        break;
      case Domain::positive:
        x = rng.uniform(0.3, 2.5);
        break;
      case Domain::away_from_zero:
        x = (x < 0 ? -0.1 : 0.1) + x * 0.95;
        break;
      case Domain::unit_interval:
        x = rng.uniform(0.0, 1.0);
        break;
    }
    m(i) = x;
  }
  return m;
}

/// grad_check of `f` on `inputs` must be below 1e-6, and `f` in float must agree with double.
template <class F>
void check_gradients(const std::string& label, F f, const std::vector<Md>& inputs) {
  const auto result = latent::grad_check(f, inputs);
  INFO(label << ": " << result.message());
  CHECK(result.max_rel_error < 1e-6);

  latent::Tape<double> td;
  latent::Tape<float> tf;
  std::vector<latent::Var<double>> vd;
  std::vector<latent::Var<float>> vf;
  for (const auto& x : inputs) {
    vd.push_back(td.constant(x));
    vf.push_back(tf.constant(x.cast<float>()));
  }
  const Md yd = f(td, std::span<const latent::Var<double>>(vd)).value();
  const Md yf = f(tf, std::span<const latent::Var<float>>(vf)).value().template cast<double>();
  REQUIRE(yd.rows() == yf.rows());
  REQUIRE(yd.cols() == yf.cols());
  const double scale = std::max(1.0, yd.cwiseAbs().maxCoeff());
  CHECK((yd - yf).cwiseAbs().maxCoeff() <= 1e-4 * scale);
}

/// Runs `check_gradients` on every shape, with inputs made by `make(rows, cols, rng)`.
template <class F>
void check_on_all_shapes(const std::string& name, F f,
                         const std::function<std::vector<Md>(Index, Index, latent::Rng&)>& make) {
  latent::Rng rng(2024);
  for (const auto& [r, c] : shapes)
    check_gradients(name + " " + std::to_string(r) + "x" + std::to_string(c), f, make(r, c, rng));
}

/// Inputs of `n` matrices of one shape, each in its domain.
inline auto same_shape(std::vector<Domain> domains) {
  return [domains](Index r, Index c, latent::Rng& rng) {
    std::vector<Md> xs;
    for (Domain d : domains) xs.push_back(random(r, c, rng, d));
    return xs;
  };
}

}  // namespace latent_test
