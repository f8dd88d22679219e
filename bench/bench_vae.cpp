// VAE and autoencoder training steps (forward, backward, Adam) of the reference model
// 784-400-20 at batch 1, 32, 128, 256 in float and double, the same step's products alone in
// Eigen's GEMM (its floor), and batch-1 encoding latency. GFLOP/s counts the GEMM flops of the step.

#include <benchmark/benchmark.h>

#include <latent/latent.hpp>

#include "vae_gemms.hpp"

namespace {

using latent::Index;
using latent_bench::vae_step_flops;

template <class S>
latent::Matrix<S> pixels(Index batch, latent::Rng& rng) {
  latent::Matrix<S> x(784, batch);
  rng.fill_uniform(x);
  return x;
}

template <class S>
void BM_VaeStep(benchmark::State& state) {
  const Index batch = state.range(0);
  latent::set_num_threads(int(state.range(1)));
  latent::Rng rng(1);
  auto vae = latent::Vae<S>::mlp({}, rng);
  latent::Adam<S> opt(vae.parameters(), {.lr = 1e-3});
  const latent::Matrix<S> x = pixels<S>(batch, rng);
  latent::Tape<S> tape;
  for (auto _ : state) {
    tape.clear();
    opt.zero_grad();
    const auto elbo = vae.elbo(tape, tape.constant(x), rng);
    tape.backward(elbo.total);
    opt.step();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(vae_step_flops(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  latent::set_num_threads(1);
}

template <class S>
void BM_AutoencoderStep(benchmark::State& state) {
  const Index batch = state.range(0);
  latent::set_num_threads(int(state.range(1)));
  latent::Rng rng(1);
  latent::Mlp<S> encoder({.sizes = {784, 400, 20}}, rng), decoder({.sizes = {20, 400, 784}}, rng);
  auto params = encoder.parameters();
  for (auto* p : decoder.parameters()) params.push_back(p);
  latent::Adam<S> opt(params, {.lr = 1e-3});
  const latent::Matrix<S> x = pixels<S>(batch, rng);
  latent::Tape<S> tape;
  for (auto _ : state) {
    tape.clear();
    opt.zero_grad();
    const auto in = tape.constant(x);
    tape.backward(latent::losses::bce_with_logits(decoder.forward(tape, encoder.forward(tape, in)), in));
    opt.step();
  }
  latent::set_num_threads(1);
}

// The same step's products alone, in Eigen's own GEMM: the floor BM_VaeStep is measured against.
template <class S>
void BM_VaeStepGemms(benchmark::State& state) {
  const Index batch = state.range(0);
  latent::set_num_threads(int(state.range(1)));
  latent_bench::VaeGemms<S> gemms(batch);
  for (auto _ : state) gemms.step(batch);
  state.counters["GFLOP/s"] =
      benchmark::Counter(vae_step_flops(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  latent::set_num_threads(1);
}

void BM_VaeEncodeOne(benchmark::State& state) {
  latent::set_num_threads(int(state.range(0)));
  latent::Rng rng(1);
  auto vae = latent::Vae<float>::mlp({}, rng);
  const latent::Matrix<float> x = pixels<float>(1, rng);
  for (auto _ : state) benchmark::DoNotOptimize(vae.encode(x).first.data());
  latent::set_num_threads(1);
}

void batches_and_threads(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"})->ArgsProduct({{1, 32, 128, 256}, {1, 2}})->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_VaeStep<float>)->Apply(batches_and_threads);
BENCHMARK(BM_VaeStep<double>)->Apply(batches_and_threads);
BENCHMARK(BM_VaeStepGemms<float>)->Apply(batches_and_threads);
BENCHMARK(BM_VaeStepGemms<double>)->Apply(batches_and_threads);
BENCHMARK(BM_AutoencoderStep<float>)->Apply(batches_and_threads);
BENCHMARK(BM_AutoencoderStep<double>)->Apply(batches_and_threads);
BENCHMARK(BM_VaeEncodeOne)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
