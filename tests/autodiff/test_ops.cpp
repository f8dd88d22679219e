#include "autodiff/gradcheck_helpers.hpp"

using namespace latent_test;
using latent::Var;

// Every op passes grad_check in double (rel. error < 1e-6) on 1x1, batch 1, wide, tall and an
// ordinary shape, and its float forward pass agrees with double.

TEST_CASE("elementwise binary ops", "[autodiff][gradcheck]") {
  const auto two = same_shape({Domain::any, Domain::any});
  check_on_all_shapes(
      "add", [](auto&, auto v) { return add(v[0], v[1]); }, two);
  check_on_all_shapes(
      "sub", [](auto&, auto v) { return sub(v[0], v[1]); }, two);
  check_on_all_shapes(
      "mul", [](auto&, auto v) { return mul(v[0], v[1]); }, two);
  check_on_all_shapes(
      "div", [](auto&, auto v) { return div(v[0], v[1]); }, same_shape({Domain::any, Domain::positive}));
  check_on_all_shapes(
      "operators", [](auto&, auto v) { return -(v[0] + v[1]) * 0.5 - v[1] + 3.0; }, two);
}

TEST_CASE("elementwise unary math", "[autodiff][gradcheck]") {
  const auto any = same_shape({Domain::any});
  check_on_all_shapes(
      "scale", [](auto&, auto v) { return scale(v[0], 2.5); }, any);
  check_on_all_shapes(
      "shift", [](auto&, auto v) { return shift(v[0], -1.5); }, any);
  check_on_all_shapes(
      "exp", [](auto&, auto v) { return exp(v[0]); }, any);
  check_on_all_shapes(
      "log", [](auto&, auto v) { return log(v[0]); }, same_shape({Domain::positive}));
  check_on_all_shapes(
      "square", [](auto&, auto v) { return square(v[0]); }, any);
  check_on_all_shapes(
      "sqrt", [](auto&, auto v) { return sqrt(v[0]); }, same_shape({Domain::positive}));
  check_on_all_shapes(
      "abs", [](auto&, auto v) { return abs(v[0]); }, same_shape({Domain::away_from_zero}));
}

TEST_CASE("activations", "[autodiff][gradcheck]") {
  const auto kinked = same_shape({Domain::away_from_zero});
  const auto any = same_shape({Domain::any});
  check_on_all_shapes(
      "relu", [](auto&, auto v) { return relu(v[0]); }, kinked);
  check_on_all_shapes(
      "leaky_relu", [](auto&, auto v) { return leaky_relu(v[0], 0.1); }, kinked);
  check_on_all_shapes(
      "elu", [](auto&, auto v) { return elu(v[0], 1.3); }, kinked);
  check_on_all_shapes(
      "sigmoid", [](auto&, auto v) { return sigmoid(v[0]); }, any);
  check_on_all_shapes(
      "tanh", [](auto&, auto v) { return tanh(v[0]); }, any);
  check_on_all_shapes(
      "softplus", [](auto&, auto v) { return softplus(v[0]); }, any);
}

TEST_CASE("leaky_relu and elu use their slope and alpha in the forward and the backward pass", "[autodiff]") {
  // grad_check cannot see an op that ignores its parameter in both passes alike (say, always the
  // default 0.01 or 1): the values at negative inputs are checked against the formulas here, on
  // 37 entries so the vector lanes and the scalar tail both run.
  latent::Rng rng(40);
  const Md x = random(37, 1, rng, Domain::away_from_zero);
  const auto check = [&]<class S>(S) {
    for (double param : {0.1, 0.37, 2.0}) {
      INFO((sizeof(S) == 4 ? "float" : "double") << " param " << param);
      const double tol = sizeof(S) == 4 ? 1e-6 : 1e-14;
      for (int op = 0; op < 2; ++op) {
        latent::Tape<S> t;
        const auto v = t.variable(x.cast<S>());
        const auto y = op == 0 ? leaky_relu(v, S(param)) : elu(v, S(param));
        t.backward(sum(y));
        for (Index i = 0; i < x.size(); ++i) {
          const double a = x(i);
          const double value = a > 0 ? a : op == 0 ? param * a : param * (std::exp(a) - 1);
          const double slope = a > 0 ? 1 : op == 0 ? param : param * std::exp(a);
          INFO((op == 0 ? "leaky_relu" : "elu") << " at " << a);
          CHECK(double(y.value()(i)) == Approx(value).epsilon(tol).margin(tol));
          CHECK(double(v.grad()(i)) == Approx(slope).epsilon(tol).margin(tol));
        }
      }
    }
  };
  check(0.0f);
  check(0.0);
}

