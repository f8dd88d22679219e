// VAE and autoencoder training steps (forward, backward, Adam) of the reference model
// 784-400-20 at batch 1, 32, 128, 256 in float and double, and batch-1 encoding latency.
// GFLOP/s counts the GEMM flops of the step.

#include <benchmark/benchmark.h>

#include <latent/latent.hpp>

namespace {

using latent::Index;

// GEMM flops of one VAE step: encoder 784->400->40 (mu and logvar heads in one GEMM), decoder
// 20->400->784; forward 2 m k per column and layer, backward twice that, minus the input's
// gradient of the first layer, which is never formed.
double vae_step_flops(Index batch) {
  const double layers[][2] = {{784, 400}, {400, 40}, {20, 400}, {400, 784}};
  double per_column = 0;
  for (const auto& l : layers) per_column += 2 * l[0] * l[1];
  return double(batch) * (3 * per_column - 2 * 784 * 400);
}

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
  latent::Vae<S> vae({}, rng);
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
  state.counters["GFLOP/s"] = benchmark::Counter(vae_step_flops(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
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

void BM_VaeEncodeOne(benchmark::State& state) {
  latent::set_num_threads(int(state.range(0)));
  latent::Rng rng(1);
  latent::Vae<float> vae({}, rng);
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
BENCHMARK(BM_AutoencoderStep<float>)->Apply(batches_and_threads);
BENCHMARK(BM_AutoencoderStep<double>)->Apply(batches_and_threads);
BENCHMARK(BM_VaeEncodeOne)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
