#include "autodiff/gradcheck_helpers.hpp"

using namespace latent_test;
using Catch::Matchers::Contains;
using latent::Tape;
using latent::Var;

TEST_CASE("a 3-layer MLP loss passes grad_check", "[autodiff][gradcheck]") {
  latent::Rng rng(9);
  // x is 6 x 5 (features x batch); layers 6 -> 4 -> 3 -> 6 with tanh, relu and a BCE head.
  const std::vector<Md> inputs = {random(4, 6, rng),
                                  random(4, 1, rng),
                                  random(3, 4, rng),
                                  random(3, 1, rng),
                                  random(6, 3, rng),
                                  random(6, 1, rng),
                                  random(6, 5, rng, Domain::unit_interval)};
  const auto loss = [](auto&, auto v) {
    auto h1 = tanh(linear(v[0], v[6], v[1]));
    auto h2 = softplus(linear(v[2], h1, v[3]));
    return mean(latent::detail::bce_with_logits(linear(v[4], h2, v[5]), v[6]));
  };
  check_gradients("mlp", loss, inputs);
}

TEST_CASE("a Var used by several ops accumulates its adjoint", "[autodiff][gradcheck]") {
  latent::Rng rng(4);
  check_gradients("reuse", [](auto&, auto v) { return sum(mul(v[0], v[0]) + exp(v[0]) + matmul_tn(v[0], v[0])); },
                  {random(3, 3, rng)});
  // d/dx sum(x .* x + 3x) = 2x + 3, exactly.
  Tape<double> t;
  const Md x0 = random(2, 3, rng);
  const auto x = t.variable(x0);
  t.backward(sum(mul(x, x) + scale(x, 3.0)));
  CHECK(x.grad().isApprox((2 * x0.array() + 3).matrix(), 1e-15));
}

TEST_CASE("a constant gets no gradient", "[autodiff]") {
  Tape<double> t;
  const auto c = t.constant(Md::Ones(2, 2));
  const auto v = t.variable(Md::Ones(2, 2));
  t.backward(sum(mul(c, v)));
  CHECK_FALSE(t.needs_grad(c));
  CHECK_THROWS_WITH(c.grad(), Contains("constant node has no gradient"));
  CHECK(v.grad() == Md::Ones(2, 2));
  // A graph of constants only: backward is a no-op, not an error.
  Tape<double> u;
  const auto k = u.constant(Md::Ones(2, 2));
  CHECK_NOTHROW(u.backward(sum(k)));
}

TEST_CASE("parameters are read in place and accumulate into their gradient", "[autodiff]") {
  Md w = Md::Constant(2, 3, 0.5), gw = Md::Zero(2, 3);
  Tape<double> t;
  for (int step = 0; step < 2; ++step) {
    t.clear();
    const auto x = t.constant(Md::Ones(3, 4));
    t.backward(sum(matmul(t.parameter(w, gw), x)));
  }
  // d sum(W X) / dW = 1 X^T = 4 per entry, twice.
  CHECK(gw == Md::Constant(2, 3, 8.0));
  Md bad_grad(3, 2);
  CHECK_THROWS_AS(t.parameter(w, bad_grad), latent::ShapeError);
}

TEST_CASE("a tape with gradients off evaluates the same values and records no gradient", "[autodiff]") {
  Md w = Md::Constant(2, 3, 0.5), gw = Md::Zero(2, 3);
  const Md x = Md::Random(3, 4);
  Tape<double> on, off;
  off.set_grad_enabled(false);
  CHECK(on.grad_enabled());
  CHECK_FALSE(off.grad_enabled());
  const auto f = [&](Tape<double>& t) { return sum(tanh(matmul(t.parameter(w, gw), t.variable(x)))); };
  const Var<double> y_on = f(on);
  const Var<double> y_off = f(off);
  CHECK(y_on.value() == y_off.value());  // the same arithmetic
  CHECK(on.needs_grad(y_on));
  CHECK_FALSE(off.needs_grad(y_off));
  off.backward(y_off);  // nothing to propagate
  CHECK(gw == Md::Zero(2, 3));
  // The mode survives clear(); a variable on it has no gradient to read.
  off.clear();
  const Var<double> v = off.variable(x);
  CHECK_FALSE(off.needs_grad(v));
  CHECK_THROWS_AS(v.grad(), latent::Error);
  on.backward(y_on);
  CHECK(gw != Md::Zero(2, 3));
}

TEST_CASE("clear and the same step again give bit-identical gradients", "[autodiff]") {
  latent::Rng rng(12);
  const Md w = random(8, 5, rng), b = random(8, 1, rng), x = random(5, 7, rng);
  Md gw = Md::Zero(8, 5), gb = Md::Zero(8, 1);
  Tape<double> t;
  std::vector<Md> grads;
  for (int step = 0; step < 3; ++step) {
    t.clear();
    gw.setZero();
    gb.setZero();
    const auto h = relu(linear(t.parameter(w, gw), t.constant(x), t.parameter(b, gb)));
    t.backward(mean(colwise_logsumexp(h)));
    grads.push_back(gw);
  }
  CHECK(grads[0] == grads[1]);
  CHECK(grads[1] == grads[2]);
  CHECK(grads[0].norm() > 0);
}