TEST_CASE("reductions", "[autodiff][gradcheck]") {
  const auto any = same_shape({Domain::any});
  check_on_all_shapes(
      "sum", [](auto&, auto v) { return sum(v[0]); }, any);
  check_on_all_shapes(
      "mean", [](auto&, auto v) { return mean(v[0]); }, any);
  check_on_all_shapes(
      "colwise_sum", [](auto&, auto v) { return colwise_sum(v[0]); }, any);
  check_on_all_shapes(
      "rowwise_sum", [](auto&, auto v) { return rowwise_sum(v[0]); }, any);
  check_on_all_shapes(
      "colwise_logsumexp", [](auto&, auto v) { return colwise_logsumexp(scale(v[0], 3.0)); }, any);
}

TEST_CASE("matrix products, linear and bias", "[autodiff][gradcheck]") {
  // (r, c) picks m = r, n = c and an inner size k = 4.
  const Index k = 4;
  check_on_all_shapes(
      "matmul", [](auto&, auto v) { return matmul(v[0], v[1]); },
      [&](Index r, Index c, latent::Rng& rng) {
        return std::vector<Md>{random(r, k, rng), random(k, c, rng)};
      });
  check_on_all_shapes(
      "matmul_tn", [](auto&, auto v) { return matmul_tn(v[0], v[1]); },
      [&](Index r, Index c, latent::Rng& rng) {
        return std::vector<Md>{random(k, r, rng), random(k, c, rng)};
      });
  check_on_all_shapes(
      "matmul_nt", [](auto&, auto v) { return matmul_nt(v[0], v[1]); },
      [&](Index r, Index c, latent::Rng& rng) {
        return std::vector<Md>{random(r, k, rng), random(c, k, rng)};
      });
  check_on_all_shapes(
      "linear", [](auto&, auto v) { return linear(v[0], v[1], v[2]); },
      [&](Index r, Index c, latent::Rng& rng) {
        return std::vector<Md>{random(r, k, rng), random(k, c, rng), random(r, 1, rng)};
      });
  check_on_all_shapes(
      "add_bias", [](auto&, auto v) { return add_bias(v[0], v[1]); },
      [&](Index r, Index c, latent::Rng& rng) {
        return std::vector<Md>{random(r, c, rng), random(r, 1, rng)};
      });
}

TEST_CASE("row blocks", "[autodiff][gradcheck]") {
  check_on_all_shapes(
      "slice_rows", [](auto&, auto v) { return slice_rows(v[0], v[0].rows() / 2, (v[0].rows() + 1) / 2); },
      same_shape({Domain::any}));
  check_on_all_shapes(
      "concat_rows", [](auto&, auto v) { return concat_rows(v[0], v[1]); },
      [](Index r, Index c, latent::Rng& rng) {
        return std::vector<Md>{random(r, c, rng), random(r + 2, c, rng)};
      });
  // Both halves of one matrix used: the adjoint blocks must land in the right rows.
  check_on_all_shapes(
      "slice_rows twice",
      [](auto&, auto v) {
        const Index h = v[0].rows() / 2;
        return concat_rows(exp(slice_rows(v[0], h, v[0].rows() - h)), slice_rows(v[0], 0, h + 1));
      },
      same_shape({Domain::any}));
}

