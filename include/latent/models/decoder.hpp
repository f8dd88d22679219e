#pragma once
/// @file
/// `Decoder`: p(x | z) as a network (an MLP, or any module) from codes to the parameters of a
/// `Likelihood`.

#include <concepts>
#include <memory>
#include <optional>
#include <vector>

#include "latent/core/sizes.hpp"
#include "latent/distributions/likelihood.hpp"
#include "latent/layers/mlp.hpp"

namespace latent::inline v0 {

/// Options of `Decoder`.
struct DecoderOptions {
  Index latent = 0;                               ///< D (plus classes for a conditional VAE)
  std::vector<Index> hidden = {};                 ///< hidden widths
  Index output = 0;                               ///< features of x
  Activation activation = Activation::relu;       ///< between layers; the output layer has none
  Likelihood likelihood = Likelihood::bernoulli;  ///< what the output parameterises
  double sigma = 1.0;                             ///< Gaussian with a fixed standard deviation
  bool learn_variance = false;                    ///< Gaussian with a learned per-feature log-variance
};

/// What a decoder's output parameterises: the observation model p(x | z).
struct ObservationOptions {
  Likelihood likelihood = Likelihood::bernoulli;  ///< Bernoulli on logits, or Gaussian on a mean
  double sigma = 1.0;                             ///< Gaussian with a fixed standard deviation
  bool learn_variance = false;                    ///< Gaussian with a learned per-feature log-variance
  Index features = 0;                             ///< F, the rows of x: sizes a learned variance
};

/// The decoder p(x | z): a network (an `Mlp`, or any module of yours) whose output is the logits
/// (Bernoulli) or the mean (Gaussian) of x, features x batch; with `learn_variance`, a parameter
/// "logvar" (features x 1) holds a learned log-variance per feature, soft-clamped in the
/// likelihood. Children: "network".
template <class S>
class Decoder : public Module<S> {
 public:
  /// Any module (moved in: a transposed-convolution net, a residual MLP) from codes to the
  /// likelihood's parameters. Throws `NumericError` unless `sigma` > 0, `ShapeError` for a
  /// learned variance without `features`.
  template <class Network>
  requires std::derived_from<Network, Module<S>> Decoder(Network network, const ObservationOptions& observation)
      : Decoder(std::make_unique<Network>(std::move(network)), observation) {}

  /// An `Mlp` latent -> hidden... -> output with no output activation, initialised from `rng`.
  /// Throws `ShapeError` unless `latent`, `output` and every hidden width are positive, and
  /// `NumericError` unless `sigma` > 0.
  static Decoder mlp(const DecoderOptions& options, Rng& rng) {
    return Decoder(
        std::make_unique<Mlp<S>>(
            MlpOptions{.sizes = sizes(options), .hidden = options.activation, .output = Activation::identity}, rng),
        {.likelihood = options.likelihood,
         .sigma = options.sigma,
         .learn_variance = options.learn_variance,
         .features = options.output});
  }

  /// Logits or mean of p(x | z) for the columns of z: features x batch.
  Var<S> forward(Tape<S>& tape, Var<S> z) const override { return network_->forward(tape, z); }

  /// -log p(x | z) per column (1 x batch), in nats, given this decoder's `output` for z.
  Var<S> negative_log_likelihood(Tape<S>& tape, Var<S> output, Var<S> x) const {
    if (likelihood_ == Likelihood::bernoulli) return Bernoulli<S>::nll(output, x);
    Gaussian<S> gaussian{.sigma = sigma_, .logvar = std::nullopt};
    if (learn_variance_) gaussian.logvar = logvar_.on(tape);
    return gaussian.nll(output, x);
  }

  /// The mean of p(x | z) from the decoder's raw output: sigmoid(logits) or the mean itself.
  template <class Derived>
  Matrix<S> mean(const Eigen::MatrixBase<Derived>& output) const {
    return likelihood_ == Likelihood::bernoulli ? Bernoulli<S>::mean(output) : Gaussian<S>::mean(output);
  }

  /// The likelihood.
  [[nodiscard]] Likelihood likelihood() const noexcept { return likelihood_; }
  /// The network from z to the likelihood's parameters.
  Module<S>& network() noexcept { return *network_; }

 protected:
  /// Lists "logvar" when the variance is learned; otherwise nothing.
  void visit_own_parameters(const typename Module<S>::ParameterVisitor& f) override {
    if (learn_variance_) f(logvar_);
  }
  /// Lists the child "network".
  void visit_children(const typename Module<S>::ChildVisitor& f) override { f("network", *network_); }

 private:
  Decoder(std::unique_ptr<Module<S>> network, const ObservationOptions& o)
      : network_(std::move(network)),
        likelihood_(o.likelihood),
        sigma_(o.sigma),
        learn_variance_(o.likelihood == Likelihood::gaussian && o.learn_variance),
        logvar_("logvar", learn_variance_ ? o.features : 0, 1) {
    if (!(o.sigma > 0)) throw NumericError("Decoder", "sigma must be positive, got " + std::to_string(o.sigma));
    if (learn_variance_) require_size("Decoder", "features", o.features);
  }

  static std::vector<Index> sizes(const DecoderOptions& o) {
    require_size("Decoder", "latent", o.latent);
    require_sizes("Decoder", "hidden", o.hidden);
    require_size("Decoder", "output", o.output);
    std::vector<Index> s{o.latent};
    s.insert(s.end(), o.hidden.begin(), o.hidden.end());
    s.push_back(o.output);
    return s;
  }

  std::unique_ptr<Module<S>> network_;
  Likelihood likelihood_;
  double sigma_;
  bool learn_variance_;
  Parameter<S> logvar_;
};

}  // namespace latent::inline v0
