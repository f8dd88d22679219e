// Issue 24's acceptance table: careless inputs through the public API. Each must end in a
// latent::Error whose one-line message contains the fragment that names what was wrong: never
// another exception (std::bad_alloc, std::out_of_range), a crash, or a silent answer.

#include <latent/io.hpp>
#include <latent/io/checkpoint.hpp>
#include <latent/latent.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <limits>
#include <new>

#include "errors/bad_input.hpp"
#include "support/temp_dir.hpp"

using namespace latent;
using latent_test::BadInput;
using Mf = Matrix<float>;

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

Mf uniform(Index rows, Index cols, std::uint64_t seed = 1) {
  Rng rng(seed);
  Mf x(rows, cols);
  rng.fill_uniform(x);
  return x;
}

Mf with(Mf x, Index i, Index j, float v) {
  x(i, j) = v;
  return x;
}

// Up to 30 training steps of a fresh 12-8-3 model on x with Adam at `lr`, the guard watching.
template <class Model>
void train(double lr, const Mf& x) {
  Rng rng(3);
  Model model = Model::mlp({.input = 12, .hidden = {8}, .latent = 3}, rng);
  Adam<float> opt(model.parameters(), {.lr = lr});
  DivergenceGuard guard({.lr = lr});
  Tape<float> t;
  for (int s = 0; s < 30; ++s) {
    t.clear();
    opt.zero_grad();
    Var<float> l;
    if constexpr (std::is_same_v<Model, Vae<float>>)
      l = model.elbo(t, t.constant(x), rng).total;
    else
      l = model.loss(t, t.constant(x), rng).total;
    guard.check(l.item());
    t.backward(l);
    opt.step();
  }
}

}  // namespace

