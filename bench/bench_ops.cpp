// Single ops and layers on the tape at the shapes of the reference VAE (forward + backward),
// against the same computation in plain Eigen, in one binary.

#include <benchmark/benchmark.h>

#include <latent/latent.hpp>

namespace {

using latent::Index;
using M = Eigen::MatrixXf;

// A Linear 784 -> 400 layer, forward and backward through the tape.
void BM_LinearTape(benchmark::State& state) {
  const Index batch = state.range(0);
  latent::Rng rng(1);
  latent::Linear<float> layer(784, 400, rng);
  M x(784, batch);
  rng.fill_uniform(x);
  latent::Tape<float> tape;
  for (auto _ : state) {
    tape.clear();
    tape.backward(latent::sum(latent::relu(layer.forward(tape, tape.variable(x)))));
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(6.0 * 784 * 400 * double(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The same layer written by hand with Eigen: y = relu(W x + b), dW = G x^T, db = G 1, dx = W^T G.
void BM_LinearEigen(benchmark::State& state) {
  const Index batch = state.range(0);
  latent::Rng rng(1);
  M w(400, 784), gw(400, 784), x(784, batch), gx(784, batch), y(400, batch), g(400, batch);
  Eigen::VectorXf b = Eigen::VectorXf::Zero(400), gb(400);
  rng.fill_uniform(w, -0.05, 0.05);
  rng.fill_uniform(x);
  for (auto _ : state) {
    y.noalias() = w * x;
    y.colwise() += b;
    g = (y.array() > 0).cast<float>().matrix();
    gw.noalias() = g * x.transpose();
    gb = g.rowwise().sum();
    gx.noalias() = w.transpose() * g;
    benchmark::DoNotOptimize(gx.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(6.0 * 784 * 400 * double(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// BCE from logits over a 784 x batch output, forward and backward.
void BM_BceWithLogits(benchmark::State& state) {
  const Index batch = state.range(0);
  latent::Rng rng(1);
  M z(784, batch), x(784, batch);
  rng.fill_uniform(z, -4, 4);
  rng.fill_uniform(x);
  latent::Tape<float> tape;
  for (auto _ : state) {
    tape.clear();
    tape.backward(latent::losses::bce_with_logits(tape.variable(z), tape.constant(x)));
  }
  state.SetItemsProcessed(state.iterations() * 784 * batch);
}

// The GEMMs of one reference VAE layer at batch 128, forward and both backward products:
// Eigen's own product against latent's (per-thread packing buffers, deterministic slabs).
// Arguments: which product (0: W x, 1: G x^T, 2: W^T G), threads.
template <bool Latent>
void BM_Gemm(benchmark::State& state) {
  latent::set_num_threads(int(state.range(1)));
  latent::Rng rng(1);
  M w(400, 784), x(784, 128), g(400, 128), out;
  rng.fill_uniform(w);
  rng.fill_uniform(x);
  rng.fill_uniform(g);
  const auto op = [](const M& m) {
    return latent::detail::gemm_operand(Eigen::Map<const M>(m.data(), m.rows(), m.cols()));
  };
  for (auto _ : state) {
    switch (state.range(0)) {
      case 0:
        out.resize(400, 128);
        if constexpr (Latent)
          latent::detail::gemm(op(w), op(x), out.data(), false);
        else
          out.noalias() = w * x;
        break;
      case 1:
        out.resize(400, 784);
        if constexpr (Latent)
          latent::detail::gemm(op(g), {x.data(), 784, 128, true}, out.data(), false);
        else
          out.noalias() = g * x.transpose();
        break;
      default:
        out.resize(784, 128);
        if constexpr (Latent)
          latent::detail::gemm({w.data(), 400, 784, true}, op(g), out.data(), false);
        else
          out.noalias() = w.transpose() * g;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * 400 * 784 * 128 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  latent::set_num_threads(1);
}

void batches(benchmark::internal::Benchmark* b) {
  b->ArgName("batch")->Arg(1)->Arg(32)->Arg(128)->Arg(256)->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_LinearTape)->Apply(batches);
BENCHMARK(BM_LinearEigen)->Apply(batches);
BENCHMARK(BM_BceWithLogits)->Apply(batches);
BENCHMARK(BM_Gemm<false>)->ArgNames({"op", "threads"})->ArgsProduct({{0, 1, 2}, {1, 2}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Gemm<true>)->ArgNames({"op", "threads"})->ArgsProduct({{0, 1, 2}, {1, 2}})->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
