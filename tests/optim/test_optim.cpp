// Optimizers, clipping and schedules replayed against PyTorch (tests/optim/golden), plus the
// facts the golden file cannot show: option checks, state round trips, no allocation per step.

// With EIGEN_RUNTIME_NO_MALLOC, Eigen reports each heap allocation made while
// `set_is_malloc_allowed(false)` through eigen_assert; counting failures instead of aborting lets
// a test name the step that allocated. (Release builds keep eigen_assert on in this file only, so
// the count covers only code run inside the no-malloc window.) Only this translation unit of
// latent_tests_optim includes Eigen, so every definition of Eigen's inline functions agrees.
namespace latent_test {
inline int eigen_assert_failures = 0;
}
#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) ((x) ? void(0) : void(++latent_test::eigen_assert_failures))

#include <latent/latent.hpp>
#include <latent/optim.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace latent;
using Md = Eigen::MatrixXd;
using Catch::Matchers::Contains;

namespace {

struct GoldenStep {
  double lr = 0, norm = 0;
  std::vector<double> values;  // W, b, U after the step, each column-major
};

struct Golden {
  std::map<std::string, Md> matrices;
  std::map<std::string, std::vector<GoldenStep>> cases;
};

// Parses tests/optim/golden/trajectories.txt (format in generate.py).
Golden read_golden() {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "golden" / "trajectories.txt";
  std::ifstream in(path);
  REQUIRE(in);
  Golden g;
  std::vector<GoldenStep>* current = nullptr;
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string kind;
    s >> kind;
    if (kind == "matrix") {
      std::string name;
      Index rows = 0, cols = 0;
      s >> name >> rows >> cols;
      Md m(rows, cols);
      for (Index i = 0; i < m.size(); ++i) s >> m(i);
      g.matrices[name] = m;
    } else if (kind == "case") {
      std::string name;
      s >> name;
      current = &g.cases[name];
    } else if (kind == "step") {
      REQUIRE(current != nullptr);
      std::size_t t = 0;
      std::string lr, norm;  // "nan" does not parse through >> double
      s >> t >> lr >> norm;
      GoldenStep step{std::stod(lr), std::stod(norm), {}};
      for (double v; s >> v;) step.values.push_back(v);
      REQUIRE(t == current->size());
      current->push_back(std::move(step));
    }
  }
  return g;
}

// The golden problem: loss = bce_with_logits(W X + b, T) + mse(U X, Y), gradients by the tape.
struct Problem {
  Parameter<double> W, b, U;
  Md X, T, Y;

  explicit Problem(const Golden& g)
      : W("W", 3, 2), b("b", 3, 1), U("U", 2, 2), X(g.matrices.at("X")), T(g.matrices.at("T")), Y(g.matrices.at("Y")) {
    W.value = g.matrices.at("W");
    b.value = g.matrices.at("b");
    U.value = g.matrices.at("U");
  }

  std::vector<Parameter<double>*> params() { return {&W, &b, &U}; }

  void backward(Tape<double>& t) {
    const Var<double> x = t.constant(X);
    const Var<double> loss = losses::bce_with_logits(linear(W.on(t), x, b.on(t)), t.constant(T)) +
                             losses::mse(matmul(U.on(t), x), t.constant(Y));
    t.backward(loss);
  }

  [[nodiscard]] std::vector<double> values() const {
    std::vector<double> v;
    for (const Md* m : {&W.value, &b.value, &U.value}) v.insert(v.end(), m->data(), m->data() + m->size());
    return v;
  }
};

using Params = std::vector<Parameter<double>*>;

// Each golden case as latent spells it; the names and options mirror CASES in generate.py.
struct Case {
  std::function<std::unique_ptr<Optimizer<double>>(Params)> make;
  std::function<double(Optimizer<double>&, std::size_t)> schedule;  // empty: constant lr
  double max_norm = 0;                                              // 0: no clipping
};

template <class O, class Options>
std::function<std::unique_ptr<Optimizer<double>>(Params)> make(Options o) {
  return [o](Params p) { return std::make_unique<O>(std::move(p), o); };
}

template <class Schedule>
std::function<double(Optimizer<double>&, std::size_t)> schedule(Schedule s) {
  return [s](Optimizer<double>& opt, std::size_t t) { return s.apply(opt, t); };
}

