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

#include <latent/distributed.hpp>
#include <latent/latent.hpp>
#include <latent/train.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

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

}  // namespace

int main(int argc, char** argv) {
  latent::set_num_threads(1);
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
