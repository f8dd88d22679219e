#pragma once
/// @file
/// Training objectives: what `fit` and `evaluate` minimise and report for a batch. An objective
/// turns a batch into a `LossTerms` (the total to minimise and up to four named terms, each 1x1
/// in nats per example). `VaeObjective` (the ELBO or the IWAE bound) and `AutoencoderObjective`
/// (every variant's `loss`) come with latent; any struct with the same members trains too.

#include <array>
#include <concepts>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "latent/autodiff/tape.hpp"
#include "latent/core/error.hpp"
#include "latent/core/rng.hpp"
#include "latent/layers/module.hpp"
#include "latent/models/autoencoder.hpp"
#include "latent/models/vae.hpp"

namespace latent::inline v0 {

/// One batch as an objective sees it: `features x B` and the B labels (empty without labels).
template <class S>
struct Batch {
  const Matrix<S>& x;           ///< the examples, one per column
  std::span<const int> labels;  ///< their labels, or empty
};

/// Where training is when a loss is asked for: the weights the schedules give for this step.
struct StepInfo {
  double beta = 1.0;  ///< weight of the KL term (from `FitOptions::beta`); 1 in evaluation
};

/// At most this many named terms beside the total.
inline constexpr int max_loss_terms = 4;

/// A batch's loss: `total` is minimised; `terms[0 .. count)` are reported (History, logs) under
/// the objective's `term_names()`. All 1x1, per example.
template <class S>
struct LossTerms {
  Var<S> total;                                ///< what the optimizer minimises
  std::array<Var<S>, max_loss_terms> terms{};  ///< the parts, e.g. recon and KL
  int count = 0;                               ///< how many of `terms` are set
};

/// What `fit` needs of an objective `O` over scalar `S`:
/// - `model()`: the `Module<S>` whose parameters train (for eval/train mode and checkpoints);
/// - `term_names()`: the names of the reported terms, in order (fixed for the objective's life);
/// - `loss(tape, batch, rng, step)`: the training loss of a batch (may draw noise from `rng`);
/// - `evaluate(tape, batch, rng)`: the loss reported on validation data, the same terms.
template <class O, class S>
concept TrainingObjective = requires(O& o, Tape<S>& tape, const Batch<S>& batch, Rng& rng, const StepInfo& step) {
  { o.model() } -> std::convertible_to<Module<S>&>;
  { o.term_names() } -> std::convertible_to<std::vector<std::string>>;
  { o.loss(tape, batch, rng, step) } -> std::same_as<LossTerms<S>>;
  { o.evaluate(tape, batch, rng) } -> std::same_as<LossTerms<S>>;
};

/// How a `VaeObjective` trains and evaluates.
struct VaeObjectiveOptions {
  Index samples = 1;       ///< L, Monte Carlo samples of z per example (of the ELBO), or k of the IWAE bound
  double free_bits = 0.0;  ///< lambda of `ElboOptions::free_bits` (training only)
  bool iwae = false;       ///< train on the IWAE bound with `samples` samples instead of the ELBO
  Index eval_samples = 1;  ///< samples of the ELBO reported by `evaluate` (beta 1, no free bits)
};

/// The VAE's objective. Training: the negative ELBO `recon + beta KL` with beta from the step
/// (terms "recon" and "kl"), or the negative IWAE bound (no terms). Evaluation: the negative ELBO
/// with beta = 1 and no free bits, terms "recon" and "kl". A conditional VAE gets the batch's
/// labels one-hot. The VAE must outlive the objective.
template <class S>
class VaeObjective {
 public:
  /// The objective of `vae` under `options`; throws `ShapeError` for samples below 1.
  explicit VaeObjective(Vae<S>& vae, VaeObjectiveOptions options = {}) : vae_(&vae), o_(options) {
    require_size("VaeObjective", "samples", options.samples);
    require_size("VaeObjective", "eval_samples", options.eval_samples);
  }

  /// The VAE.
  Vae<S>& model() noexcept { return *vae_; }
  /// "recon" and "kl".
  [[nodiscard]] std::vector<std::string> term_names() const { return {"recon", "kl"}; }

