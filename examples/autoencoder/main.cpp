// Trains one autoencoder of the lecture's family on Fashion-MNIST and compares its codes with
// PCA of the same dimension D: test reconstruction error, 5-NN classification, k-means purity.
//
// Defaults: undercomplete 784-256-32 encoder, 32-256-784 decoder, ReLU, linear code, Bernoulli
// likelihood (BCE from logits), Adam lr 1e-3, batch 128, 5 epochs, seed 1, 1 thread. Prints one
// line per epoch and ends with
//   test_mse_per_pixel ae=... pca=...
//   compression_ratio=...
//   knn_accuracy latent=... pca=... pixels=... k=5 references=10000 queries=2000
//   kmeans_purity latent=... pca=... k=10 images=10000
// and writes reconstructions.png and loss.png into --out.

#include <latent/io.hpp>
#include <latent/io/npy.hpp>
#include <latent/latent.hpp>
#include <latent/models/pca.hpp>

#include <filesystem>
#include <iomanip>
#include <iostream>

#include "common/flags.hpp"
#include "common/training.hpp"

namespace {

using latent::Index;
using M = latent::Matrix<float>;

struct Config {
  int epochs, batch, latent, threads;
  std::vector<long> hidden;
  double lr, lambda, rho, noise;
  std::uint64_t seed;
  std::string variant, penalty, noise_type, likelihood, data, out, arch;
  examples::TrainingFlags training;
};

Config parse(int argc, char** argv) {
  examples::Flags f(argc, argv, "Train an autoencoder on Fashion-MNIST and compare its codes with PCA.");
  Config c{};
  c.variant =
      f.get<std::string>("variant", "undercomplete", "undercomplete, regularized, sparse, denoising or contractive");
  const bool sparse = c.variant == "sparse", contractive = c.variant == "contractive";
  c.arch = f.get<std::string>("arch", "mlp",
                              "mlp, or conv: Conv2d 1->32->64 (k4 s2 p1) + Linear to the code, transposed convs back");
  c.epochs = f.at_least("epochs", 5, 1, "passes over the 60000 training images");
  c.batch = f.at_least("batch", 128, 1, "examples per Adam step");
  c.hidden =
      f.get_list("hidden", "256", "hidden widths of the encoder (the decoder mirrors them; contractive: decoder only)");
  c.latent = f.at_least("latent", 32, 1, "D, dimension of the code z (and of the PCA baseline)", 784);
  c.lr = f.positive("lr", 1e-3, "Adam learning rate");
  c.likelihood =
      f.get<std::string>("likelihood", "bernoulli", "reconstruction loss: bernoulli (BCE) or gaussian (squared error)");
  c.penalty = f.get<std::string>("penalty", sparse ? "kl_sparsity" : "l2",
                                 "Omega(z) of regularized/sparse: l2, l1 or kl_sparsity (sigmoid code)");
  c.lambda = f.at_least("lambda",
                        contractive ? 1.0
                        : sparse    ? 1.0
                                    : 0.01,
                        0.0, "weight of Omega(z) (regularized, sparse) or of ||J_f(x)||_F^2 (contractive)");
  c.rho = f.get("rho", 0.05, "target firing rate of kl_sparsity");
  c.noise_type = f.get<std::string>(
      "noise-type", "gaussian",
      "corruption: gaussian, masking or salt_and_pepper (trains denoising; every variant is tested on it)");
  c.noise = f.get("noise", 0.3, "sigma (gaussian) or probability p (masking, salt_and_pepper)");
  c.seed = f.get<std::uint64_t>("seed", 1, "seed of every random number (same seed + threads = same output)");
  // One thread by default: at batch 128 the GEMMs are small, and on a busy 2-core machine a
  // second OpenMP thread made an epoch 10x slower (45 s instead of 4.5 s) while waiting at barriers.
  c.threads =
      f.at_least("threads", 1, 1, "threads for GEMMs (more pay off for large --batch / --hidden on idle cores)", 1024);
  c.data = f.get<std::string>("data", "",
                              "folder with the Fashion-MNIST IDX files (default: $LATENT_DATA or the Debian package)");
  c.out = f.get<std::string>("out", "autoencoder-out", "folder for the PNGs");
  c.training = examples::training_flags(f, c.out);
  f.finish();
  examples::check_training_flags(c.training);
  latent::check_corruption({latent::parse_noise(c.noise_type), c.noise});  // the test corruption, for every variant
  if (c.arch != "mlp" && c.arch != "conv")
    throw latent::Error("autoencoder", "unknown --arch '" + c.arch + "' (expected mlp or conv)");
  if (c.arch == "conv" && contractive)
    throw latent::Error("autoencoder", "--variant contractive needs the one-layer MLP encoder (--arch mlp)");
  return c;
}

// The variant's options: one flag picks the lecture's objective, the knobs fill it in.
latent::AutoencoderOptions options_for(const Config& c) {
  latent::AutoencoderOptions o{.hidden = std::vector<Index>(c.hidden.begin(), c.hidden.end()),
                               .latent = c.latent,
                               .likelihood = latent::parse_likelihood(c.likelihood)};
  if (c.variant == "undercomplete") return o;
  if (c.variant == "regularized" || c.variant == "sparse") {
    o.penalty = latent::parse_code_penalty(c.penalty);
    o.lambda = c.lambda;
    o.rho = c.rho;
    if (o.penalty == latent::CodePenalty::kl_sparsity) o.code_activation = latent::Activation::sigmoid;
    return o;
  }
  if (c.variant == "denoising") {
    o.corruption = {latent::parse_noise(c.noise_type), c.noise};
    return o;
  }
  if (c.variant == "contractive") {
    // The closed-form Jacobian covers a one-layer sigmoid encoder; the decoder keeps --hidden.
    o.decoder_hidden = o.hidden;
    o.hidden = {};
    o.code_activation = latent::Activation::sigmoid;
    o.contractive = c.lambda;
    return o;
  }
  throw std::invalid_argument("--variant must be undercomplete, regularized, sparse, denoising or contractive, got '" +
                              c.variant + "'");
}

// The convolutional autoencoder: the conv VAE's networks (latent::conv_vae) with a code of D
// numbers instead of a Gaussian: Conv2d(1, 32, k4 s2 p1) + ReLU (28 -> 14), Conv2d(32, 64) + ReLU
// (14 -> 7), Linear(3136, D); back by Linear(D, 3136) + ReLU, ConvTranspose2d(64, 32) + ReLU
// (7 -> 14), ConvTranspose2d(32, 1) (14 -> 28), the logits or the mean.
latent::Autoencoder<float> conv_autoencoder(const Config& c, latent::Rng& rng) {
  using latent::ImageShape;
  const latent::ConvOptions window{.kernel = 4, .stride = 2, .padding = 1};
  latent::Sequential<float> encoder, decoder;
  encoder.emplace<latent::Conv2d<float>>(ImageShape{1, 28, 28}, 32, window, rng);
  encoder.emplace<latent::ReLU<float>>();
  encoder.emplace<latent::Conv2d<float>>(ImageShape{32, 14, 14}, 64, window, rng);
  encoder.emplace<latent::ReLU<float>>();
  encoder.emplace<latent::Flatten<float>>(ImageShape{64, 7, 7});
  encoder.emplace<latent::Linear<float>>(3136, c.latent, rng);
  decoder.emplace<latent::Linear<float>>(c.latent, 3136, rng);
  decoder.emplace<latent::ReLU<float>>();
  decoder.emplace<latent::Unflatten<float>>(ImageShape{64, 7, 7});
  decoder.emplace<latent::ConvTranspose2d<float>>(ImageShape{64, 7, 7}, 32, window, rng);
  decoder.emplace<latent::ReLU<float>>();
  decoder.emplace<latent::ConvTranspose2d<float>>(ImageShape{32, 14, 14}, 1, window, rng);
  return latent::Autoencoder<float>(std::move(encoder), std::move(decoder), options_for(c));
}

double mse_per_pixel(const M& a, const M& b) { return (a - b).cast<double>().squaredNorm() / double(a.size()); }

int run(const Config& c) {
  latent::set_num_threads(c.threads);
  latent::prepare_output_directory(c.out);  // before the run, which would otherwise be lost
  latent::Rng rng(c.seed);
  // Refuses bad options before the data load.
  auto ae = c.arch == "conv" ? conv_autoencoder(c, rng) : latent::Autoencoder<float>::mlp(options_for(c), rng);
  const auto train = latent::fashion_mnist(latent::Split::train, c.data);
  const auto test = latent::fashion_mnist(latent::Split::test, c.data);

  latent::Adam<float> opt(ae.parameters(), {.lr = c.lr});
  std::cerr << "autoencoder (" << c.arch << ", " << c.variant << "): " << ae.num_parameters() << " parameters, "
            << train.size() << " training images, " << c.threads << " threads, products on " << latent::gemm_backend()
            << "\n";

  // The variant's loss; the test set scored in eval mode (no corruption) after every epoch.
  auto options = examples::fit_options<float>(c.training, c.epochs, c.batch, rng);
  options.eval_batch_size = 1000;
  latent::Callback<float> print;
  print.on_epoch_end = [](latent::FitState<float>& s) {
    const latent::EpochRecord& e = s.history.epochs.back();
    std::cout << "epoch=" << e.epoch << " train_loss=" << e.train.total << " test_loss=" << e.validation->total
              << " seconds=" << e.seconds << std::endl;
  };
  options.callbacks.push_back(print);
  std::cout << std::fixed << std::setprecision(4);
  const latent::History history = latent::fit(ae, opt, train, test, options);
  if (examples::interrupted(history, "autoencoder")) return 130;
  std::vector<double> train_curve, test_curve;
  for (const latent::EpochRecord& e : history.epochs) {
    train_curve.push_back(e.train.total);
    test_curve.push_back(e.validation->total);
  }
  ae.eval();

  // PCA of the same dimension, fitted on all training images.
  const M x_train = latent::to_unit<float>(train).features;
  const M x_test = latent::to_unit<float>(test).features;
  const latent::Pca<float> pca(x_train, c.latent);

  // Reconstruction from clean and from corrupted test images (the same corruption for both).
  const latent::Corruption noise{latent::parse_noise(c.noise_type), c.noise};
  latent::Rng noise_rng(c.seed + 1);
  const M x_noisy = latent::corrupt(x_test, noise, noise_rng);
  const M ae_clean = ae.reconstruct(x_test), pca_clean = pca.reconstruct(x_test);
  const M ae_noisy = ae.reconstruct(x_noisy), pca_noisy = pca.reconstruct(x_noisy);

  // Codes of a subset for the neighbour searches: exhaustive 5-NN over 60000 x 10000 pixels
  // would dominate the run, so 10000 training references and 2000 test queries.
  const Index refs = 10000, queries = 2000, k = 5, clusters = 10;
  const std::span<const int> ref_labels(train.labels.data(), std::size_t(refs));
  const std::span<const int> query_labels(test.labels.data(), std::size_t(queries));
  const M ref_pixels = x_train.leftCols(refs), query_pixels = x_test.leftCols(queries);
  const M z_test = ae.encode(x_test), p_test = pca.encode(x_test);
  const double knn_latent =
      latent::knn_accuracy<float>(ae.encode(ref_pixels), ref_labels, z_test.leftCols(queries), query_labels, k);
  const double knn_pca =
      latent::knn_accuracy<float>(pca.encode(ref_pixels), ref_labels, p_test.leftCols(queries), query_labels, k);
  const double knn_pixels = latent::knn_accuracy(ref_pixels, ref_labels, query_pixels, query_labels, k);

  latent::Rng cluster_rng(c.seed + 2);
  const double purity_latent =
      latent::cluster_purity(latent::kmeans(z_test, clusters, cluster_rng).assignments, test.labels);
  const double purity_pca =
      latent::cluster_purity(latent::kmeans(p_test, clusters, cluster_rng).assignments, test.labels);

  namespace fs = std::filesystem;
  const fs::path out(c.out);
  const Index shown = 12;
  if (c.variant == "denoising")
    latent::write_png(latent::image_rows<float>({x_test.leftCols(shown), x_noisy.leftCols(shown),
                                                 ae_noisy.leftCols(shown), pca_noisy.leftCols(shown)},
                                                28, 28, {.columns = int(shown)}),
                      out / "reconstructions.png");
  else
    latent::write_png(
        latent::image_rows<float>({x_test.leftCols(shown), ae_clean.leftCols(shown), pca_clean.leftCols(shown)}, 28, 28,
                                  {.columns = int(shown)}),
        out / "reconstructions.png");
  latent::write_png(latent::loss_curve(train_curve, test_curve), out / "loss.png");
  latent::write_npy_examples(out / "latents.npy", z_test);  // the test set's codes, one row per image, for NumPy
  std::cout << "pictures in " << c.out << "/ (reconstructions.png: originals, "
            << (c.variant == "denoising" ? "noisy inputs, AE, PCA" : "AE, PCA")
            << "; loss.png), test codes in latents.npy" << std::endl;

  std::cout << "noisy_test_mse_per_pixel ae=" << mse_per_pixel(ae_noisy, x_test)
            << " pca=" << mse_per_pixel(pca_noisy, x_test) << " noise=" << latent::to_string(noise.type) << ":"
            << noise.level << std::endl;
  std::cout << std::setprecision(5) << "test_mse_per_pixel ae=" << mse_per_pixel(ae_clean, x_test)
            << " pca=" << mse_per_pixel(pca_clean, x_test) << std::endl;
  // 784 uint8 pixels (8 bits each) against D float32 numbers.
  std::cout << std::setprecision(3) << "compression_ratio=" << 784.0 * 8 / (double(c.latent) * 32) << std::endl;
  std::cout << std::setprecision(4) << "knn_accuracy latent=" << knn_latent << " pca=" << knn_pca
            << " pixels=" << knn_pixels << " k=" << k << " references=" << refs << " queries=" << queries << std::endl;
  std::cout << "kmeans_purity latent=" << purity_latent << " pca=" << purity_pca << " k=" << clusters
            << " images=" << x_test.cols() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main("autoencoder", [&] { return run(parse(argc, argv)); });
}
