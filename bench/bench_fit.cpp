// What latent::fit costs over the epoch loop a user would write by hand: the same run (the
// reference VAE 784-400-20, ELBO, Adam, batch 128, 3 epochs of 50 steps on synthetic pixels,
// the divergence guard on, no evaluation, no checkpoint) timed both ways; and the same with a
// tiny VAE, whose cheap steps expose fit's fixed cost per step. Run the two in turns
// so the machine's load hits both alike:
//   bench_fit --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true
// and compare the medians; docs/training.md has the figures.

#include <benchmark/benchmark.h>

#include <latent/latent.hpp>
#include <latent/train.hpp>

namespace {

using latent::Index;
constexpr int epochs = 3;
constexpr Index examples = 6400;

// The reference model at batch 128 (the figure that matters), and a tiny one (12-8-2, batch 16,
// 400 steps an epoch) whose steps are so cheap that fit's fixed cost per step shows.
struct Setup {
  latent::VaeOptions vae;
  Index batch;
};
Setup setup(const benchmark::State& state) {
  if (state.range(1) == 0) return {{}, 128};
  return {{.input = 12, .hidden = {8}, .latent = 2}, 16};
}

latent::Dataset<float> pixels(Index rows) {
  latent::Rng rng(7);
  latent::Dataset<float> d;
  d.features.resize(rows, examples);
  rng.fill_uniform(d.features);
  return d;
}

void BM_HandLoop(benchmark::State& state) {
  latent::set_num_threads(int(state.range(0)));
  const Setup run = setup(state);
  const Index batch = run.batch;
  const auto data = pixels(run.vae.input);
  double sink = 0;
  for (auto _ : state) {
    latent::Rng rng(1);
    auto vae = latent::Vae<float>::mlp(run.vae, rng);
    latent::Adam<float> opt(vae.parameters(), {.lr = 1e-3});
    latent::DivergenceGuard guard({.lr = 1e-3});
    latent::Batcher<float> batches(data, {.batch_size = batch});
    latent::Tape<float> tape;
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      batches.start_epoch(rng);
      double loss_sum = 0;
      while (batches.next()) {
        tape.clear();
        opt.zero_grad();
        const auto loss = vae.elbo(tape, tape.constant(batches.features()), rng).total;
        guard.check(loss.item());
        tape.backward(loss);
        opt.step();
        loss_sum += loss.item() * double(batches.features().cols());
      }
      sink += loss_sum / double(examples);
    }
  }
  benchmark::DoNotOptimize(sink);
  state.counters["s/epoch"] =
      benchmark::Counter(double(epochs), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  latent::set_num_threads(1);
}

void BM_Fit(benchmark::State& state) {
  latent::set_num_threads(int(state.range(0)));
  const Setup run = setup(state);
  const Index batch = run.batch;
  const auto data = pixels(run.vae.input);
  double sink = 0;
  for (auto _ : state) {
    latent::Rng rng(1);
    auto vae = latent::Vae<float>::mlp(run.vae, rng);
    latent::Adam<float> opt(vae.parameters(), {.lr = 1e-3});
    const latent::History h =
        latent::fit(vae, opt, data, latent::FitOptions<float>{.epochs = epochs, .batch_size = batch, .rng = &rng});
    sink += h.epochs.back().train.total;
  }
  benchmark::DoNotOptimize(sink);
  state.counters["s/epoch"] =
      benchmark::Counter(double(epochs), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  latent::set_num_threads(1);
}

}  // namespace

// Arguments: threads, model (0: reference, 1: tiny).
BENCHMARK(BM_HandLoop)->ArgsProduct({{1, 2}, {0, 1}})->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Fit)->ArgsProduct({{1, 2}, {0, 1}})->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
