// The program tests/distributed/test_distributed.cpp runs under `mpirun -np N` (or alone): a VAE
// (784-200-10, Bernoulli) trained by `fit` on the first --examples Fashion-MNIST training
// images, validated on 500 test images, one thread per process. Rank 0 prints every epoch's
// losses as hex floats and writes the final parameters (raw doubles) to --params.
//   --scalar float|double  --comm mpi|local|none  --epochs N  --batch B  --examples N
//   [--params FILE] [--checkpoint FILE [--checkpoint-per-rank]] [--resume]
//   [--mismatch]                  rank 1 builds a hidden layer of 201 units
//   [--dropout P]                 Dropout(P) after each hidden layer (same parameters)
//   [--throw-rank R --throw-at-step K]  rank R throws after step K
//   [--pid-dir DIR]               each rank writes DIR/rank<r>.pid when training begins
// Exits 77 when the Fashion-MNIST files are not installed.
// --sums instead checks `MpiCommunicator::sum` on its shared memory (see `sums`), no training.

#include <latent/distributed.hpp>
#include <latent/latent.hpp>
#include <latent/train.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

std::string text(int argc, char** argv, const char* name, const std::string& fallback = "") {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}
long number(int argc, char** argv, const char* name, long fallback) {
  const std::string t = text(argc, argv, name);
  return t.empty() ? fallback : std::atol(t.c_str());
}
bool has(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

latent::Uint8Dataset first(const latent::Uint8Dataset& d, latent::Index n) {
  latent::Uint8Dataset out;
  out.features = d.features.leftCols(n);
  out.labels.assign(d.labels.begin(), d.labels.begin() + n);
  return out;
}

// The 784-hidden-10 VAE; with dropout > 0, Dropout after the hidden layer of each network.
template <class S>
latent::Vae<S> make_vae(latent::Index hidden, double dropout, latent::Rng& rng) {
  if (dropout <= 0) return latent::Vae<S>::mlp({.input = 784, .hidden = {hidden}, .latent = 10}, rng);
  latent::Sequential<S> trunk;
  trunk.template emplace<latent::Linear<S>>(784, hidden, rng);
  trunk.template emplace<latent::ReLU<S>>();
  trunk.template emplace<latent::Dropout<S>>(dropout, rng.split(1));
  latent::GaussianEncoder<S> encoder(std::move(trunk), {.input = hidden, .latent = 10}, rng);
  latent::Sequential<S> network;
  network.template emplace<latent::Linear<S>>(10, hidden, rng);
  network.template emplace<latent::ReLU<S>>();
  network.template emplace<latent::Dropout<S>>(dropout, rng.split(2));
  network.template emplace<latent::Linear<S>>(hidden, 784, rng);
  return latent::Vae<S>(std::move(encoder), latent::Decoder<S>(std::move(network), {}), 784);
}

template <class S>
int train(int argc, char** argv, latent::Communicator* comm) {
  const int rank = comm ? comm->rank() : 0;
  latent::Uint8Dataset all_train, all_test;
  try {
    all_train = latent::fashion_mnist(latent::Split::train);
    all_test = latent::fashion_mnist(latent::Split::test);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "no Fashion-MNIST: %s\n", e.what());
    return 77;
  }
  const auto train_set = first(all_train, number(argc, argv, "--examples", 2600));
  const auto validation = first(all_test, 500);

  // Every rank seeds differently: fit must copy rank 0's parameters and Rng position.
  latent::Rng rng(7 + 1000 * std::uint64_t(rank));
  const latent::Index hidden = has(argc, argv, "--mismatch") && rank == 1 ? 201 : 200;
  const double dropout = std::atof(text(argc, argv, "--dropout", "0").c_str());
  auto vae = make_vae<S>(hidden, dropout, rng);
  latent::Adam<S> adam(vae.parameters(), {.lr = 1e-3});

  latent::FitOptions<S> options{.epochs = int(number(argc, argv, "--epochs", 3)),
                                .batch_size = number(argc, argv, "--batch", 128),
                                .eval_batch_size = 200,
                                .rng = &rng};
  options.communicator = comm;
  const std::string checkpoint = text(argc, argv, "--checkpoint");
  if (!checkpoint.empty()) {
    options.checkpoint = checkpoint;
    if (has(argc, argv, "--checkpoint-per-rank")) options.checkpoint += ".rank" + std::to_string(rank);
    if (has(argc, argv, "--resume")) options.resume_from = checkpoint;
  }
  const long throw_rank = number(argc, argv, "--throw-rank", -1), throw_at = number(argc, argv, "--throw-at-step", -1);
  const std::string pid_dir = text(argc, argv, "--pid-dir");
  latent::Callback<S> script;
  script.on_train_begin = [&](latent::FitState<S>&) {
    if (pid_dir.empty()) return;
    std::ofstream(pid_dir + "/rank" + std::to_string(rank) + ".pid.tmp") << ::getpid() << "\n";
    std::rename((pid_dir + "/rank" + std::to_string(rank) + ".pid.tmp").c_str(),
                (pid_dir + "/rank" + std::to_string(rank) + ".pid").c_str());
  };
  script.on_step_end = [&](latent::FitState<S>& s) {
    if (rank == throw_rank && s.step == throw_at)
      throw std::runtime_error("planted failure at step " + std::to_string(throw_at));
  };
  script.on_epoch_end = [&](latent::FitState<S>& s) {
    if (rank != 0) return;
    const latent::EpochRecord& e = s.history.epochs.back();
    std::printf("epoch %d train %a val %a\n", e.epoch, e.train.total, e.validation->total);
    std::fflush(stdout);
  };
  options.callbacks = {script};

  const latent::History h = latent::fit(vae, adam, train_set, validation, options);
  if (rank == 0) {
    std::printf("done %s steps %ld\n", latent::to_string(h.stop_reason), long(h.steps));
    const std::string params = text(argc, argv, "--params");
    if (!params.empty()) {
      std::ofstream out(params, std::ios::binary);
      for (latent::Parameter<S>* p : vae.parameters())
        for (latent::Index i = 0; i < p->size(); ++i) {
          const double v = double(p->value.data()[i]);
          out.write(reinterpret_cast<const char*>(&v), sizeof v);
        }
    }
  }
  return 0;
}

