// A backward pass and an optimizer step large enough to be split over 2 threads (passes split
// at 2 x parallel_grain entries), compared with 1 thread. docs/concepts.md "Threads":
// results are reproducible for a given thread count and may differ in the last bits between
// counts (GEMM slabs change the summation order). The optimizer's rules are entrywise, so its
// step must be bit-identical on 1 and 2 threads; a share that skips or repeats columns shows.
// (Threads are latent's own pool, not OpenMP, so "2 threads" is never silently 1; the kernels'
// own 1-vs-2 comparisons live in tests/kernels.)

#include <latent/latent.hpp>
#include <latent/optim.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace latent;
using Mf = Eigen::MatrixXf;

namespace {

// Restores 1 thread however the test case ends.
struct Threads {
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(1); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;
};

constexpr Index features = 300, hidden = 256, batch = 300;
static_assert(features * batch > 2 * detail::parallel_grain && hidden * batch > 2 * detail::parallel_grain &&
              hidden * features > 2 * detail::parallel_grain);

struct Net {
  Parameter<float> w1{"w1", hidden, features}, b1{"b1", hidden, 1}, w2{"w2", features, 2 * hidden},
      b2{"b2", features, 1};
  Mf x, target;

  explicit Net(std::uint64_t seed) {
    Rng rng(seed);
    for (Parameter<float>* p : params()) {
      rng.fill_normal(p->value);
      p->value *= 0.1f;
    }
    x.resize(features, batch);
    rng.fill_normal(x);
    target.resize(features, batch);
    for (Index i = 0; i < target.size(); ++i) target(i) = rng.uniform(0.0, 1.0) < 0.5 ? 0.0f : 1.0f;
  }
  std::vector<Parameter<float>*> params() { return {&w1, &b1, &w2, &b2}; }

  // Every op family on the big matrices: products, bias, elementwise activations, stacked rows,
  // a fused loss.
  void backward() {
    for (Parameter<float>* p : params()) p->zero_grad();
    Tape<float> t;
    const auto h = elu(linear(w1.on(t), t.constant(x), b1.on(t)), 0.7f);
    const auto y = linear(w2.on(t), concat_rows(tanh(h), square(h)), b2.on(t));
    t.backward(mean(Bernoulli<float>::nll(y, t.constant(target))));
  }
  std::vector<Mf> grads() {
    std::vector<Mf> g;
    for (Parameter<float>* p : params()) g.push_back(p->grad());
    return g;
  }
  std::vector<Mf> values() {
    std::vector<Mf> v;
    for (Parameter<float>* p : params()) v.push_back(p->value);
    return v;
  }
};

std::vector<Mf> gradients_on(int threads) {
  Threads on(threads);
  Net net(5);
  net.backward();
  return net.grads();
}

// Three Adam steps from the same gradients (fixed, so only the step itself differs).
std::vector<Mf> adam_on(int threads) {
  Net net(6);
  net.backward();
  const std::vector<Mf> g = net.grads();
  Threads on(threads);
  Adam<float> opt(net.params(), {.lr = 0.01});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    for (std::size_t i = 0; i < g.size(); ++i) net.params()[i]->grad() = g[i] * float(step + 1);
    opt.step();
  }
  return net.values();
}

}  // namespace

TEST_CASE("a backward pass split over 2 threads gives 1 thread's gradients, and the same ones every time",
          "[threads]") {
  const auto one = gradients_on(1), two = gradients_on(2), again = gradients_on(2);
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("parameter " << i);
    const float scale = one[i].cwiseAbs().maxCoeff();
    REQUIRE(scale > 0);
    CHECK((one[i] - two[i]).cwiseAbs().maxCoeff() <= 1e-5f * scale);
    CHECK((two[i].array() == again[i].array()).all());  // reproducible for a given thread count
  }
}

TEST_CASE("an optimizer step split over 2 threads is bit-identical to 1 thread", "[threads][optim]") {
  const auto one = adam_on(1), two = adam_on(2);
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("parameter " << i << ": " << (one[i].array() != two[i].array()).count() << " entries differ");
    CHECK((one[i].array() == two[i].array()).all());
  }
}