std::map<std::string, Case> cases() {
  return {
      {"sgd", {make<Sgd<double>>(SgdOptions{.lr = 0.1}), {}, 0}},
      {"sgd_momentum", {make<Sgd<double>>(SgdOptions{.lr = 0.1, .momentum = 0.9}), {}, 0}},
      {"sgd_dampening", {make<Sgd<double>>(SgdOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.5}), {}, 0}},
      {"sgd_nesterov", {make<Sgd<double>>(SgdOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true}), {}, 0}},
      {"sgd_weight_decay", {make<Sgd<double>>(SgdOptions{.lr = 0.1, .momentum = 0.5, .weight_decay = 0.05}), {}, 0}},
      {"adam", {make<Adam<double>>(AdamOptions{.lr = 0.05}), {}, 0}},
      {"adam_weight_decay", {make<Adam<double>>(AdamOptions{.lr = 0.05, .weight_decay = 0.1}), {}, 0}},
      {"adamw", {make<AdamW<double>>(AdamWOptions{.lr = 0.05, .weight_decay = 0.1}), {}, 0}},
      {"rmsprop", {make<RmsProp<double>>(RmsPropOptions{.lr = 0.01}), {}, 0}},
      {"rmsprop_momentum_weight_decay",
       {make<RmsProp<double>>(RmsPropOptions{.lr = 0.01, .weight_decay = 0.05, .momentum = 0.5}), {}, 0}},
      {"rmsprop_centered_momentum",
       {make<RmsProp<double>>(RmsPropOptions{.lr = 0.01, .momentum = 0.9, .centered = true}), {}, 0}},
      {"sgd_momentum_clip", {make<Sgd<double>>(SgdOptions{.lr = 0.1, .momentum = 0.9}), {}, 0.5}},
      {"sgd_step_decay", {make<Sgd<double>>(SgdOptions{.lr = 0.2}), schedule(StepDecay(0.2, 5, 0.5)), 0}},
      {"adam_cosine", {make<Adam<double>>(AdamOptions{.lr = 0.05}), schedule(CosineAnnealing(0.05, 19, 1e-3)), 0}},
      {"sgd_warmup", {make<Sgd<double>>(SgdOptions{.lr = 0.1}), schedule(LinearWarmup(5, ConstantLr(0.1), 0.25)), 0}},
      {"adam_warmup_cosine",
       {make<Adam<double>>(AdamOptions{.lr = 0.05}), schedule(LinearWarmup(5, CosineAnnealing(0.05, 14, 1e-3), 0.25)),
        0}},
  };
}

// |a - b| <= tol |b|: relative, entry by entry.
bool close(double a, double b, double tol) { return std::abs(a - b) <= tol * std::abs(b); }

}  // namespace

TEST_CASE("every optimizer, clipping and schedule follows PyTorch's trajectory for 20 steps", "[optim]") {
  const Golden golden = read_golden();
  const auto all = cases();
  REQUIRE(golden.cases.size() == all.size());
  for (const auto& [name, c] : all) {
    INFO("case " << name);
    REQUIRE(golden.cases.count(name) == 1);
    const auto& steps = golden.cases.at(name);
    REQUIRE(steps.size() == 20);
    Problem problem(golden);
    auto opt = c.make(problem.params());
    Tape<double> tape;
    for (std::size_t t = 0; t < steps.size(); ++t) {
      INFO("step " << t);
      const double lr = c.schedule ? c.schedule(*opt, t) : opt->lr();
      CHECK(close(lr, steps[t].lr, 1e-12));
      opt->zero_grad();
      tape.clear();
      problem.backward(tape);
      if (c.max_norm > 0) CHECK(close(clip_grad_norm(opt->parameters(), c.max_norm), steps[t].norm, 1e-12));
      opt->step();
      CHECK(opt->steps() == t + 1);
      const std::vector<double> got = problem.values();
      REQUIRE(got.size() == steps[t].values.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        CHECK(close(got[k], steps[t].values[k], 1e-10));
      }
    }
  }
}

namespace {

// An Mlp with gradients from one backward pass: enough to drive every optimizer.
struct Net {
  Rng rng{7};
  Mlp<float> mlp{{.sizes = {4, 8, 3}, .hidden = Activation::tanh}, rng};
  Matrix<float> x = Matrix<float>::Zero(4, 6);
  Tape<float> tape;

  Net() { rng.fill_normal(x); }

  void backward() {
    tape.clear();
    tape.backward(sum(mlp.forward(tape, tape.constant(x))));
  }
};

}  // namespace

