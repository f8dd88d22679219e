// Trains the classic VAE of the lecture on Fashion-MNIST and shows what it learned.
//
// --arch conv trains the convolutional VAE instead (latent::conv_vae: Conv2d 1->32->64, k4 s2 p1,
// a Linear head to 2 x 20; the decoder mirrors it with transposed convs), by the same protocol.
//
// Defaults are the reference model: 784-400-20 encoder, 20-400-784 decoder, ReLU, Bernoulli
// decoder from logits on pixel intensities in [0, 1], one Monte Carlo sample, Adam lr 1e-3,
// batch 128, 10 epochs, seed 1. Prints one line per epoch, then the importance-weighted bound
// on the first test images, and writes PNGs and the test set's latent means (latents.npy) into --out.
//
// Started by mpirun (and built with MPI), it trains data-parallel: each of the N processes takes
// its slice of every batch of --batch examples, with --threads defaulting to the cores per
// process; rank 0 prints, checkpoints and draws (docs/distributed.md).

#include <latent/io.hpp>
#include <latent/io/npy.hpp>
#include <latent/latent.hpp>
#include <latent/optim.hpp>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <thread>

#include "common/flags.hpp"
#include "common/training.hpp"

#ifdef LATENT_EXAMPLE_MPI
#include <latent/distributed.hpp>
#endif

