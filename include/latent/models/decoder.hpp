#pragma once
/// @file
/// `Decoder`: p(x | z) as an MLP from codes to the parameters of a `Likelihood`.

#include <optional>
#include <vector>

#include "latent/core/sizes.hpp"
#include "latent/layers/mlp.hpp"
#include "latent/models/likelihood.hpp"

namespace latent::inline v0 {

/// Options of `Decoder`.
struct DecoderOptions {
  Index latent = 0;                          ///< D (plus classes for a conditional VAE)
  std::vector<Index> hidden = {};            ///< hidden widths
  Index output = 0;                          ///< features of x
  Activation activation = Activation::relu;  ///< between layers; the output layer has none
  Likelihood likelihood = Likelihood::bernoulli;  ///< what the output parameterises
  double sigma = 1.0;                        ///< Gaussian with a fixed standard deviation
  bool learn_variance = false;               ///< Gaussian with a learned per-feature log-variance
};

/// The decoder p(x | z): an `Mlp` whose output is the logits (Bernoulli) or the mean
/// (Gaussian) of x; with `learn_variance`, a parameter "logvar" (features x 1) holds a learned
/// log-variance per feature, soft-clamped in the likelihood. Children: "mlp".
template <class S>
class Decoder : public Module<S> {
 public:
  /// An `Mlp` latent -> hidden... -> output with no output activation, initialised from `rng`.
  /// Throws `ShapeError` unless `latent`, `output` and every hidden width are positive, and
  /// `NumericError` unless `sigma` > 0.
  Decoder(const DecoderOptions& options, Rng& rng)
      : mlp_(MlpOptions{.sizes = sizes(options), .hidden = options.activation, .output = Activation::identity}, rng),
        likelihood_(options.likelihood),
        sigma_(options.sigma),
        learn_variance_(options.likelihood == Likelihood::gaussian && options.learn_variance),
        logvar_("logvar", learn_variance_ ? options.output : 0, 1) {
    if (!(options.sigma > 0)) throw NumericError("Decoder", "sigma must be positive, got " + std::to_string(options.sigma));
  }

  /// Logits or mean of p(x | z) for the columns of z: features x batch.
  Var<S> forward(Tape<S>& tape, Var<S> z) override { return mlp_.forward(tape, z); }

  /// -log p(x | z) per column (1 x batch), in nats, given this decoder's `output` for z.
  Var<S> negative_log_likelihood(Tape<S>& tape, Var<S> output, Var<S> x) {
    std::optional<Var<S>> lv;
    if (learn_variance_) lv = logvar_.on(tape);
    return latent::negative_log_likelihood(likelihood_, output, x, sigma_, lv);
  }

  /// The mean of p(x | z) from the decoder's raw output: sigmoid(logits) or the mean itself.
  template <class Derived>
  Matrix<S> mean(const Eigen::MatrixBase<Derived>& output) const {
    if (likelihood_ == Likelihood::gaussian) return output;
    return (1 + (-output.array()).exp()).inverse().matrix();
  }

  /// The likelihood.
  [[nodiscard]] Likelihood likelihood() const noexcept { return likelihood_; }
  /// The network from z to the likelihood's parameters.
  Mlp<S>& mlp() noexcept { return mlp_; }

 protected:
  /// Lists "logvar" when the variance is learned; otherwise nothing.
  void visit_own_parameters(const typename Module<S>::ParameterVisitor& f) override {
    if (learn_variance_) f(logvar_);
  }
  /// Lists the child "mlp".
  void visit_children(const typename Module<S>::ChildVisitor& f) override { f("mlp", mlp_); }

 private:
  static std::vector<Index> sizes(const DecoderOptions& o) {
    require_size("Decoder", "latent", o.latent);
    require_sizes("Decoder", "hidden", o.hidden);
    require_size("Decoder", "output", o.output);
    std::vector<Index> s{o.latent};
    s.insert(s.end(), o.hidden.begin(), o.hidden.end());
    s.push_back(o.output);
    return s;
  }

  Mlp<S> mlp_;
  Likelihood likelihood_;
  double sigma_;
  bool learn_variance_;
  Parameter<S> logvar_;
};

}  // namespace latent::inline v0