TEST_CASE("a warm step, zero_grad, clip and schedule perform no heap allocation", "[optim]") {
  const auto check = [](auto make_optimizer) {
    Net net;
    auto opt = make_optimizer(net.mlp.parameters());
    const LinearWarmup schedule(3, CosineAnnealing(0.1, 10));
    for (std::size_t t = 0; t < 3; ++t) {
      net.backward();
      latent_test::eigen_assert_failures = 0;
      Eigen::internal::set_is_malloc_allowed(false);
      schedule.apply(opt, t);
      clip_grad_norm(opt.parameters(), 0.1);
      opt.step();
      opt.zero_grad();
      Eigen::internal::set_is_malloc_allowed(true);
      INFO(opt.kind() << " step " << t);
      CHECK(latent_test::eigen_assert_failures == 0);
    }
  };
  check([](auto p) { return Sgd<float>(p, {.momentum = 0.9, .nesterov = true, .weight_decay = 1e-3}); });
  check([](auto p) { return Adam<float>(p, {.weight_decay = 1e-3}); });
  check([](auto p) { return AdamW<float>(p); });
  check([](auto p) { return RmsProp<float>(p, {.weight_decay = 1e-3, .momentum = 0.9, .centered = true}); });
}

TEST_CASE("a loaded state continues exactly where the saved one was", "[optim]") {
  Net a, b;
  RmsProp<float> opt_a(a.mlp.parameters(), {.momentum = 0.5, .centered = true});
  for (int t = 0; t < 3; ++t) {
    a.backward();
    opt_a.step();
    opt_a.zero_grad();
  }
  // b starts from a's parameters and state, then both take the same two steps.
  for (std::size_t i = 0; i < a.mlp.parameters().size(); ++i)
    b.mlp.parameters()[i]->value = a.mlp.parameters()[i]->value;
  RmsProp<float> opt_b(b.mlp.parameters(), {.momentum = 0.5, .centered = true});
  opt_a.set_lr(0.02);
  const OptimizerState<float> state = opt_a.state();
  CHECK(state.tensors.size() == 3 * a.mlp.parameters().size());
  CHECK(state.tensors[1].first == "0.momentum_buffer");
  opt_b.load_state(state);
  CHECK(opt_b.steps() == 3);
  CHECK(opt_b.lr() == 0.02);
  for (int t = 0; t < 2; ++t) {
    for (Net* n : {&a, &b}) n->backward();
    opt_a.step();
    opt_b.step();
    opt_a.zero_grad();
    opt_b.zero_grad();
  }
  for (std::size_t i = 0; i < a.mlp.parameters().size(); ++i)
    CHECK(a.mlp.parameters()[i]->value == b.mlp.parameters()[i]->value);
}

TEST_CASE("a state that does not fit is refused before anything changes", "[optim]") {
  Net net;
  Adam<float> adam(net.mlp.parameters());
  AdamW<float> adamw(net.mlp.parameters());
  CHECK_THROWS_AS(adam.load_state(adamw.state()), FormatError);
  CHECK_THROWS_WITH(adam.load_state(adamw.state()), Contains("cannot load the state of a AdamW optimizer"));

  OptimizerState<float> s = adam.state();
  s.steps = 9;
  s.tensors.back().first = "9.exp_avg_sq";
  CHECK_THROWS_WITH(adam.load_state(s), Contains("missing 3.exp_avg_sq; unexpected 9.exp_avg_sq"));
  s = adam.state();
  s.steps = 9;
  s.tensors[0].second = Matrix<float>::Zero(2, 2);
  CHECK_THROWS_AS(adam.load_state(s), ShapeError);
  CHECK_THROWS_WITH(adam.load_state(s), Contains("'0.exp_avg' is 2x2 but the parameter is 8x4"));
  CHECK(adam.steps() == 0);
}

