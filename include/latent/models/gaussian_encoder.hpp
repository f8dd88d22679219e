#pragma once
/// @file
/// `GaussianEncoder`: q(z | x) = N(mu(x), diag(exp(logvar(x)))) from an MLP trunk and one shared
/// head GEMM split into mu and log-variance.

#include <concepts>
#include <memory>
#include <vector>

#include "latent/autodiff/ops/rows.hpp"
#include "latent/core/sizes.hpp"
#include "latent/distributions/diagonal_gaussian.hpp"
#include "latent/layers/mlp.hpp"
#include "latent/losses/reconstruction.hpp"

namespace latent::inline v0 {

/// Options of `GaussianEncoder`.
struct GaussianEncoderOptions {
  Index input = 0;                           ///< features of x (plus classes for a conditional VAE)
  std::vector<Index> hidden = {};            ///< trunk widths; empty: the heads read x directly
  Index latent = 0;                          ///< D, the dimension of z
  Activation activation = Activation::relu;  ///< after every trunk layer
  double min_logvar = -30.0;                 ///< soft lower bound of the log-variance
  double max_logvar = 20.0;                  ///< soft upper bound: exp(logvar / 2) stays finite in float
  LinearOptions linear = {};                 ///< bias and init of every layer
};

/// The VAE's probabilistic encoder q(z | x) = N(mu, diag(sigma^2)): a trunk (an MLP, or any
/// module of yours) and a head. The mu and log-variance heads are one Linear of 2D outputs (one
/// GEMM), split by rows. The log-variance is clamped softly into [min_logvar, max_logvar], where
/// exp cannot overflow. Children: "trunk" (if any), "head".
template <class S>
class GaussianEncoder : public Module<S> {
 public:
  /// Any module as the trunk (moved in: a convolutional net, a residual block, a `Sequential`),
  /// followed by the head, initialised from `rng`. `options.input` is the number of features the
  /// trunk yields per example (the head's input); `options.hidden` must be empty (`Error`
  /// otherwise: the trunk is yours). Throws `ShapeError` for non-positive sizes.
  template <class Trunk>
  requires std::derived_from<Trunk, Module<S>> GaussianEncoder(Trunk trunk, const GaussianEncoderOptions& options,
                                                               Rng& rng)
      : GaussianEncoder(head_only(options), rng) {
    trunk_ = std::make_unique<Trunk>(std::move(trunk));
  }

  /// The classic MLP encoder: `input -> hidden...` with `activation` after every layer, then the
  /// head (no trunk when `hidden` is empty), initialised from `rng`. Throws `ShapeError` for
  /// non-positive sizes, naming the option.
  static GaussianEncoder mlp(const GaussianEncoderOptions& options, Rng& rng) {
    GaussianEncoder q(options, rng);
    if (!options.hidden.empty()) {
      std::vector<Index> sizes{options.input};
      sizes.insert(sizes.end(), options.hidden.begin(), options.hidden.end());
      q.trunk_ = std::make_unique<Mlp<S>>(
          MlpOptions{
              .sizes = sizes, .hidden = options.activation, .output = options.activation, .linear = options.linear},
          rng);
    }
    return q;
  }

  /// q(z | x) for the columns of x: one diagonal Gaussian per column, mean and (clamped)
  /// log-variance each latent x batch.
  DiagonalGaussian<S> encode(Tape<S>& tape, Var<S> x) const {
    const Var<S> h = head_.forward(tape, trunk_ ? trunk_->forward(tape, x) : x);
    return {slice_rows(h, 0, latent_), losses::soft_clamp(slice_rows(h, latent_, latent_), min_logvar_, max_logvar_)};
  }

  /// mu stacked on the (clamped) log-variance: 2D x batch.
  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    const auto q = encode(tape, x);
    return concat_rows(q.mean(), q.logvar());
  }

  /// D.
  [[nodiscard]] Index latent() const noexcept { return latent_; }

 protected:
  /// Lists the children "trunk" (if any) and "head".
  void visit_children(const typename Module<S>::ChildVisitor& f) override {
    if (trunk_) f("trunk", *trunk_);
    f("head", head_);
  }

 private:
  // The head alone, drawn from `rng` first (the classic model's trunk draws after it).
  GaussianEncoder(const GaussianEncoderOptions& options, Rng& rng)
      : head_(head_input(options), 2 * options.latent, rng, options.linear),
        latent_(options.latent),
        min_logvar_(options.min_logvar),
        max_logvar_(options.max_logvar) {}

  static const GaussianEncoderOptions& head_only(const GaussianEncoderOptions& o) {
    if (!o.hidden.empty())
      throw Error("GaussianEncoder",
                  "hidden widths given beside a trunk of your own (the trunk's layers are yours; "
                  ".input is the number of features it yields)");
    return o;
  }

  // The head's input width, once every size is checked (the head is built first).
  static Index head_input(const GaussianEncoderOptions& o) {
    require_size("GaussianEncoder", "input", o.input);
    require_sizes("GaussianEncoder", "hidden", o.hidden);
    require_size("GaussianEncoder", "latent", o.latent);
    return o.hidden.empty() ? o.input : o.hidden.back();
  }

  std::unique_ptr<Module<S>> trunk_;  // null: the head reads x itself
  Linear<S> head_;
  Index latent_;
  double min_logvar_, max_logvar_;
};

}  // namespace latent::inline v0
