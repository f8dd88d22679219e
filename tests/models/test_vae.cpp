#include <latent/autodiff/grad_check.hpp>
#include <latent/models.hpp>
#include <latent/optim/adam.hpp>

#include <catch2/catch.hpp>

#include <Eigen/Cholesky>

#include "autodiff/gradcheck_helpers.hpp"

using namespace latent;
using Catch::Matchers::Contains;
using latent_test::Md;
using latent_test::random;

namespace {

// Data from a linear-Gaussian model x = W z + b + sigma n, z, n ~ N(0, I), whose marginal
// p(x) = N(b, W W^T + sigma^2 I) is known exactly.
struct LinearGaussian {
  Md w, b;
  double sigma;
  Md sample(Index n, Rng& rng) const {
    Md z(w.cols(), n), noise(w.rows(), n);
    rng.fill_normal(z);
    rng.fill_normal(noise);
    return ((w * z).colwise() + b.col(0)) + sigma * noise;
  }
};

// Mean of log N(x; b, C) over the columns of x, for the covariance C of a linear decoder.
double mean_exact_log_likelihood(const Md& x, const Md& w, const Md& b, double sigma) {
  const Index f = x.rows();
  const Md c = w * w.transpose() + sigma * sigma * Md::Identity(f, f);
  const Eigen::LLT<Md> llt(c);
  const double log_det = 2 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  const Md centred = x.colwise() - b.col(0);
  const double quad = (centred.array() * llt.solve(centred).array()).sum() / double(x.cols());
  return -0.5 * (quad + log_det + double(f) * std::log(2 * std::numbers::pi));
}

}  // namespace

TEST_CASE("the full VAE loss passes grad_check with fixed eps", "[models][vae][gradcheck]") {
  struct Case {
    const char* name;
    VaeOptions options;
  };
  const Case cases[] = {
      {"bernoulli", {.input = 6, .hidden = {5}, .latent = 3, .activation = Activation::tanh}},
      {"gaussian fixed sigma",
       {.input = 6,
        .hidden = {5},
        .latent = 3,
        .activation = Activation::tanh,
        .likelihood = Likelihood::gaussian,
        .sigma = 0.7}},
      {"gaussian learned variance",
       {.input = 6,
        .hidden = {5},
        .latent = 3,
        .activation = Activation::softplus,
        .likelihood = Likelihood::gaussian,
        .learn_variance = true}},
      {"conditional bernoulli", {.input = 6, .hidden = {5}, .latent = 3, .activation = Activation::tanh, .classes = 3}},
      {"conditional gaussian",
       {.input = 6,
        .hidden = {5, 4},
        .latent = 2,
        .activation = Activation::sigmoid,
        .likelihood = Likelihood::gaussian,
        .learn_variance = true,
        .classes = 3}},
  };
  Rng init(3);
  for (const Case& c : cases) {
    auto vae = Vae<double>::mlp(c.options, init);
    const Md x = random(6, 4, init, latent_test::Domain::unit_interval);
    const std::vector<int> labels = {0, 2, 1, 2};
    const Md y = one_hot<double>(labels, 3);
    for (const ElboOptions& opts : {ElboOptions{}, ElboOptions{.samples = 3, .beta = 0.5, .free_bits = 0.05}}) {
      const auto loss = [&](Tape<double>& t) {
        Rng rng(42);  // the same eps on every evaluation
        std::optional<Var<double>> ly;
        if (c.options.classes > 0) ly = t.constant(y);
        return vae.elbo(t, t.constant(x), rng, opts, ly).total;
      };
      const auto result = grad_check_parameters(loss, vae.named_parameters());
      INFO(c.name << " samples " << opts.samples << ": " << result.message());
      CHECK(result.max_rel_error < 1e-6);
    }
    const auto iwae = [&](Tape<double>& t) {
      Rng rng(7);
      std::optional<Var<double>> ly;
      if (c.options.classes > 0) ly = t.constant(y);
      return vae.iwae(t, t.constant(x), rng, 5, ly);
    };
    const auto result = grad_check_parameters(iwae, vae.named_parameters());
    INFO(c.name << " iwae: " << result.message());
    CHECK(result.max_rel_error < 1e-6);
  }
}