TEST_CASE("options outside their domain are refused with a message", "[optim]") {
  Net net;
  const auto p = net.mlp.parameters();
  CHECK_THROWS_AS(Sgd<float>(p, {.nesterov = true}), NumericError);
  CHECK_THROWS_WITH(Sgd<float>(p, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                    Contains("Nesterov momentum needs momentum > 0 and dampening = 0"));
  CHECK_THROWS_WITH(Adam<float>(p, {.beta2 = 1.0}), Contains("Adam: beta2 must be in [0, 1)"));
  CHECK_THROWS_WITH(AdamW<float>(p, {.lr = -1}), Contains("AdamW: learning rate must be finite and >= 0"));
  // An infinite rate is refused where it is given, not found later as NaN parameters.
  CHECK_THROWS_WITH(Adam<float>(p, {.lr = std::numeric_limits<double>::infinity()}),
                    Contains("learning rate must be finite"));
  CHECK_THROWS_AS(ConstantLr(std::numeric_limits<double>::infinity()), NumericError);
  CHECK_THROWS_AS(RmsProp<float>(p, {.alpha = 1.5}), NumericError);
  CHECK_THROWS_AS(clip_grad_norm(p, 0.0), NumericError);
  CHECK_THROWS_AS(StepDecay(0.1, 0), NumericError);
  Parameter<float> broken("broken", 2, 2);
  broken.grad().resize(3, 1);
  CHECK_THROWS_WITH(Adam<float>({&broken}), Contains("parameter 'broken' is 2x2 but its grad is 3x1"));
}

TEST_CASE("schedules hold their last value and compose", "[optim]") {
  const CosineAnnealing cosine(0.1, 10, 0.01);
  CHECK(cosine.lr_at(0) == 0.1);
  CHECK(cosine.lr_at(10) == 0.01);
  CHECK(cosine.lr_at(1000) == 0.01);
  CHECK(cosine.lr_at(5) == Approx(0.055).epsilon(1e-15));
  // Warm-up ramps to the wrapped schedule's first value, then replays it from its start.
  const LinearWarmup warm(4, StepDecay(0.2, 2, 0.5), 0.0);
  CHECK(warm.lr_at(0) == 0.0);
  CHECK(warm.lr_at(2) == Approx(0.1).epsilon(1e-15));
  CHECK(warm.lr_at(4) == 0.2);
  CHECK(warm.lr_at(6) == 0.1);
  // Warm-ups nest, since a warm-up is a schedule too.
  const LinearWarmup twice(2, warm, 0.5);
  CHECK(twice.lr_at(1) == Approx(0.75 * warm.lr_at(0)).margin(1e-15));
  CHECK(twice.lr_at(8) == warm.lr_at(6));
}

TEST_CASE("running averages that decay flush to zero instead of ending subnormal", "[optim]") {
  // One step with a gradient, then 3000 with none: every average decays geometrically towards 0
  // (0.9^3000 of the first gradient is far below float's smallest subnormal).
  const auto check = [](const char* which, auto make) {
    Parameter<float> p("p", 64, 3);
    auto opt = make(std::vector<Parameter<float>*>{&p});
    p.grad().setConstant(1e-3f);
    opt.step();
    p.grad().setZero();
    for (int s = 0; s < 3000; ++s) opt.step();
    long subnormal = 0, nonzero = 0;
    for (const auto& [name, m] : opt.state().tensors)
      for (float x : m.reshaped()) {
        subnormal += std::fpclassify(x) == FP_SUBNORMAL;
        nonzero += x != 0;
      }
    INFO(which << ": " << subnormal << " subnormal and " << nonzero << " non-zero state entries");
    CHECK(subnormal == 0);
    CHECK(nonzero == 0);
    CHECK(p.value.allFinite());
    // The flush keeps NaN: a NaN gradient must still show in the state and the value.
    p.grad()(5, 1) = std::numeric_limits<float>::quiet_NaN();
    opt.step();
    CHECK(std::isnan(p.value(5, 1)));
    CHECK(p.value.array().isNaN().count() == 1);
  };
  check("Adam", [](auto ps) { return Adam<float>(ps, {.beta2 = 0.9}); });
  check("Sgd", [](auto ps) { return Sgd<float>(ps, {.lr = 0.1, .momentum = 0.9}); });
  check("RmsProp", [](auto ps) { return RmsProp<float>(ps, {.alpha = 0.9, .momentum = 0.9, .centered = true}); });
}

TEST_CASE("Adam's fused rule is the formula in every entry, in packets and in the tail", "[optim]") {
  // 37 rows: each column is whole SIMD packets and a shorter rest, which the rule handles apart.
  // The reference is the textbook formula in double; float rounding stays far below the 1e-2
  // step a skipped or misplaced entry would show.
  Rng rng(5);
  for (const double decay : {0.0, 0.1}) {
    for (const bool decoupled : {false, true}) {
      INFO((decoupled ? "AdamW" : "Adam") << ", weight decay " << decay);
      Parameter<float> p("p", 37, 5);
      rng.fill_normal(p.value);
      std::unique_ptr<Optimizer<float>> opt;
      if (decoupled)
        opt = std::make_unique<AdamW<float>>(std::vector{&p}, AdamWOptions{.lr = 1e-2, .weight_decay = decay});
      else
        opt = std::make_unique<Adam<float>>(std::vector{&p}, AdamOptions{.lr = 1e-2, .weight_decay = decay});
      Md theta = p.value.cast<double>(), m = Md::Zero(37, 5), v = Md::Zero(37, 5);
      for (int t = 1; t <= 5; ++t) {
        rng.fill_normal(p.grad());
        Md g = p.grad().cast<double>();
        if (!decoupled)
          g += decay * theta;
        else
          theta *= 1 - 1e-2 * decay;
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g.cwiseAbs2();
        const Md m_hat = m / (1 - std::pow(0.9, t)), v_hat = v / (1 - std::pow(0.999, t));
        theta.array() -= 1e-2 * m_hat.array() / (v_hat.array().sqrt() + 1e-8);
        opt->step();
        INFO("step " << t);
        CHECK((p.value.cast<double>() - theta).cwiseAbs().maxCoeff() < 1e-5);
      }
    }
  }
}