TEST_CASE("every careless input through the API ends in a latent::Error that names it", "[errors][table]") {
  latent_test::TempDir dir;
  Rng rng(7);
  auto vae = Vae<float>::mlp({.input = 12, .hidden = {8}, .latent = 3}, rng);
  auto cvae = Vae<float>::mlp({.input = 12, .hidden = {8}, .latent = 3, .classes = 4}, rng);
  auto ae = Autoencoder<float>::mlp({.input = 12, .hidden = {8}, .latent = 3}, rng);
  auto gae =
      Autoencoder<float>::mlp({.input = 12, .hidden = {8}, .latent = 3, .likelihood = Likelihood::gaussian}, rng);
  Tape<float> t;
  const Mf x = uniform(12, 5), z = uniform(3, 5);
  const Mf labels = one_hot<float>(std::vector<int>{0, 1, 2, 3, 0}, 4);
  const auto elbo = [&](const Mf& data, ElboOptions o = {}) { vae.elbo(t, t.constant(data), rng, o); };
  const auto ae_loss = [&](Autoencoder<float>& m, const Mf& data) { m.loss(t, t.constant(data), rng); };
  Mlp<float> small({.sizes = {3, 2}}, rng);
  save_checkpoint(dir / "small.ckpt", small);
  std::ifstream in(dir / "small.ckpt", std::ios::binary);
  const std::vector<char> ckpt((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto write = [&](const std::string& name, std::vector<char> bytes) {
    std::ofstream(dir / name, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    return dir / name;
  };
  auto corrupt_size = ckpt;
  corrupt_size[21] = 0x7F;
  const Uint8Dataset no_images{Eigen::Matrix<std::uint8_t, -1, -1>(784, 0), {}};
  const Dataset<float> mislabelled{uniform(3, 4), {1, 2}};

  const std::vector<BadInput> table = {
      // --- the VAE: options
      {"Vae input -5", [&] { return Vae<float>::mlp({.input = -5}, rng); }, "input must be at least 1, got -5"},
      {"Vae input 0", [&] { return Vae<float>::mlp({.input = 0}, rng); }, "input must be at least 1, got 0"},
      {"Vae hidden {-3}", [&] { Vae<float>::mlp({.hidden = {-3}}, rng); }, "hidden[0] must be at least 1"},
      {"Vae hidden {400, 0}",
       [&] {
         Vae<float>::mlp({.hidden = {400, 0}}, rng);
       },
       "hidden[1]"},
      {"Vae latent -1", [&] { return Vae<float>::mlp({.latent = -1}, rng); }, "latent must be at least 1"},
      {"Vae classes -1", [&] { return Vae<float>::mlp({.classes = -1}, rng); }, "classes must be at least 0"},
      {"Vae sigma 0", [&] { return Vae<float>::mlp({.likelihood = Likelihood::gaussian, .sigma = 0}, rng); },
       "sigma must be positive"},
      {"Vae sigma -1", [&] { return Vae<float>::mlp({.sigma = -1}, rng); }, "sigma must be positive"},
      {"Vae sigma NaN", [&] { return Vae<float>::mlp({.sigma = not_a_number}, rng); }, "sigma must be positive"},
      // --- the VAE: batches on a tape
      {"elbo 13 rows", [&] { return elbo(uniform(13, 5)); }, "elbo: x is 13x5 but the model reads 12 features"},
      {"elbo 0 columns", [&] { return elbo(Mf(12, 0)); }, "an empty batch"},
      {"elbo Bernoulli target 2", [&] { return elbo(with(x, 4, 2, 2)); }, "x(4, 2) = 2"},
      {"elbo Bernoulli target -1", [&] { return elbo(with(x, 0, 0, -1)); }, "x(0, 0) = -1"},
      {"elbo Bernoulli target NaN", [&] { return elbo(with(x, 1, 3, float(not_a_number))); }, "x(1, 3) = "},
      {"elbo pixels 0..255", [&] { return elbo(x * 255); }, "to_unit"},
      {"elbo samples 0", [&] { return elbo(x, {.samples = 0}); }, "samples must be at least 1"},
      {"elbo samples -3", [&] { return elbo(x, {.samples = -3}); }, "samples must be at least 1, got -3"},
      {"elbo beta -1", [&] { return elbo(x, {.beta = -1}); }, "beta and free_bits must be finite and >= 0"},
      {"elbo beta NaN", [&] { return elbo(x, {.beta = not_a_number}); }, "beta=nan"},
      {"elbo beta inf", [&] { return elbo(x, {.beta = infinity}); }, "beta=inf"},
      {"elbo free_bits -1", [&] { return elbo(x, {.free_bits = -1}); }, "free_bits=-1"},
      {"elbo labels to an unconditional VAE", [&] { return vae.elbo(t, t.constant(x), rng, {}, t.constant(labels)); },
       "unconditional"},
      {"cvae elbo without labels", [&] { return cvae.elbo(t, t.constant(x), rng); }, "needs labels"},
      {"cvae elbo 3-class labels", [&] { return cvae.elbo(t, t.constant(x), rng, {}, t.constant(Mf::Zero(3, 5))); },
       "labels are 3x5"},
      {"cvae elbo labels for 4 of 5", [&] { return cvae.elbo(t, t.constant(x), rng, {}, t.constant(Mf::Zero(4, 4))); },
       "labels are 4x4"},
      {"iwae k 0", [&] { return vae.iwae(t, t.constant(x), rng, 0); }, "k must be at least 1, got 0"},
      {"iwae k -5", [&] { return vae.iwae(t, t.constant(x), rng, -5); }, "k must be at least 1, got -5"},
      {"iwae 0 columns", [&] { return vae.iwae(t, t.constant(Mf(12, 0)), rng, 3); }, "an empty batch"},
      {"forward 11 rows", [&] { return vae.forward(t, t.constant(uniform(11, 2))); }, "x is 11x2"},
      // --- the VAE: evaluation on matrices
      {"log_likelihood k 0", [&] { return vae.log_likelihood(x, 0, rng); }, "k must be at least 1"},
      {"log_likelihood k -1", [&] { return vae.log_likelihood(x, -1, rng); }, "k must be at least 1, got -1"},
      {"log_likelihood 0 columns", [&] { return vae.log_likelihood(Mf(12, 0), 10, rng); },
       "log_likelihood: x is 12x0: an empty batch"},
      {"log_likelihood max_columns 0", [&] { return vae.log_likelihood(x, 10, rng, {}, 0); },
       "max_columns must be at least 1"},
      {"log_likelihood 13 rows", [&] { return vae.log_likelihood(uniform(13, 2), 10, rng); }, "x is 13x2"},
      {"log_likelihood pixels 0..255", [&] { return vae.log_likelihood(x * 255, 10, rng); }, "bernoulli likelihood"},
      {"active_units 0 columns", [&] { return vae.active_units(Mf(12, 0)); }, "active_units: x is 12x0"},
      {"active_units 11 rows", [&] { return vae.active_units(uniform(11, 4)); }, "x is 11x4"},
      {"encode 13 rows", [&] { return vae.encode(uniform(13, 3)); },
       "encode: x is 13x3 but the model reads 12 features"},
      {"decode 4 rows", [&] { return vae.decode(uniform(4, 3)); },
       "decode: z is 4x3 but the model reads 3 dimensions of z"},
      {"reconstruct 0 rows", [&] { return vae.reconstruct(Mf(0, 3), rng); }, "reconstruct: x is 0x3"},
      {"cvae encode without labels", [&] { return cvae.encode(x); }, "encode: a conditional VAE needs labels"},
      {"cvae decode labels for 2 of 5", [&] { return cvae.decode(z, Mf::Zero(4, 2)); }, "decode: labels are 4x2"},
      {"sample -5", [&] { return vae.sample(-5, rng); }, "sample: n must be at least 0, got -5"},
      {"sample with a label, unconditional", [&] { return vae.sample(3, rng, 1); }, "unconditional"},
      {"cvae sample label 12", [&] { return cvae.sample(3, rng, 12); }, "label 12 at 0 is outside 0..3"},
      {"interpolate steps 0", [&] { return vae.interpolate(z.col(0), z.col(1), 0); }, "steps must be at least 1"},
      {"interpolate a 2-entry code", [&] { return vae.interpolate(Vector<float>::Zero(2), z.col(1), 4); },
       "codes have 2 and 3 entries"},
      {"one_hot classes 0", [&] { return one_hot<float>(std::vector<int>{0}, 0); }, "classes must be at least 1"},
      {"one_hot label -1", [&] { return one_hot<float>(std::vector<int>{-1}, 3); }, "label -1 at 0 is outside 0..2"},
      // --- the autoencoder
      {"Autoencoder input -5", [&] { return Autoencoder<float>::mlp({.input = -5}, rng); },
       "Autoencoder: input must be at least 1"},
      {"Autoencoder hidden {-3}", [&] { Autoencoder<float>::mlp({.hidden = {-3}}, rng); },
       "hidden[0] must be at least 1, got -3"},
      {"Autoencoder latent 0", [&] { return Autoencoder<float>::mlp({.latent = 0}, rng); },
       "latent must be at least 1"},
      {"Autoencoder decoder_hidden {-1}",
       [&] { Autoencoder<float>::mlp({.decoder_hidden = std::vector<Index>{-1}}, rng); }, "decoder_hidden[0]"},
      {"Autoencoder lambda -1", [&] { return Autoencoder<float>::mlp({.lambda = -1}, rng); }, "lambda=-1"},
      {"Autoencoder contractive NaN", [&] { return Autoencoder<float>::mlp({.contractive = not_a_number}, rng); },
       "penalty weights must be >= 0"},
      {"kl_sparsity without sigmoid codes",
       [&] { return Autoencoder<float>::mlp({.penalty = CodePenalty::kl_sparsity}, rng); }, "needs sigmoid codes"},
      {"kl_sparsity rho 0",
       [&] {
         return Autoencoder<float>::mlp(
             {.code_activation = Activation::sigmoid, .penalty = CodePenalty::kl_sparsity, .rho = 0}, rng);
       },
       "rho in (0, 1)"},
      {"masking p 1.5",
       [&] {
         Autoencoder<float>::mlp({.corruption = {Noise::masking, 1.5}}, rng);
       },
       "p in [0, 1], got 1.5"},
      {"gaussian noise sigma -0.1",
       [&] {
         Autoencoder<float>::mlp({.corruption = {Noise::gaussian, -0.1}}, rng);
       },
       "sigma >= 0"},
      {"contractive on two layers", [&] { return Autoencoder<float>::mlp({.contractive = 0.1}, rng); },
       "one-layer encoder"},
      {"loss 13 rows", [&] { return ae_loss(ae, uniform(13, 5)); }, "loss: x is 13x5 but the model reads 12 features"},
      {"loss 0 columns", [&] { return ae_loss(ae, Mf(12, 0)); }, "an empty batch"},
      {"loss pixels 0..255", [&] { return ae_loss(ae, x * 255); }, "bernoulli likelihood needs targets in [0, 1]"},
      {"loss digits 0..16", [&] { return ae_loss(ae, x * 16); }, "Normalizer::min_max"},
      {"loss standardized data", [&] { return ae_loss(ae, x.array() - 0.5f); }, "needs targets in [0, 1]"},
      {"Gaussian loss with NaN data", [&] { return ae_loss(gae, with(x, 2, 2, float(not_a_number))); },
       "reconstruction term became NaN"},
      {"Gaussian loss with infinite data", [&] { return ae_loss(gae, with(x, 2, 2, float(infinity))); },
       "reconstruction term became"},
      {"encode 11 rows", [&] { return ae.encode(uniform(11, 2)); },
       "encode: x is 11x2 but the model reads 12 features"},
      {"decode 2 rows", [&] { return ae.decode(uniform(2, 2)); },
       "decode: z is 2x2 but the model reads 3 dimensions of z"},
      {"reconstruct 13 rows", [&] { return ae.reconstruct(uniform(13, 2)); }, "reconstruct: x is 13x2"},
      {"decode on a tape, 0 columns", [&] { return ae.decode(t, t.constant(Mf(3, 0))); }, "an empty batch"},
      {"parse_likelihood pink", [] { return parse_likelihood("pink"); }, "unknown likelihood 'pink'"},
      {"parse_noise pink", [] { return parse_noise("pink"); }, "unknown noise 'pink'"},
      {"parse_code_penalty pink", [] { return parse_code_penalty("pink"); }, "unknown penalty 'pink'"},
      // --- training that goes wrong
      {"autoencoder, Adam lr = inf", [&] { train<Autoencoder<float>>(infinity, x); },
       "Adam: learning rate must be finite and >= 0, got inf"},
      {"autoencoder, Adam lr = 1e3", [&] { train<Autoencoder<float>>(1e3, x); }, "now 1000"},
      {"autoencoder, Adam lr = 1e8", [&] { train<Autoencoder<float>>(1e8, x); }, "now 1e+08"},
      {"vae, Adam lr = inf", [&] { train<Vae<float>>(infinity, x); },
       "Adam: learning rate must be finite and >= 0, got inf"},
      {"vae, Adam lr = 1e4", [&] { train<Vae<float>>(1e4, x); }, "lower the learning rate"},
      {"DivergenceGuard, NaN loss", [] { return DivergenceGuard().check(not_a_number); }, "loss became NaN at step 1"},
      {"DivergenceGuard, factor 0", [] { return DivergenceGuard({.factor = 0}); }, "factor must be positive"},
      // --- layers and losses
      {"Linear in 0", [&] { return Linear<float>(0, 3, rng); }, "Linear: in must be at least 1, got 0"},
      {"Linear out -1", [&] { return Linear<float>(3, -1, rng); }, "Linear: out must be at least 1, got -1"},
      {"Mlp of one size", [&] { Mlp<float>({.sizes = {5}}, rng); }, "at least an input and an output size"},
      {"Mlp sizes {5, -2}",
       [&] {
         Mlp<float>({.sizes = {5, -2}}, rng);
       },
       "sizes[1] must be at least 1"},
      {"Parameter -1 x 2", [] { return Parameter<float>("w", -1, 2); }, "w: rows must be at least 0"},
      {"Decoder output 0", [&] { return Decoder<float>::mlp({.latent = 2, .output = 0}, rng); },
       "Decoder: output must be at least 1"},
      {"GaussianEncoder input -1", [&] { return GaussianEncoder<float>::mlp({.input = -1, .latent = 2}, rng); },
       "GaussianEncoder: input"},
      {"bce_with_logits target 2", [&] { return losses::bce_with_logits(t.constant(z), t.constant(with(z, 0, 0, 2))); },
       "x(0, 0) = 2"},
      {"bce target -1", [&] { return losses::bce(t.constant(z), t.constant(with(z, 1, 1, -1))); },
       "losses::bce: the bernoulli"},
      {"matmul 2x3 by 4x5", [&] { return matmul(t.constant(Mf::Zero(2, 3)), t.constant(Mf::Zero(4, 5))); },
       "matmul: A is 2x3 but B is 4x5"},
      // --- data
      {"parse_csv of nothing", [] { return parse_csv<float>("", "t.csv"); }, "t.csv: no data"},
      {"parse_csv of blank lines", [] { return parse_csv<float>("\n  \n", "t.csv"); }, "no data"},
      {"parse_csv of a header only", [] { return parse_csv<float>("a,b\n", "t.csv", {.header = true}); },
       "a header line but no data lines"},
      {"parse_csv 'x4'", [] { return parse_csv<float>("1,2\n3,x4\n", "t.csv"); },
       "line 2, column 2: 'x4' is not a finite number"},
      {"parse_csv 'nan'", [] { return parse_csv<float>("1,nan\n", "t.csv"); }, "'nan' is not a finite number"},
      {"parse_csv ragged", [] { return parse_csv<float>("1,2\n3\n", "t.csv"); }, "line 2: 1 fields, expected 2"},
      {"parse_csv label 2.5", [] { return parse_csv<float>("1,2.5\n", "t.csv", {.label_column = 1}); },
       "'2.5' is not an integer label"},
      {"parse_csv label column 5 of 2", [] { return parse_csv<float>("1,2\n", "t.csv", {.label_column = 4}); },
       "label column 5"},
      {"parse_csv label_column -2", [] { return parse_csv<float>("1,2\n", "t.csv", {.label_column = -2}); },
       "label_column must be -1"},
      {"parse_csv labels only", [] { return parse_csv<float>("1\n2\n", "t.csv", {.label_column = 0}); },
       "no feature columns"},
      {"parse_csv unclosed quote", [] { return parse_csv<float>("1,\"2\n", "t.csv"); }, "never closed"},
      {"parse_csv text after a quote", [] { return parse_csv<float>("\"1\"2,3\n", "t.csv"); }, "after a closing quote"},
      {"parse_csv BOM inside",
       [] {
         return parse_csv<float>(
             "1,\xEF\xBB\xBF"
             "2\n",
             "t.csv");
       },
       "'\\xEF\\xBB\\xBF2'"},
      {"read_csv of a missing file", [] { return read_csv<float>("/nonexistent/x.csv"); }, "/nonexistent/x.csv"},
      {"read_csv of an empty file", [&] { return read_csv<float>(write("empty.csv", {})); }, "empty.csv: no data"},
      {"Batcher batch_size 0", [&] { return Batcher<float>(mislabelled, {.batch_size = 0}); },
       "batch_size must be at least 1, got 0"},
      {"Batcher of no images", [&] { return Batcher<float>(no_images, {}); }, "the dataset is 784x0: no examples"},
      {"Batcher 2 labels for 4 examples", [&] { return Batcher<float>(mislabelled, {}); }, "2 labels for 4 examples"},
      {"Normalizer::min_max of nothing", [] { return Normalizer<float>::min_max(Mf(3, 0)); }, "cannot fit on 3x0 data"},
      {"Normalizer::apply 4 rows",
       [] {
         Mf y = uniform(4, 2);
         Normalizer<float>::standardize(uniform(3, 5)).apply(y);
       },
       "fitted on 3 features but x is 4x2"},
      {"to_unit of nothing", [] { return to_unit<float>(Mf(0, 0)); }, "cannot scale 0x0 data"},
      {"to_unit with NaN", [&] { return to_unit<float>(with(x, 0, 0, float(not_a_number))); }, "NaN or infinite"},
      {"fashion_mnist from a missing folder", [] { return fashion_mnist(Split::test, "/nonexistent/fmnist"); },
       "/nonexistent/fmnist"},
      // --- io
      {"image_grid 12 rows as 3x3", [&] { return image_grid(x, 3, 3); }, "images are 12x5 but height x width is 3x3"},
      {"image_grid scale 0", [&] { return image_grid(x, 3, 4, {.scale = 0}); },
       "GridOptions::scale must be in 1..64, got 0"},
      {"image_grid columns 0", [&] { return image_grid(x, 3, 4, {.columns = 0}); }, "GridOptions::columns"},
      {"image_grid border -1", [&] { return image_grid(x, 3, 4, {.border = -1}); }, "GridOptions::border"},
      {"image_rows of 5 and 3 images",
       [&] {
         return image_rows<float>({x, x.leftCols(3)}, 3, 4);
       },
       "rows hold 5 and 3 images"},
      {"output folder in /proc", [] { return prepare_output_directory("/proc/forbidden"); }, "/proc/forbidden: cannot"},
      {"output folder that is a file", [&] { return prepare_output_directory(write("file", {'x'})); }, "file"},
      {"load a missing checkpoint", [&] { return load_checkpoint(dir / "missing.ckpt", small); }, "missing.ckpt"},
      {"load a CSV as a checkpoint",
       [&] {
         return load_checkpoint(write("x.ckpt", {'1', ',', '2'}), small);
       },
       "bad magic"},
      {"load a truncated checkpoint",
       [&] {
         return load_checkpoint(write("t.ckpt", {ckpt.begin(), ckpt.end() - 9}), small);
       },
       "truncated at byte"},
      {"load a checkpoint with a corrupt size", [&] { return load_checkpoint(write("s.ckpt", corrupt_size), small); },
       "the header's size field is corrupt"},
      {"load into another architecture",
       [&] {
         Mlp<float> other({.sizes = {4, 2}}, rng);
         load_checkpoint(dir / "small.ckpt", other);
       },
       "is 2x3 in the checkpoint but 2x4 in the model"},
      {"load optimizer state that is not there",
       [&] {
         Sgd<float> sgd(small.parameters(), {});
         load_checkpoint(dir / "small.ckpt", small, &sgd);
       },
       "holds no optimizer state"},
      // --- core
      {"set_num_threads 0", [] { return set_num_threads(0); }, "at least 1, got 0"},
      {"set_num_threads -4", [] { return set_num_threads(-4); }, "at least 1, got -4"},
  };

  REQUIRE(table.size() >= 100);
  for (const BadInput& row : table) {
    INFO("case: " << row.name);
    std::string message;
    try {
      row.call();
      FAIL_CHECK("no error");
      continue;
    } catch (const Error& e) {
      message = e.what();
    } catch (const std::bad_alloc&) {
      FAIL_CHECK("std::bad_alloc instead of a latent::Error");
      continue;
    } catch (const std::exception& e) {
      FAIL_CHECK("not a latent::Error: " << e.what());
      continue;
    }
    INFO("message: " << message);
    CHECK(message.find(row.expected) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
  set_num_threads(1);
}