TEST_CASE("ELBO terms: KL in closed form, total = recon + beta KL, free bits raise only the total", "[models][vae]") {
  Rng rng(5);
  auto vae = Vae<double>::mlp({.input = 8, .hidden = {6}, .latent = 4}, rng);
  const Md x = random(8, 10, rng, latent_test::Domain::unit_interval);
  Tape<double> t;
  Rng a(1), b(1);
  const auto e = vae.elbo(t, t.constant(x), a, {.beta = 0.3});
  CHECK(e.total.item() == Approx(e.recon.item() + 0.3 * e.kl.item()).epsilon(1e-12));
  auto [mu, lv] = vae.encode(x);
  const double kl = 0.5 * (mu.array().square() + lv.array().exp() - 1 - lv.array()).sum() / 10.0;
  CHECK(e.kl.item() == Approx(kl).epsilon(1e-10));
  const auto f = vae.elbo(t, t.constant(x), b, {.beta = 0.3, .free_bits = 10.0});
  CHECK(f.kl.item() == Approx(e.kl.item()).epsilon(1e-12));
  CHECK(f.total.item() == Approx(f.recon.item() + 0.3 * 10.0 * 4).epsilon(1e-12));  // every dim below 10 nats
}

TEST_CASE("VAE misuse is refused with a clear message", "[models][vae]") {
  Rng rng(6);
  auto vae = Vae<float>::mlp({.input = 5, .hidden = {4}, .latent = 2}, rng);
  auto cvae = Vae<float>::mlp({.input = 5, .hidden = {4}, .latent = 2, .classes = 3}, rng);
  Tape<float> t;
  CHECK_THROWS_WITH(vae.elbo(t, t.constant(Eigen::MatrixXf::Zero(6, 2)), rng),
                    Contains("elbo: x is 6x2 but the model reads 5"));
  CHECK_THROWS_WITH(cvae.elbo(t, t.constant(Eigen::MatrixXf::Zero(5, 2)), rng), Contains("needs labels"));
  CHECK_THROWS_WITH(vae.interpolate(Eigen::VectorXf::Zero(3), Eigen::VectorXf::Zero(2), 4), Contains("interpolate"));
  CHECK_THROWS_WITH(one_hot<float>(std::vector<int>{0, 3}, 3), Contains("label 3 at 1 is outside 0..2"));
}

TEST_CASE("sampling, reconstruction and interpolation have the promised shapes and ends", "[models][vae]") {
  Rng rng(8);
  auto vae = Vae<float>::mlp({.input = 12, .hidden = {8}, .latent = 3, .classes = 2}, rng);
  const Eigen::MatrixXf s = vae.sample(5, rng, 1);
  CHECK(s.rows() == 12);
  CHECK(s.cols() == 5);
  CHECK((s.array() > 0).all());
  CHECK((s.array() < 1).all());
  Eigen::VectorXf a(3), b(3);
  a << 1, 0, 0;
  b << 0, 2, 0;
  for (Interpolation how : {Interpolation::linear, Interpolation::spherical}) {
    const Eigen::MatrixXf path = vae.interpolate(a, b, 6, how, 0);
    // Columns a and b, set entry by entry: GCC 12's -Warray-bounds took a packet copy of a 3-vector
    // into column 1 of a 3 x 2 matrix for a store past its end (a false positive that fails -Werror).
    Eigen::MatrixXf ab = Eigen::MatrixXf::Zero(3, 2);
    ab(0, 0) = 1;
    ab(1, 1) = 2;
    const Eigen::MatrixXf ends = vae.decode(ab, one_hot<float>(std::vector<int>{0, 0}, 2));
    CHECK(path.col(0).isApprox(ends.col(0), 1e-6f));
    CHECK(path.col(5).isApprox(ends.col(1), 1e-6f));
  }
}

