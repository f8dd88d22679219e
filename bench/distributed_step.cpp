// Data-parallel fit of the reference VAE (784-400-20, Bernoulli, Adam 1e-3) on Fashion-MNIST,
// timed from inside: run it alone and under `mpirun -np N` and compare. Prints, on rank 0, the
// training seconds of each epoch (no evaluation), the seconds spent in the per-step gradient
// sum (`Communicator::sum`, waiting for the slowest rank included) and its share, and the time
// of one bare sum of the 2.6 MB gradient buffer, in memory of its own and in the communicator's.
//   distributed_step [--epochs 2] [--batch 256] [--threads 1] [--examples 60000] [--plain 1]
// --plain 1 (alone only): fit without a communicator, the baseline.
// (docs/distributed.md has the measured numbers.)

#include <latent/distributed.hpp>
#include <latent/latent.hpp>
#include <latent/train.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

long number(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return fallback;
}

using Clock = std::chrono::steady_clock;

// Forwards to another communicator and adds up the time its sums take.
class TimedCommunicator final : public latent::Communicator {
 public:
  explicit TimedCommunicator(latent::Communicator& inner) : inner_(inner) {}
  [[nodiscard]] int rank() const override { return inner_.rank(); }
  [[nodiscard]] int size() const override { return inner_.size(); }
  void sum(std::span<float> d) override {
    timed([&] { inner_.sum(d); });
  }
  void sum(std::span<double> d) override {
    timed([&] { inner_.sum(d); });
  }
  void broadcast(std::span<std::byte> b, int root) override { inner_.broadcast(b, root); }
  [[nodiscard]] std::span<std::byte> sum_bytes(std::size_t bytes) override { return inner_.sum_bytes(bytes); }
  [[noreturn]] void abort(const std::string& m) override {
    inner_.abort(m);
    std::abort();  // not reached
  }
  double seconds = 0;

 private:
  template <class F>
  void timed(F&& f) {
    const auto t0 = Clock::now();
    f();
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  latent::Communicator& inner_;
};

}  // namespace

int main(int argc, char** argv) {
  const int threads = int(number(argc, argv, "--threads", 1));
  latent::set_num_threads(threads);
  std::unique_ptr<latent::Communicator> world;
  if (latent::MpiCommunicator::launched_by_mpi())
    world = std::make_unique<latent::MpiCommunicator>();
  else
    world = std::make_unique<latent::LocalCommunicator>();
  TimedCommunicator comm(*world);
  const bool lead = comm.rank() == 0;

  auto all = latent::fashion_mnist(latent::Split::train);
  const latent::Index n = std::min<latent::Index>(number(argc, argv, "--examples", 60000), all.size());
  all.features.conservativeResize(Eigen::NoChange, n);
  all.labels.resize(std::size_t(n));
  latent::Rng rng(1);
  auto vae = latent::Vae<float>::mlp({.input = 784, .hidden = {400}, .latent = 20}, rng);
  latent::Adam<float> adam(vae.parameters(), {.lr = 1e-3});
  latent::FitOptions<float> options{
      .epochs = int(number(argc, argv, "--epochs", 2)), .batch_size = number(argc, argv, "--batch", 256), .rng = &rng};
  if (number(argc, argv, "--plain", 0) == 0 || comm.size() > 1) options.communicator = &comm;
  double sum_before = 0;
  latent::Callback<float> report;
  report.on_epoch_begin = [&](latent::FitState<float>&) { sum_before = comm.seconds; };
  report.on_epoch_end = [&](latent::FitState<float>& s) {
    const latent::EpochRecord& e = s.history.epochs.back();
    const double in_sum = comm.seconds - sum_before;
    // Each rank's time in the sum: the rank that waits least is the slowest to arrive.
    std::vector<double> each(std::size_t(comm.size()), 0.0);
    each[std::size_t(comm.rank())] = in_sum;
    world->sum(each);
    std::string per_rank;
    for (const double t : each) {
      char one[32];
      std::snprintf(one, sizeof one, "%s%.3f", per_rank.empty() ? "" : ",", t);
      per_rank += one;
    }
    if (lead)
      std::printf(
          "ranks=%d threads=%d batch=%ld epoch=%d steps=%ld train_seconds=%.3f sum_seconds=%.3f "
          "sum_share=%.3f each_rank_sum_seconds=%s loss=%.3f\n",
          comm.size(), threads, long(options.batch_size), e.epoch, long(s.batches), e.seconds, in_sum,
          in_sum / e.seconds, per_rank.c_str(), e.train.total);
  };
  options.callbacks = {report};
  latent::fit(vae, adam, all, options);

  // One bare sum of a gradient-sized buffer (after a warm-up), median of 20: in memory of our
  // own (MPI_Allreduce) and in the communicator's `sum_memory` (shared, when it has some).
  std::vector<float> own(std::size_t(vae.num_parameters()), 1.0f);
  const std::span<float> shared = world->sum_memory<float>(own.size());
  for (const auto& [name, buffer] : {std::pair{"own", std::span<float>(own)}, std::pair{"shared", shared}}) {
    if (buffer.empty()) continue;
    std::vector<double> times;
    for (int i = 0; i < 23; ++i) {
      const auto t0 = Clock::now();
      world->sum(buffer);
      if (i >= 3) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    if (lead)
      std::printf("bare_sum memory=%s bytes=%zu median_ms=%.3f min_ms=%.3f max_ms=%.3f\n", name, buffer.size_bytes(),
                  1e3 * times[times.size() / 2], 1e3 * times.front(), 1e3 * times.back());
  }
  return 0;
}