// Entry i of rank r's buffer: a value whose sum over ranks depends on the order of the adds.
template <class T>
T entry(int r, std::size_t i) {
  return T(1) / T(3 + 7 * r + int(i % 101)) + T(r % 2 == 0 ? 1e3 : -1e3) * T(i % 5);
}

// Sums of buffers of several sizes (empty, smaller than the rank count, not a multiple of it,
// growing so the shared memory is replaced) in `sum_memory`'s memory and in memory of its own:
// the shared sum must be exactly the rank-order sum on every rank (and the same bits as
// MPI_Allreduce's for 2 ranks), and MPI_Allreduce's within rounding of it. Where `sum_memory`
// gives none (a full /dev/shm), its stand-in is a vector, summed by MPI_Allreduce. Counts in
// `shared_sums` the sizes that had shared memory.
template <class T>
std::string sums(latent::MpiCommunicator& world, int& shared_sums) {
  const int r = world.rank(), n_ranks = world.size();
  for (const std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(1000), std::size_t(100003)}) {
    std::vector<T> stand_in(n);
    std::span<T> shared = world.sum_memory<T>(n);
    if (shared.data() != nullptr)
      ++shared_sums;
    else
      shared = stand_in;
    std::vector<T> own(n);
    for (std::size_t i = 0; i < n; ++i) shared[i] = own[i] = entry<T>(r, i);
    world.sum(shared);
    world.sum(std::span<T>(own));
    for (std::size_t i = 0; i < n; ++i) {
      T in_order = entry<T>(0, i);
      for (int q = 1; q < n_ranks; ++q) in_order += entry<T>(q, i);
      const auto failed = [&](const char* what) {
        return "rank " + std::to_string(r) + ", " + std::to_string(n) + " elements, entry " + std::to_string(i) +
               ": " + what;
      };
      if (shared[i] != in_order) return failed("the shared sum is not the rank-order sum");
      if (n_ranks == 2 && own[i] != shared[i]) return failed("MPI_Allreduce and the shared sum differ for 2 ranks");
      if (std::abs(double(own[i] - in_order)) > 1e-4 * std::abs(double(in_order)) + 1e-6)
        return failed("MPI_Allreduce is not the sum");
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  latent::set_num_threads(1);
  if (has(argc, argv, "--sums")) {
    latent::MpiCommunicator world;
    int shared_sums = 0;
    std::string failure = sums<float>(world, shared_sums);
    if (failure.empty()) failure = sums<double>(world, shared_sums);
    if (!failure.empty()) {
      std::fprintf(stderr, "driver: %s\n", failure.c_str());
      return 1;
    }
    if (world.rank() == 0)
      std::printf("sums ok on %d ranks, %d of 8 in shared memory; route now: %s\n", world.size(), shared_sums,
                  world.sum_route().c_str());
    return 0;
  }
  const std::string how = text(argc, argv, "--comm", "mpi");
  std::unique_ptr<latent::Communicator> comm;
  if (how == "mpi")
    comm = std::make_unique<latent::MpiCommunicator>();
  else if (how == "local")
    comm = std::make_unique<latent::LocalCommunicator>();
  try {
    return text(argc, argv, "--scalar", "float") == "double" ? train<double>(argc, argv, comm.get())
                                                             : train<float>(argc, argv, comm.get());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "driver: %s\n", e.what());
    return 1;
  }
}