  /// The training loss of `batch` (see the class).
  LossTerms<S> loss(Tape<S>& tape, const Batch<S>& batch, Rng& rng, const StepInfo& step) {
    const Var<S> x = tape.constant(batch.x);
    const auto labels = labels_of(tape, batch);
    if (o_.iwae) return {vae_->iwae(tape, x, rng, o_.samples, labels)};
    const Elbo<S> e =
        vae_->elbo(tape, x, rng, {.samples = o_.samples, .beta = step.beta, .free_bits = o_.free_bits}, labels);
    return {e.total, {e.recon, e.kl}, 2};
  }

  /// The negative ELBO of `batch` with beta = 1 (see the class).
  LossTerms<S> evaluate(Tape<S>& tape, const Batch<S>& batch, Rng& rng) {
    const Var<S> x = tape.constant(batch.x);
    const Elbo<S> e = vae_->elbo(tape, x, rng, {.samples = o_.eval_samples}, labels_of(tape, batch));
    return {e.total, {e.recon, e.kl}, 2};
  }

 private:
  // The one-hot labels of a conditional VAE's batch on the tape (written into a buffer kept
  // between batches, so a warm step does not allocate).
  std::optional<Var<S>> labels_of(Tape<S>& tape, const Batch<S>& batch) {
    const Index classes = vae_->classes();
    if (classes == 0) return std::nullopt;
    if (batch.labels.size() != std::size_t(batch.x.cols()))
      throw Error("VaeObjective", "a conditional VAE needs a label for every example; the data has " +
                                      std::to_string(batch.labels.size()) + " for " + std::to_string(batch.x.cols()) +
                                      " examples");
    // Grown to the largest batch only, so the short last batch of an epoch reuses it.
    const Index n = batch.x.cols();
    if (one_hot_.rows() != classes || one_hot_.cols() < n) one_hot_.resize(classes, n);
    auto y = one_hot_.leftCols(n);
    y.setZero();
    for (std::size_t j = 0; j < batch.labels.size(); ++j) {
      const int c = batch.labels[j];
      if (c < 0 || c >= classes)
        throw Error("VaeObjective", "label " + std::to_string(c) + " is outside 0.." + std::to_string(classes - 1));
      y(c, Index(j)) = S(1);
    }
    return tape.constant(y);
  }

  Vae<S>* vae_;
  VaeObjectiveOptions o_;
  Matrix<S> one_hot_;
};

/// Every autoencoder variant's objective: `Autoencoder::loss`, terms "reconstruction" and
/// "penalty". Evaluation is the same loss; `evaluate` of `fit` puts the model in eval mode, so a
/// denoising autoencoder is scored on clean inputs. The autoencoder must outlive the objective.
template <class S>
class AutoencoderObjective {
 public:
  /// The objective of `ae`.
  explicit AutoencoderObjective(Autoencoder<S>& ae) : ae_(&ae) {}

  /// The autoencoder.
  Autoencoder<S>& model() noexcept { return *ae_; }
  /// "reconstruction" and "penalty".
  [[nodiscard]] std::vector<std::string> term_names() const { return {"reconstruction", "penalty"}; }

  /// `Autoencoder::loss` of `batch`.
  LossTerms<S> loss(Tape<S>& tape, const Batch<S>& batch, Rng& rng, const StepInfo&) {
    const AutoencoderLoss<S> l = ae_->loss(tape, tape.constant(batch.x), rng);
    return {l.total, {l.reconstruction, l.penalty}, 2};
  }
  /// The same loss (the model is in eval mode when `fit` or `evaluate` calls this).
  LossTerms<S> evaluate(Tape<S>& tape, const Batch<S>& batch, Rng& rng) { return loss(tape, batch, rng, {}); }

 private:
  Autoencoder<S>* ae_;
};

/// The default objective of a model: a `VaeObjective` of a `Vae`, an `AutoencoderObjective` of
/// an `Autoencoder`, and any objective itself.
template <class S>
VaeObjective<S> objective_for(Vae<S>& vae, VaeObjectiveOptions options = {}) {
  return VaeObjective<S>(vae, options);
}
/// See `objective_for(Vae&)`.
template <class S>
AutoencoderObjective<S> objective_for(Autoencoder<S>& ae) {
  return AutoencoderObjective<S>(ae);
}

}  // namespace latent::inline v0
