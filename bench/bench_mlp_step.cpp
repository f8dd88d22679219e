// One training step (forward + backward) of the MLP 784-400-20-400-784 through the tape, and the
// same network with hand-written Eigen forward and backward as the baseline, in one binary.
// Target (issue 3): tape / hand-written <= 1.05 at batch 128 and <= 1.25 at batch 1.

#include <benchmark/benchmark.h>

#include <latent/distributions/likelihood.hpp>

#include "mlp_fixture.hpp"

using namespace latent_bench;

static void BM_MlpStep_Tape(benchmark::State& state) {
  const Eigen::Index batch = state.range(0);
  latent::set_num_threads(int(state.range(1)));
  MlpParams p(batch);
  latent::Tape<float> tape;
  for (auto _ : state) {
    p.zero_grad();
    tape.clear();
    auto h = tape.constant(p.x);
    for (std::size_t l = 0; l < 4; ++l) {
      h = linear(tape.parameter(p.w[l], p.gw[l]), h, tape.parameter(p.b[l], p.gb[l]));
      if (l < 3) h = relu(h);
    }
    const auto loss = latent::mean(latent::Bernoulli<float>::nll(h, tape.constant(p.x)));
    tape.backward(loss);
    benchmark::DoNotOptimize(p.gw[0].data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(step_flops(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The baseline a careful Eigen user would write: preallocated buffers, noalias GEMMs, fused
// elementwise expressions, nothing recorded.
static void BM_MlpStep_Eigen(benchmark::State& state) {
  const Eigen::Index batch = state.range(0);
  latent::set_num_threads(int(state.range(1)));  // also Eigen's own GEMM threads
  MlpParams p(batch);
  std::array<M, 4> a;      // pre-activations, out x batch
  std::array<M, 4> h;      // activations (h[3] unused: the output stays logits)
  std::array<M, 4> delta;  // d loss / d pre-activation
  for (std::size_t l = 0; l < 4; ++l) {
    a[l].resize(sizes[l + 1], batch);
    h[l].resize(sizes[l + 1], batch);
    delta[l].resize(sizes[l + 1], batch);
  }
  M back(sizes[1], batch);
  for (auto _ : state) {
    p.zero_grad();
    for (std::size_t l = 0; l < 4; ++l) {
      const M& in = l == 0 ? p.x : h[l - 1];
      a[l].colwise() = p.b[l].col(0);
      a[l].noalias() += p.w[l] * in;
      if (l < 3) h[l] = a[l].cwiseMax(0.0f);
    }
    const auto z = a[3].array();
    const float loss = (z.max(0.0f) - z * p.x.array() + (-z.abs()).exp().log1p()).sum() / float(batch);
    benchmark::DoNotOptimize(loss);
    delta[3] = (((1 + (-z).exp()).inverse() - p.x.array()) / float(batch)).matrix();
    for (std::size_t l = 4; l-- > 0;) {
      const M& in = l == 0 ? p.x : h[l - 1];
      p.gw[l].noalias() += delta[l] * in.transpose();
      p.gb[l] += delta[l].rowwise().sum();
      if (l == 0) break;
      auto d = back.topRows(sizes[l]);
      d.noalias() = p.w[l].transpose() * delta[l];
      delta[l - 1] = (a[l - 1].array() > 0).select(d, 0.0f);
    }
    benchmark::DoNotOptimize(p.gw[0].data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(step_flops(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Arguments: batch, threads.
static void batches_and_threads(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"})->ArgsProduct({{1, 32, 128, 256}, {1, 2}})->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_MlpStep_Tape)->Apply(batches_and_threads);
BENCHMARK(BM_MlpStep_Eigen)->Apply(batches_and_threads);
BENCHMARK_MAIN();
