// Fits one Gaussian q to a two-mode mixture p by minimising each divergence of the lecture, and
// draws Minka's (2005) picture: reverse KL seeks a mode, forward KL covers both, the
// alpha-divergence moves from one behaviour to the other as alpha grows.
//
// p = 0.6 N(-3, 0.6^2) + 0.4 N(3, 0.8^2). q = N(mean, exp(logvar)) starts at N(0, 2^2); each
// divergence is a Monte Carlo estimate on the tape, minimised with Adam. Prints the fitted mean
// and standard deviation per divergence and writes one PNG with p and every fitted q.

#include <latent/io.hpp>
#include <latent/distributions.hpp>
#include <latent/losses.hpp>
#include <latent/optim.hpp>
#include <latent/train/divergence_guard.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>

#include "common/flags.hpp"

namespace {

namespace L = latent::losses;
using M = latent::Matrix<double>;
using Objective = std::function<latent::Var<double>(const latent::GaussianMixture<double>&,
                                                    const latent::DiagonalGaussian<double>&, latent::Rng&)>;

struct Config {
  int steps, samples;
  double lr;
  std::uint64_t seed;
  std::string out;
};

Config parse(int argc, char** argv) {
  examples::Flags f(argc, argv,
                    "Fit a Gaussian to a two-mode mixture under reverse KL, forward KL and alpha-divergences.");
  Config c{};
  c.steps = f.at_least("steps", 4000, 1, "Adam steps per divergence");
  c.samples = f.at_least("samples", 1024, 1, "Monte Carlo samples per step", 1 << 24);
  c.lr = f.positive("lr", 5e-3, "Adam learning rate");
  c.seed = f.get<std::uint64_t>("seed", 1, "seed of the Monte Carlo draws");
  c.out = f.get<std::string>("out", "divergences.png", "the PNG to write");
  f.finish();
  return c;
}

// The target p on `tape`, held fixed (constants).
latent::GaussianMixture<double> target(latent::Tape<double>& tape) {
  const M logits = (M(2, 1) << std::log(0.6), std::log(0.4)).finished();
  const M means = (M(1, 2) << -3.0, 3.0).finished();
  const M logvars = (M(1, 2) << 2 * std::log(0.6), 2 * std::log(0.8)).finished();
  return {tape.constant(logits), tape.constant(means), tape.constant(logvars)};
}

struct Fit {
  double mean, logvar;
};

// q from N(0, 2^2), moved by Adam down the gradient of `objective`. A start narrower than p
// makes w = p / q huge in q's tails, and the alpha = 2 terms (w - 1)^2 / 2 then give Adam rare
// gradient spikes that shrink its steps for hundreds of iterations.
Fit fit(const Objective& objective, const Config& c) {
  latent::Parameter<double> mean("mean", 1, 1), logvar("logvar", 1, 1);
  logvar.value(0, 0) = std::log(4.0);
  latent::Adam<double> opt({&mean, &logvar}, {.lr = c.lr});
  latent::DivergenceGuard guard({.lr = c.lr});
  latent::Tape<double> tape;
  latent::Rng rng(c.seed);
  for (int step = 0; step < c.steps; ++step) {
    tape.clear();
    const latent::DiagonalGaussian<double> q(mean.on(tape), logvar.on(tape));
    const latent::Var<double> loss = objective(target(tape), q, rng);
    guard.check(loss.item());
    opt.zero_grad();
    tape.backward(loss);
    opt.step();
  }
  return {mean.value(0, 0), logvar.value(0, 0)};
}

// exp(log density) of `log_prob` at the points of `x` (1 x n), as a plot series.
latent::Series density(std::string name, const M& x,
                       const std::function<latent::Var<double>(latent::Tape<double>&, latent::Var<double>)>& log_prob) {
  latent::Tape<double> tape;
  const M y = exp(log_prob(tape, tape.constant(x))).value();
  return {.name = std::move(name),
          .y = {y.data(), y.data() + y.size()},
          .x = {x.data(), x.data() + x.size()},
          .markers = false};
}

int run(const Config& c) {
  const std::filesystem::path out(c.out);
  latent::prepare_output_directory(out.has_parent_path() ? out.parent_path() : ".");
  const int n = c.samples;
  const struct {
    const char* name;
    Objective objective;
  } divergences[] = {
      {"reverse_kl", [n](const auto& p, const auto& q, auto& rng) { return L::reverse_kl(p, q, n, rng); }},
      {"alpha_0.5", [n](const auto& p, const auto& q, auto& rng) { return L::alpha_divergence(p, q, 0.5, n, rng); }},
      {"forward_kl", [n](const auto& p, const auto& q, auto& rng) { return L::forward_kl(p, q, n, rng); }},
      {"alpha_2", [n](const auto& p, const auto& q, auto& rng) { return L::alpha_divergence(p, q, 2.0, n, rng); }},
  };

  // x from -6 to 10: the legend sits over the empty right end.
  const M x = M::NullaryExpr(1, 801, [](Eigen::Index j) { return -6.0 + 0.02 * double(j); });
  std::vector<latent::Series> curves{
      density("p (target)", x, [](auto& tape, auto v) { return target(tape).log_prob(v); })};
  std::cout << std::fixed << std::setprecision(3);
  for (const auto& d : divergences) {
    const Fit f = fit(d.objective, c);
    std::cout << "divergence=" << d.name << " mean=" << f.mean << " std=" << std::exp(0.5 * f.logvar) << "\n";
    curves.push_back(density(std::string("q: ").append(d.name), x, [&f](auto& tape, auto v) {
      return latent::DiagonalGaussian<double>(tape.constant(M::Constant(1, 1, f.mean)),
                                              tape.constant(M::Constant(1, 1, f.logvar)))
          .log_prob(v);
    }));
  }
  latent::write_png(latent::line_plot(curves, {.width = 800,
                                               .height = 480,
                                               .title = "Gaussian q fitted to a two-mode p",
                                               .x_label = "x",
                                               .y_label = "density"}),
                    c.out);
  std::cerr << "divergences: wrote " << c.out << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main("divergences", [&] { return run(parse(argc, argv)); });
}
