// grad_check itself: ~40 gradient tests trust it, so it must be seen to fail. A user op with a
// deliberately wrong backward (1% too large, the wrong sign, wrong in one entry of one input)
// must come back with a large error that names the input and entry, and the same op with the
// right backward must pass (the positive control, so a failure is not just noise).

#include "autodiff/gradcheck_helpers.hpp"

#include <latent/layers/parameter.hpp>

using namespace latent_test;
using latent::Tape;
using latent::Var;

namespace {

// y = a .* a .* b, entrywise: dy/da = 2 a b, dy/db = a^2. `factor_a` and `factor_b` scale the
// backward of each input; entry (bad_row, bad_col) of a alone gets `factor_bad` instead.
struct Planted {
  double factor_a = 1, factor_b = 1, factor_bad = 1;
  Index bad_row = -1, bad_col = -1;
};

Var<double> cube_like(Var<double> a, Var<double> b, Planted p) {
  Tape<double>& t = a.tape();
  const Var<double> y = t.record("planted", a.rows(), a.cols(), {a, b}, [a, b, p](Tape<double>& t, Var<double> y) {
    Md ga = 2.0 * p.factor_a * (a.value().array() * b.value().array() * t.adjoint_of(y).array()).matrix();
    if (p.bad_row >= 0) ga(p.bad_row, p.bad_col) *= p.factor_bad / p.factor_a;
    t.adjoint(a) += ga;
    t.adjoint(b) += p.factor_b * (a.value().array().square() * t.adjoint_of(y).array()).matrix();
  });
  t.value_of(y) = (a.value().array().square() * b.value().array()).matrix();
  return y;
}

latent::GradCheckResult check(Planted p, const std::vector<Md>& inputs) {
  return latent::grad_check([p](Tape<double>&, std::span<const Var<double>> v) { return cube_like(v[0], v[1], p); },
                            inputs);
}

}  // namespace

TEST_CASE("grad_check fails a wrong backward by far more than its pass bar", "[autodiff][gradcheck]") {
  latent::Rng rng(77);
  const std::vector<Md> inputs = {random(4, 3, rng, Domain::away_from_zero), random(4, 3, rng, Domain::away_from_zero)};

  // Positive control: the right backward passes the bar the op tests use.
  const auto right = check({}, inputs);
  INFO(right.message());
  REQUIRE(right.max_rel_error < 1e-6);
  CHECK(right.op == "planted");

  SECTION("1% too large on every entry of one input") {
    // |1.01 g - g| / (|1.01 g| + |g|) = 0.01 / 2.01 at every entry.
    const auto r = check({.factor_b = 1.01}, inputs);
    INFO(r.message());
    CHECK(r.max_rel_error == Approx(0.01 / 2.01).epsilon(1e-3));
    CHECK(r.input == 1);
    CHECK(r.analytic == Approx(1.01 * r.numeric).epsilon(1e-6));
  }
  SECTION("the wrong sign") {
    // |-g - g| / (|-g| + |g|) = 1.
    const auto r = check({.factor_a = -1}, inputs);
    INFO(r.message());
    CHECK(r.max_rel_error == Approx(1.0).epsilon(1e-6));
    CHECK(r.input == 0);
    CHECK(r.analytic == Approx(-r.numeric).epsilon(1e-6));
  }
  SECTION("a gradient of zero where it should not be") {
    const auto r = check({.factor_b = 0}, inputs);
    INFO(r.message());
    CHECK(r.max_rel_error == Approx(1.0).epsilon(1e-9));
    CHECK(r.input == 1);
    CHECK(r.analytic == 0.0);
  }
  SECTION("wrong in one entry only: that entry is the one reported") {
    const auto r = check({.factor_bad = 1.5, .bad_row = 2, .bad_col = 1}, inputs);
    INFO(r.message());
    CHECK(r.max_rel_error == Approx(0.5 / 2.5).epsilon(1e-6));
    CHECK(r.input == 0);
    CHECK(r.row == 2);
    CHECK(r.col == 1);
  }
  SECTION("a non-scalar output is projected so an error in any entry shows") {
    // The entry at the last row and column of a non-square output: a projection that looked at
    // only the first row or column, or summed the output with weights that cancel, would miss it.
    const auto r = check({.factor_bad = 0.9, .bad_row = 3, .bad_col = 2}, inputs);
    INFO(r.message());
    CHECK(r.max_rel_error == Approx(0.1 / 1.9).epsilon(1e-6));
    CHECK(r.row == 3);
    CHECK(r.col == 2);
  }
}

TEST_CASE("grad_check_parameters fails a wrong backward and names the parameter", "[autodiff][gradcheck]") {
  latent::Rng rng(78);
  latent::Parameter<double> a("a", 3, 2), b("b", 3, 2);
  a.value = random(3, 2, rng, Domain::away_from_zero);
  b.value = random(3, 2, rng, Domain::away_from_zero);
  const std::vector<std::pair<std::string, latent::Parameter<double>*>> params = {{"a", &a}, {"b", &b}};
  const auto run = [&](Planted p) {
    return latent::grad_check_parameters([&](Tape<double>& t) { return cube_like(a.on(t), b.on(t), p); }, params);
  };
  const auto right = run({});
  INFO(right.message());
  REQUIRE(right.max_rel_error < 1e-6);
  const auto wrong = run({.factor_b = -1});
  INFO(wrong.message());
  CHECK(wrong.max_rel_error == Approx(1.0).epsilon(1e-6));
  CHECK(wrong.op == "b");
  CHECK(wrong.input == 1);
}
