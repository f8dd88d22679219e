// What latent::fit costs over the epoch loop a user would write by hand: the same run (the
// reference VAE 784-400-20, ELBO, Adam, batch 128, 3 epochs of 50 steps on synthetic pixels,
// the divergence guard on, no evaluation, no checkpoint) timed both ways. Run the two in turns
// so the machine's load hits both alike:
//   bench_fit --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true
// and compare the medians; docs/training.md has the figures.

#include <benchmark/benchmark.h>

#include <latent/latent.hpp>
#include <latent/train.hpp>

namespace {

using latent::Index;
constexpr int epochs = 3;
constexpr Index examples = 6400, batch = 128;

latent::Dataset<float> pixels() {
  latent::Rng rng(7);
  latent::Dataset<float> d;
  d.features.resize(784, examples);
  rng.fill_uniform(d.features);
  return d;
}

void BM_HandLoop(benchmark::State& state) {
  latent::set_num_threads(int(state.range(0)));
  const auto data = pixels();
  double sink = 0;
  for (auto _ : state) {
    latent::Rng rng(1);
    auto vae = latent::Vae<float>::mlp({}, rng);
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
  const auto data = pixels();
  double sink = 0;
  for (auto _ : state) {
    latent::Rng rng(1);
    auto vae = latent::Vae<float>::mlp({}, rng);
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

BENCHMARK(BM_HandLoop)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Fit)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