TEST_CASE("linear-Gaussian VAE: ELBO <= IWAE(10) <= IWAE(100) <= exact log p(x)", "[models][vae]") {
  Rng rng(10);
  // A 2-D latent seen through 5 correlated features: the true posterior has a full covariance,
  // so a diagonal q leaves a gap that importance weighting closes step by step.
  LinearGaussian truth{random(5, 2, rng), random(5, 1, rng), 0.5};
  const Md x = truth.sample(400, rng);
  auto vae =
      Vae<double>::mlp({.input = 5, .hidden = {}, .latent = 2, .likelihood = Likelihood::gaussian, .sigma = 0.5}, rng);
  Tape<double> t;
  Adam<double> opt(vae.parameters(), {.lr = 0.01});
  for (int step = 0; step < 3000; ++step) {
    t.clear();
    opt.zero_grad();
    t.backward(vae.elbo(t, t.constant(x), rng).total);
    opt.step();
  }
  // The trained decoder is x = W z + b + 0.5 n: its exact log p(x) is N(x; b, W W^T + 0.25 I).
  auto& layer = dynamic_cast<Mlp<double>&>(vae.decoder().network()).layer(0);
  const double exact = mean_exact_log_likelihood(x, layer.weight().value, layer.bias().value, 0.5);
  Rng eval(11);
  const double l1 = vae.log_likelihood(x, 1, eval).mean();
  const double l10 = vae.log_likelihood(x, 10, eval).mean();
  const double l100 = vae.log_likelihood(x, 100, eval).mean();
  const double l1000 = vae.log_likelihood(x, 1000, eval).mean();
  INFO("exact " << exact << " k=1 " << l1 << " k=10 " << l10 << " k=100 " << l100 << " k=1000 " << l1000);
  CHECK(l1 < l10);
  CHECK(l10 < l100);
  CHECK(l100 <= exact + 1e-3);
  CHECK(exact - l1000 < exact - l1);
  CHECK(exact - l1000 < 0.05);
}

namespace {
// y = x + tanh(W x + b): a residual block, written as a user would, outside the library.
template <class S>
class ResidualTanh : public Module<S> {
 public:
  ResidualTanh(Index width, Rng& rng) : layer_(width, width, rng) {}
  Var<S> forward(Tape<S>& tape, Var<S> x) const override { return x + tanh(layer_.forward(tape, x)); }

 protected:
  void visit_children(const typename Module<S>::ChildVisitor& f) override { f("layer", layer_); }

 private:
  Linear<S> layer_;
};

// z -> Linear -> residual block: a decoder network from D to F features.
template <class S>
class UpResidual : public Module<S> {
 public:
  UpResidual(Index in, Index out, Rng& rng) : up_(in, out, rng), block_(out, rng) {}
  Var<S> forward(Tape<S>& tape, Var<S> z) const override { return block_.forward(tape, up_.forward(tape, z)); }

 protected:
  void visit_children(const typename Module<S>::ChildVisitor& f) override {
    f("up", up_);
    f("block", block_);
  }

 private:
  Linear<S> up_;
  ResidualTanh<S> block_;
};
}  // namespace