namespace {

using latent::Index;
using M = latent::Matrix<float>;

struct Config {
  int epochs, batch, latent, samples, eval_k, eval_images, threads;
  std::vector<long> hidden;
  double lr, beta, warmup, free_bits;
  bool iwae_train, cvae;
  std::uint64_t seed;
  std::string data, out, likelihood, arch;
  examples::TrainingFlags training;
};

// Processes of this job on this machine (1 when not started by mpirun).
int processes_here(const latent::Communicator* comm) {
#ifdef LATENT_EXAMPLE_MPI
  if (comm != nullptr) return static_cast<const latent::MpiCommunicator*>(comm)->local_size();
#endif
  (void)comm;
  return 1;
}

// How the processes of this job add up their gradients (see `MpiCommunicator::sum_route`).
std::string sum_route(const latent::Communicator* comm) {
#ifdef LATENT_EXAMPLE_MPI
  if (comm != nullptr) return static_cast<const latent::MpiCommunicator*>(comm)->sum_route();
#endif
  (void)comm;
  return "this process alone";
}

Config parse(int argc, char** argv, const latent::Communicator* comm) {
  examples::Flags f(argc, argv, "Train a variational autoencoder on Fashion-MNIST.");
  Config c{};
  c.epochs = f.at_least("epochs", 10, 1, "passes over the 60000 training images");
  c.batch = f.at_least("batch", 128, 1, "examples per Adam step");
  c.arch = f.get<std::string>("arch", "mlp",
                              "mlp, or conv: the convolutional VAE (2 convs + 2 transposed convs, latent::conv_vae)");
  c.hidden = f.get_list("hidden", "400", "mlp: hidden widths of the encoder (the decoder mirrors them), e.g. 512,256");
  c.latent = f.at_least("latent", 20, 1, "D, dimension of z (2 also draws the latent scatter and manifold)");
  c.lr = f.positive("lr", 1e-3, "Adam learning rate");
  c.beta = f.at_least("beta", 1.0, 0.0, "weight of the KL term (beta-VAE)");
  c.samples = f.at_least("samples", 1, 1, "Monte Carlo samples of z per example (k of --iwae-train)");
  c.warmup = f.at_least("warmup", 0.0, 0.0, "epochs of linear KL warm-up from 0 to beta");
  c.free_bits = f.at_least("free-bits", 0.0, 0.0, "nats per latent dimension below which the KL exerts no pull");
  c.iwae_train = f.get("iwae-train", false, "train on the IWAE bound with --samples samples instead of the ELBO");
  c.cvae = f.get("cvae", false, "conditional VAE: the class label joins encoder and decoder inputs");
  c.likelihood = f.get<std::string>("likelihood", "bernoulli", "decoder likelihood: bernoulli or gaussian");
  c.seed = f.get<std::uint64_t>("seed", 1, "seed of every random number (same seed + threads = same output)");
  c.threads = f.at_least("threads", std::max(1, int(std::thread::hardware_concurrency()) / processes_here(comm)), 1,
                         "threads for GEMMs (under mpirun: per process)", 1024);
  c.data = f.get<std::string>("data", "",
                              "folder with the Fashion-MNIST IDX files (default: $LATENT_DATA or the Debian package)");
  c.out = f.get<std::string>("out", "vae-out", "folder for the PNGs");
  c.eval_k = f.at_least("eval-k", 100, 1, "importance samples of the final log-likelihood bound");
  c.eval_images = f.at_least("eval-images", 2000, 1, "test images in the final log-likelihood bound");
  c.training = examples::training_flags(f, c.out);
  f.finish();
  examples::check_training_flags(c.training);
  latent::parse_likelihood(c.likelihood);  // refused now, not after loading the data
  if (c.arch != "mlp" && c.arch != "conv")
    throw latent::Error("vae", "unknown --arch '" + c.arch + "' (expected mlp or conv)");
  if (c.arch == "conv" && c.cvae) throw latent::Error("vae", "--cvae is for --arch mlp only");
  return c;
}

// Inverse of the standard normal CDF by bisection on erfc; for the manifold grid's quantiles.
double normal_quantile(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

void write_pictures(latent::Vae<float>& vae, const latent::Uint8Dataset& test, const Config& c, latent::Rng& rng,
                    const std::vector<double>& train_curve, const std::vector<double>& test_curve) {
  namespace fs = std::filesystem;
  const fs::path out(c.out);
  const M x = latent::to_unit<float>(test).features;
  M y;
  if (c.cvae) y = latent::one_hot<float>(test.labels, 10);

  // 64 draws from the prior; for a conditional VAE, one row of 8 per class.
  M samples(784, c.cvae ? 80 : 64);
  if (c.cvae)
    for (int k = 0; k < 10; ++k) samples.middleCols(8 * k, 8) = vae.sample(8, rng, k);
  else
    samples = vae.sample(64, rng);
  latent::write_png(latent::image_grid(samples, 28, 28, {.columns = 8}), out / "samples.png");

  // Test images over their reconstructions.
  const M originals = x.leftCols(16);
  const M recon = vae.reconstruct(originals, rng, c.cvae ? M(y.leftCols(16)) : M());
  latent::write_png(latent::image_rows<float>({originals, recon}, 28, 28, {.columns = 16}),
                    out / "reconstructions.png");

  // Morphing between pairs of test images, linear then spherical, through their posterior means.
  const Index steps = 10, pairs = 4;
  const M mu = vae.encode(x.leftCols(2 * pairs), c.cvae ? M(y.leftCols(2 * pairs)) : M()).first;
  M strip(784, 2 * pairs * steps);
  for (Index p = 0; p < pairs; ++p)
    for (int how = 0; how < 2; ++how) {
      const auto mode = how == 0 ? latent::Interpolation::linear : latent::Interpolation::spherical;
      std::optional<int> label;
      if (c.cvae) label = test.labels[std::size_t(2 * p)];
      strip.middleCols((2 * p + how) * steps, steps) =
          vae.interpolate(mu.col(2 * p), mu.col(2 * p + 1), steps, mode, label);
    }
  latent::write_png(latent::image_grid(strip, 28, 28, {.columns = int(steps)}), out / "interpolation.png");

  latent::write_png(latent::loss_curve(train_curve, test_curve), out / "loss.png");
  // The test set's posterior means, one row per image: np.load("vae-out/latents.npy") is 10000 x D.
  latent::write_npy_examples(out / "latents.npy", vae.encode(x, c.cvae ? y : M()).first);

  if (c.latent == 2) {
    const M z = vae.encode(x, c.cvae ? y : M()).first;
    latent::write_png(
        latent::scatter_plot(z, test.labels, {.title = "test set: posterior means", .x_label = "z1", .y_label = "z2"},
                             latent::fashion_mnist_classes),
        out / "latent_scatter.png");
    // The decoded manifold: a 20 x 20 grid of z at Gaussian quantiles 0.05 .. 0.95.
    const int n = 20;
    M grid(2, n * n);
    for (int r = 0; r < n; ++r)
      for (int col = 0; col < n; ++col)
        grid.col(r * n + col) << float(normal_quantile(0.05 + 0.9 * col / (n - 1))),
            float(normal_quantile(0.95 - 0.9 * r / (n - 1)));
    std::vector<int> zero(std::size_t(n * n), 0);
    latent::write_png(latent::image_grid(vae.decode(grid, c.cvae ? latent::one_hot<float>(zero, 10) : M()), 28, 28,
                                         {.columns = n, .border = 1}),
                      out / "manifold.png");
  }
}

int run(const Config& c, latent::Communicator* comm) {
  const bool lead = comm == nullptr || comm->rank() == 0;  // prints, checkpoints, draws
  latent::set_num_threads(c.threads);
  latent::prepare_output_directory(c.out);  // before the run, which would otherwise be lost
  latent::Rng rng(c.seed);
  auto vae = c.arch == "conv" ? latent::conv_vae<float>(
                                    {.latent = c.latent, .likelihood = latent::parse_likelihood(c.likelihood)}, rng)
                              : latent::Vae<float>::mlp({.hidden = std::vector<Index>(c.hidden.begin(), c.hidden.end()),
                                                         .latent = c.latent,
                                                         .likelihood = latent::parse_likelihood(c.likelihood),
                                                         .classes = c.cvae ? 10 : 0},
                                                        rng);
  const auto train = latent::fashion_mnist(latent::Split::train, c.data);
  const auto test = latent::fashion_mnist(latent::Split::test, c.data);

  latent::Adam<float> opt(vae.parameters(), {.lr = c.lr});
  if (lead)
    std::cerr << "vae: " << c.arch << ", " << vae.num_parameters() << " parameters, " << train.size()
              << " training images, " << c.threads << " threads, products on " << latent::gemm_backend()
              << (comm ? ", " + std::to_string(comm->size()) + " processes (mpirun)" : std::string()) << "\n";

  // The negative ELBO (or IWAE bound) with KL warm-up; the test set scored after every epoch.
  latent::VaeObjective<float> objective(vae, {.samples = c.samples, .free_bits = c.free_bits, .iwae = c.iwae_train});
  auto options = examples::fit_options<float>(c.training, c.epochs, c.batch, rng);
  // A conv VAE's tape holds ~0.45 MB per image (patch matrices): evaluate it 125 images at a
  // time, as it trains, so the test passes need no more memory than training does.
  const Index eval_columns = c.arch == "conv" ? 125 : 1000;
  options.eval_batch_size = eval_columns;
  options.communicator = comm;
  if (!lead) options.callbacks.clear();  // the progress line: rank 0's
  const double warmup_steps = c.warmup * double((Index(train.size()) + c.batch - 1) / c.batch);
  options.beta = warmup_steps > 0 ? latent::ValueSchedule::linear_warmup(c.beta, warmup_steps)
                                  : latent::ValueSchedule::constant(c.beta);
  latent::Callback<float> print;
  print.on_epoch_end = [](latent::FitState<float>& s) {
    const latent::EpochRecord& e = s.history.epochs.back();
    std::cout << "epoch=" << e.epoch << " train_loss=" << e.train.total << " test_loss=" << e.validation->total
              << " test_recon=" << e.validation->terms[0] << " test_kl=" << e.validation->terms[1]
              << " seconds=" << e.seconds << std::endl;
  };
  if (lead) options.callbacks.push_back(print);
  std::cout << std::fixed << std::setprecision(2);
  const latent::History history = latent::fit(objective, opt, train, test, options);
  if (examples::interrupted(history, "vae")) return 130;
  if (comm != nullptr && lead) std::cerr << "vae: gradients summed through " << sum_route(comm) << "\n";
  if (!lead) return 0;  // every process holds the same model; rank 0 scores and draws it
  std::vector<double> train_curve, test_curve;
  for (const latent::EpochRecord& e : history.epochs) {
    train_curve.push_back(e.train.total);
    test_curve.push_back(e.validation->total);
  }

  const Index images = std::min<Index>(c.eval_images, Index(test.size()));
  const M x_eval = latent::to_unit<float>(test).features.leftCols(images);
  M y_eval;
  if (c.cvae) y_eval = latent::one_hot<float>(std::span<const int>(test.labels).first(std::size_t(images)), 10);
  const double nll =
      -double(vae.log_likelihood(x_eval, c.eval_k, rng, y_eval, 4 * eval_columns).template cast<double>().mean());
  std::cout << "iwae k=" << c.eval_k << " images=" << images << " test_nll=" << nll << std::endl;
  std::cout << "active_units="
            << vae.active_units(latent::to_unit<float>(test).features, 0.01,
                                c.cvae ? latent::one_hot<float>(test.labels, 10) : M())
            << " of " << c.latent << std::endl;

  write_pictures(vae, test, c, rng, train_curve, test_curve);
  std::cout << "pictures in " << c.out << "/" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main("vae", [&] {
    std::unique_ptr<latent::Communicator> comm;  // null: this process alone, as without MPI
#ifdef LATENT_EXAMPLE_MPI
    if (latent::MpiCommunicator::launched_by_mpi()) comm = std::make_unique<latent::MpiCommunicator>();
#endif
    return run(parse(argc, argv, comm.get()), comm.get());
  });
}