TEST_CASE("shape mismatches name the op and both shapes", "[autodiff]") {
  Tape<float> t;
  const auto w = t.constant(Eigen::MatrixXf::Zero(400, 784));
  const auto x = t.constant(Eigen::MatrixXf::Zero(700, 128));
  const auto b = t.constant(Eigen::MatrixXf::Zero(400, 1));
  CHECK_THROWS_WITH(linear(w, x, b), Contains("linear: W is 400x784 but x is 700x128"));
  CHECK_THROWS_AS(linear(w, x, b), latent::ShapeError);
  CHECK_THROWS_WITH(matmul(w, x), Contains("matmul: A is 400x784 but B is 700x128"));
  CHECK_THROWS_WITH(add(w, x), Contains("add: a is 400x784 but b is 700x128"));
  CHECK_THROWS_WITH(add_bias(x, b), Contains("add_bias: b is 400x1 but a is 700x128"));
  CHECK_THROWS_WITH(slice_rows(b, 390, 20), Contains("slice_rows"));
  CHECK_THROWS_WITH(latent::detail::gaussian_kl(w, x), Contains("gaussian_kl: mu is 400x784 but logvar is 700x128"));
}

TEST_CASE("backward of a non-scalar throws with its shape", "[autodiff]") {
  Tape<double> t;
  const auto v = t.variable(Md::Ones(3, 2));
  CHECK_THROWS_AS(t.backward(exp(v)), latent::ShapeError);
  CHECK_THROWS_WITH(t.backward(exp(v)), Contains("loss must be 1x1 but is 3x2"));
  CHECK_THROWS_WITH(v.item(), Contains("3x2"));
}

TEST_CASE("the non-finite check names the first op that produced NaN or Inf", "[autodiff]") {
  Tape<double> t;
  Md x(2, 1);
  x << 1.0, -1.0;
  const auto v = t.variable(x);
  CHECK_NOTHROW(log(v));  // off by default: NaN passes silently
  t.check_finite(true);
  const auto e = exp(v);  // fine
  CHECK_THROWS_AS(log(v), latent::NumericError);
  CHECK_THROWS_WITH(log(v), Contains("log: value became NaN at (1, 0)"));
  CHECK_THROWS_WITH(exp(scale(e, 1000.0)), Contains("exp: value became infinite"));
}

TEST_CASE("Vars from different tapes do not mix", "[autodiff]") {
  Tape<double> a, b;
  CHECK_THROWS_WITH(add(a.constant(Md::Ones(1, 1)), b.constant(Md::Ones(1, 1))), Contains("different tapes"));
}

TEST_CASE("a Var recorded before clear() is refused, not read as whatever the node holds now", "[autodiff]") {
  Tape<double> t;
  const auto stale = t.constant(Md::Constant(2, 2, 1.0));
  t.clear();
  const auto fresh = t.constant(Md::Constant(2, 2, 7.0));  // takes the stale Var's place on the tape
  CHECK_THROWS_WITH(stale.value(), Contains("before the tape's last clear()"));
  CHECK_THROWS_WITH(add(stale, fresh), Contains("before the tape's last clear()"));
  CHECK_THROWS_WITH(stale.rows(), Contains("before the tape's last clear()"));
  CHECK(fresh.value()(0, 0) == 7.0);
  const Var<double> unset;
  CHECK_THROWS_WITH(unset.value(), Contains("default-constructed"));
  CHECK_THROWS_WITH(add(fresh, unset), Contains("default-constructed"));
}

TEST_CASE("an op's backward state can hold geometry of any type, recorded and replayed by the tape", "[autodiff]") {
  // A user op in the style of docs/extending.md: y = a[:, c0 : c0 + n] (a column slice), whose
  // start column is an integer kept in the op's own state, not squeezed into a scalar.
  const auto slice_cols = []<class S>(Var<S> a, latent::Index c0, latent::Index n) {
    Tape<S>& t = a.tape();
    const Var<S> y = t.record("slice_cols", a.rows(), n, {a}, [a, c0](Tape<S>& t, Var<S> y) {
      t.adjoint(a).middleCols(c0, y.cols()) += t.adjoint_of(y);
    });
    t.value_of(y) = a.value().middleCols(c0, n);
    return y;
  };
  latent::Rng rng(5);
  const Md x0 = random(3, 6, rng);
  check_gradients("slice_cols", [&](auto&, auto v) { return slice_cols(v[0], 4, 2); }, {x0});
  Tape<double> t;
  const auto x = t.variable(x0);
  t.backward(sum(slice_cols(x, 2, 1)));
  CHECK(x.grad().col(2).isOnes());
  CHECK(x.grad().sum() == 3.0);
}