TEST_CASE("fused losses and reparameterize", "[autodiff][gradcheck]") {
  check_on_all_shapes(
      "bce_with_logits", [](auto&, auto v) { return latent::detail::bce_with_logits(scale(v[0], 4.0), v[1]); },
      same_shape({Domain::any, Domain::unit_interval}));
  check_on_all_shapes(
      "squared_error", [](auto&, auto v) { return squared_error(v[0], v[1]); }, same_shape({Domain::any, Domain::any}));
  check_on_all_shapes(
      "gaussian_kl", [](auto&, auto v) { return latent::detail::gaussian_kl(v[0], v[1]); },
      same_shape({Domain::any, Domain::any}));
  check_on_all_shapes(
      "reparameterize", [](auto&, auto v) { return reparameterize(v[0], v[1], v[2]); },
      same_shape({Domain::any, Domain::any, Domain::any}));
}

TEST_CASE("fused losses match their textbook formulas", "[autodiff]") {
  latent::Rng rng(3);
  const Md z = random(7, 5, rng) * 4, x = random(7, 5, rng, Domain::unit_interval);
  const Md mu = random(7, 5, rng), lv = random(7, 5, rng);
  latent::Tape<double> t;
  const Md bce = latent::detail::bce_with_logits(t.constant(z), t.constant(x)).value();
  const Md kl = latent::detail::gaussian_kl(t.constant(mu), t.constant(lv)).value();
  for (Index j = 0; j < 5; ++j) {
    double b = 0, k = 0;
    for (Index i = 0; i < 7; ++i) {
      const double p = 1 / (1 + std::exp(-z(i, j)));
      b -= x(i, j) * std::log(p) + (1 - x(i, j)) * std::log(1 - p);
      // KL(N(mu, s^2) || N(0, 1)) = log(1/s) + (s^2 + mu^2)/2 - 1/2.
      const double s2 = std::exp(lv(i, j));
      k += -0.5 * lv(i, j) + 0.5 * (s2 + mu(i, j) * mu(i, j)) - 0.5;
    }
    CHECK(bce(0, j) == Approx(b).epsilon(1e-12));
    CHECK(kl(0, j) == Approx(k).epsilon(1e-12));
  }
}

TEST_CASE("bce_with_logits stays finite for extreme logits", "[autodiff]") {
  latent::Tape<float> t;
  Eigen::MatrixXf z(4, 1), x(4, 1);
  z << 1e4f, -1e4f, 88.0f, -200.0f;
  x << 0.0f, 1.0f, 1.0f, 0.0f;
  const auto zv = t.variable(z);
  const auto l = latent::detail::bce_with_logits(zv, t.constant(x));
  CHECK(std::isfinite(l.value()(0, 0)));
  CHECK(l.value()(0, 0) == Approx(2e4f).epsilon(1e-6));
  t.backward(sum(l));
  // d/dz = sigmoid(z) - x: 1, -1 and (to float precision) 0, 0, with no NaN from exp overflow.
  const Eigen::MatrixXf g = zv.grad();
  REQUIRE(g.allFinite());
  CHECK(g(0) == Approx(1.0f).margin(1e-6));
  CHECK(g(1) == Approx(-1.0f).margin(1e-6));
  CHECK(g(2) == Approx(0.0f).margin(1e-6));
  CHECK(g(3) == Approx(0.0f).margin(1e-6));
}

TEST_CASE("repeat_cols and reshape", "[autodiff][gradcheck]") {
  check_on_all_shapes(
      "repeat_cols", [](auto&, auto v) { return repeat_cols(v[0], 3); }, same_shape({Domain::any}));
  check_on_all_shapes(
      "reshape", [](auto&, auto v) { return reshape(exp(v[0]), v[0].cols(), v[0].rows()); }, same_shape({Domain::any}));
  // k samples per example regroup into one column per example.
  latent::Tape<double> t;
  Md a(1, 2);
  a << 1, 2;
  const Md r = reshape(repeat_cols(t.constant(a), 3), 3, 2).value();
  CHECK(r == (Md(3, 2) << 1, 2, 1, 2, 1, 2).finished());
}