TEST_CASE("a Vae composed from user-written modules lists their parameters, passes grad_check and trains",
          "[models][vae][gradcheck]") {
  Rng rng(3);
  const Index F = 6, D = 2;
  GaussianEncoder<double> encoder(ResidualTanh<double>(F, rng), {.input = F, .latent = D}, rng);
  Decoder<double> decoder(UpResidual<double>(D, F, rng),
                          {.likelihood = Likelihood::gaussian, .learn_variance = true, .features = F});
  Vae<double> vae(std::move(encoder), std::move(decoder), F);

  std::vector<std::string> names;
  for (const auto& [name, p] : vae.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"encoder.trunk.layer.weight", "encoder.trunk.layer.bias",
                                          "encoder.head.weight", "encoder.head.bias", "decoder.logvar",
                                          "decoder.network.up.weight", "decoder.network.up.bias",
                                          "decoder.network.block.layer.weight", "decoder.network.block.layer.bias"});
  CHECK(vae.latent() == D);

  const Md x = random(F, 5, rng);
  const auto loss = [&](Tape<double>& t) {
    Rng fixed(7);  // the same eps on every evaluation
    return vae.elbo(t, t.constant(x), fixed, {.samples = 2}).total;
  };
  const auto result = grad_check_parameters(loss, vae.named_parameters());
  INFO(result.message());
  CHECK(result.max_rel_error < 1e-6);

  // Its ELBO falls under Adam, as the MLP VAE's does.
  Adam<double> opt(vae.parameters(), {.lr = 1e-2});
  Tape<double> t;
  const auto elbo = [&] {
    Rng fixed(9);
    t.clear();
    return vae.elbo(t, t.constant(x), fixed).total;
  };
  const double before = elbo().item();
  for (int step = 0; step < 200; ++step) {
    t.clear();
    opt.zero_grad();
    t.backward(vae.elbo(t, t.constant(x), rng).total);
    opt.step();
  }
  CHECK(elbo().item() < before - 1.0);

  // A trunk of your own and hidden widths of the library's do not mix.
  CHECK_THROWS_WITH(
      (GaussianEncoder<double>(ResidualTanh<double>(F, rng), {.input = F, .hidden = {4}, .latent = D}, rng)),
      Contains("hidden widths given beside a trunk of your own"));
}

namespace {
// A decoder stage that passes its input on, notes how many columns (decoded samples) it saw and
// holds `rows` extra rows of tape per column, as a conv decoder's patches do.
struct Spy : Module<double> {
  std::vector<Index>* seen = nullptr;
  Index rows = 0;
  Var<double> forward(Tape<double>& tape, Var<double> x) const override {
    seen->push_back(x.cols());
    if (rows > 0) tape.record("scratch", rows, x.cols());
    return x;
  }
};
}  // namespace

TEST_CASE("log_likelihood without max_columns passes at most 32 MB of tape, every sample once", "[models]") {
  Rng rng(12);
  std::vector<Index> seen;
  const auto vae_with = [&](Index rows) {
    Rng init(13);
    Sequential<double> network;
    network.emplace<Linear<double>>(2, 6, init);
    Spy& spy = network.emplace<Spy>();
    spy.seen = &seen;
    spy.rows = rows;
    return Vae<double>(GaussianEncoder<double>::mlp({.input = 6, .latent = 2}, init), Decoder<double>(std::move(network), {}), 6);
  };
  Md x(6, 5);
  rng.fill_uniform(x);
  const Index k = 300;
  // 50000 rows = 400 kB per sample in double: 83 samples per 32 MB pass.
  const Vae<double> heavy = vae_with(50000);
  Rng a(1);
  const Eigen::VectorXd auto_passes = heavy.log_likelihood(x, k, a);
  REQUIRE(seen.size() > 2);
  CHECK(seen[0] == 64);  // the measuring pass
  Index total = 0;
  for (const Index n : seen) {
    CHECK(n * 50000 * 8 <= (Index(32) << 20) + 64 * 50000 * 8);
    total += n;
  }
  CHECK(total == k * x.cols());  // every sample of every example decoded once
  CHECK(seen[1] == 83);
  CHECK(auto_passes.allFinite());
  // The split depends only on the model and k: the same seed gives the same bits.
  Rng again(1);
  CHECK(heavy.log_likelihood(x, k, again) == auto_passes);
  // A light model keeps 4096-sample passes after the first: 64 + 236, then the other 4 examples
  // in one pass (13 fit).
  seen.clear();
  const Vae<double> light = vae_with(0);
  Rng c(1);
  (void)light.log_likelihood(x, k, c);
  CHECK(seen == std::vector<Index>{64, 236, 4 * 300});
}
