// latent::Gradient: a parameter's gradient kept as factors at small batch and cleared without
// writing must be, to every reader, the dense gradient the tape would have accumulated.

#include "autodiff/gradcheck_helpers.hpp"

#include <latent/latent.hpp>

using namespace latent_test;
using latent::Parameter;
using latent::Tape;
using latent::Var;

namespace {
// loss = mean(logsumexp(relu(W X + b))) + sum(W X2) with W used twice when `tied`, so the
// gradient of W gets two products (of inner sizes `batch` and 2): factors, dense, or both.
template <class MakeW>
Var<double> loss_of(Tape<double>& t, MakeW&& w, Var<double> b, const Md& x, const Md& x2, bool tied) {
  Var<double> loss = mean(colwise_logsumexp(relu(linear(w(), t.constant(x), b))));
  if (tied) loss = loss + sum(matmul(w(), t.constant(x2)));
  return loss;
}
}  // namespace

TEST_CASE("a gradient kept as factors reads as the dense gradient", "[autodiff]") {
  latent::Rng rng(21);
  for (bool tied : {false, true}) {
    for (Index batch : {1, 2, 3, 4, 5, 9}) {
      INFO("batch " << batch << (tied ? ", W used twice" : ""));
      Parameter<double> w("w", 6, 5), b("b", 6, 1);
      w.value = random(6, 5, rng);
      b.value = random(6, 1, rng);
      const Md x = random(5, batch, rng), x2 = random(5, 2, rng);
      // Reference: the same loss through plain matrices that only ever add.
      Md gw = Md::Zero(6, 5), gb = Md::Zero(6, 1);
      Tape<double> ref;
      ref.backward(loss_of(
          ref, [&] { return ref.parameter(w.value, gw); }, ref.parameter(b.value, gb), x, x2, tied));

      Tape<double> t;
      w.zero_grad();
      b.zero_grad();
      Var<double> leaf;
      t.backward(loss_of(
          t, [&] { return leaf = w.on(t); }, b.on(t), x, x2, tied));
      CHECK(leaf.grad().isApprox(gw, 1e-14));  // through the tape
      CHECK(w.grad().isApprox(gw, 1e-14));     // through the parameter
      CHECK(b.grad().isApprox(gb, 1e-14));
    }
  }
}

TEST_CASE("zero_grad forgets without writing; backward passes add up until then", "[autodiff]") {
  latent::Rng rng(22);
  Parameter<double> w("w", 4, 3), b("b", 4, 1), unused("unused", 2, 2);
  w.value = random(4, 3, rng);
  const Md x = random(3, 1, rng);
  const auto run = [&] {
    Tape<double> t;
    t.backward(sum(linear(w.on(t), t.constant(x), b.on(t))));
  };
  // d sum(W x + b) / dW = 1 x^T; / db = 1.
  const Md once = Md::Ones(4, 1) * x.transpose();
  run();
  CHECK(w.grad().isApprox(once, 1e-15));
  run();
  run();
  CHECK(w.grad().isApprox(3 * once, 1e-15));
  CHECK(b.grad() == Md::Constant(4, 1, 3.0));
  w.zero_grad();
  b.zero_grad();
  run();
  CHECK(w.grad().isApprox(once, 1e-15));
  CHECK(b.grad() == Md::Ones(4, 1));
  // A parameter no backward pass reached reads as zeros, whatever its storage held.
  unused.grad().setConstant(7);
  unused.zero_grad();
  CHECK(unused.grad() == Md::Zero(2, 2));
}

TEST_CASE("optimizers update from factors exactly as from the dense gradient", "[optim]") {
  latent::Rng rng(23);
  // Batch 1 and 3: factors only; batch 3 with W used again on 2 columns: factors and dense.
  for (auto [batch, tied] : {std::pair<Index, bool>{1, false}, {3, false}, {3, true}}) {
    INFO("batch " << batch << (tied ? ", W used twice" : ""));
    // a: gradient from the tape; c: the same gradient assigned as a dense matrix.
    // 41 rows: every column ends in a part shorter than a SIMD packet.
    Parameter<double> a("w", 41, 30), c("w", 41, 30);
    a.value = c.value = random(41, 30, rng);
    latent::Adam<double> opt_a({&a}), opt_c({&c});
    for (int step = 0; step < 3; ++step) {
      const Md x = random(30, batch, rng), r = random(41, batch, rng), x2 = random(30, 2, rng);
      const auto loss = [&](Tape<double>& t, auto w) {
        Var<double> l = sum(mul(matmul(w(), t.constant(x)), t.constant(r)));
        return tied ? l + sum(matmul(w(), t.constant(x2))) : l;
      };
      Md dense = Md::Zero(41, 30);
      Tape<double> ref;
      ref.backward(loss(ref, [&] { return ref.parameter(a.value, dense); }));
      opt_a.zero_grad();
      Tape<double> t;
      t.backward(loss(t, [&] { return a.on(t); }));
      opt_a.step();
      opt_c.zero_grad();
      c.grad() = dense;
      opt_c.step();
      // Rank 1: each entry is one product either way, so the steps agree to the bit.
      if (batch == 1)
        CHECK(a.value == c.value);
      else
        CHECK(a.value.isApprox(c.value, 1e-14));
    }
  }
}

TEST_CASE("clip_grad_norm on a gradient kept as factors clips what the optimizer then reads", "[optim]") {
  latent::Rng rng(24);
  // Batch 1: W's gradient is kept as factors; b's is dense.
  Parameter<double> w("w", 9, 7), b("b", 9, 1), c("w", 9, 7), cb("b", 9, 1);
  w.value = c.value = random(9, 7, rng);
  b.value = cb.value = random(9, 1, rng);
  const Md x = random(7, 1, rng), r = random(9, 1, rng);
  const auto loss = [&](Tape<double>& t, Var<double> wv, Var<double> bv) {
    return sum(mul(linear(wv, t.constant(x), bv), t.constant(r)));
  };
  // d loss / dW = r x^T, d loss / db = r: the norm is |r| sqrt(|x|^2 + 1).
  const double norm = r.norm() * std::sqrt(x.squaredNorm() + 1);
  const double max_norm = 0.25 * norm, scale = max_norm / (norm + 1e-6);
  Tape<double> t;
  w.zero_grad();
  b.zero_grad();
  t.backward(loss(t, w.on(t), b.on(t)));
  CHECK(latent::clip_grad_norm<double>({&w, &b}, max_norm) == Approx(norm).epsilon(1e-12));
  CHECK(w.grad().isApprox(scale * r * x.transpose(), 1e-12));
  CHECK(b.grad().isApprox(scale * r, 1e-12));
  // A step reads the clipped gradient: SGD moves W by lr times it, as from dense clipped values.
  latent::Sgd<double> opt({&w, &b}, {.lr = 0.5}), ref({&c, &cb}, {.lr = 0.5});
  opt.step();
  ref.zero_grad();
  c.grad() = scale * r * x.transpose();
  cb.grad() = scale * r;
  ref.step();
  CHECK(w.value.isApprox(c.value, 1e-12));
  CHECK(b.value.isApprox(cb.value, 1e-12));
}
