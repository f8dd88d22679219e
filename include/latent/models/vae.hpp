#pragma once
/// @file
/// `Vae`: the variational autoencoder of the lecture. q(z | x) = N(mu, diag(sigma^2)) from a
/// `GaussianEncoder`, p(x | z) from a `Decoder`, prior p(z) = N(0, I), trained by maximising
/// the ELBO estimated by Monte Carlo with the reparameterization trick.

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "latent/autodiff/ops/noise.hpp"
#include "latent/autodiff/ops/reduce.hpp"
#include "latent/autodiff/ops/shape.hpp"
#include "latent/losses/reduction.hpp"
#include "latent/losses/targets.hpp"
#include "latent/models/checks.hpp"
#include "latent/models/decoder.hpp"
#include "latent/models/detail/chunks.hpp"
#include "latent/models/gaussian_encoder.hpp"

namespace latent::inline v0 {

/// Options of `Vae::mlp`, the classic MLP VAE. The defaults are the reference model: 784-400-20 encoder,
/// 20-400-784 decoder, ReLU, Bernoulli decoder from logits.
struct VaeOptions {
  Index input = 784;                              ///< F, features of x
  std::vector<Index> hidden = {400};              ///< hidden widths (decoder mirrors them)
  Index latent = 20;                              ///< D, dimension of z
  Activation activation = Activation::relu;       ///< hidden activation
  Likelihood likelihood = Likelihood::bernoulli;  ///< p(x | z)
  double sigma = 1.0;                             ///< Gaussian: fixed standard deviation
  bool learn_variance = false;                    ///< Gaussian: learn a per-feature log-variance instead
  Index classes = 0;                              ///< > 0: conditional VAE on one-hot labels of this many classes
  LinearOptions linear = {};                      ///< bias and init of every layer
};

/// Options of one ELBO evaluation.
struct ElboOptions {
  Index samples = 1;       ///< L, Monte Carlo samples of z per example
  double beta = 1.0;       ///< weight of the KL term (beta-VAE; a warm-up ramps it from 0)
  double free_bits = 0.0;  ///< lambda: each latent dimension's batch-mean KL counts as at least lambda nats
};

/// The ELBO split into its terms, each 1x1 in nats per example (summed over features and latent
/// dimensions, averaged over the batch).
template <class S>
struct Elbo {
  Var<S> total;  ///< the loss to minimise: recon + beta * KL (KL after free bits)
  Var<S> recon;  ///< -E_q[log p(x | z)], estimated with L samples
  Var<S> kl;     ///< KL(q(z | x) || p(z)), in closed form
};

/// How `Vae::interpolate` walks between two codes.
enum class Interpolation {
  linear,     ///< (1 - t) a + t b
  spherical,  ///< slerp: along the great circle, keeping the norm typical of N(0, I) samples
};

/// One-hot columns (classes x n) of integer labels in [0, classes); throws `Error` otherwise,
/// and `ShapeError` unless classes >= 1.
template <class S>
Matrix<S> one_hot(std::span<const int> labels, Index classes) {
  require_size("one_hot", "classes", classes);
  Matrix<S> y = Matrix<S>::Zero(classes, Index(labels.size()));
  for (std::size_t j = 0; j < labels.size(); ++j) {
    if (labels[j] < 0 || labels[j] >= classes)
      throw Error("one_hot", "label " + std::to_string(labels[j]) + " at " + std::to_string(j) + " is outside 0.." +
                                 std::to_string(classes - 1));
    y(labels[j], Index(j)) = S(1);
  }
  return y;
}

/// The variational autoencoder. Children "encoder" and "decoder".
///
/// On a tape (training): `elbo`, `iwae`, `log_weights`. Without a tape (evaluation: const, on a
/// tape of the call's own, no gradients; randomness only from the `Rng&` passed in): `encode`, `decode`, `sample`,
/// `reconstruct`, `interpolate`, `log_likelihood`, `active_units`. Inputs are `features x batch`. A conditional VAE
/// (`classes > 0`) takes one-hot labels (classes x batch) beside x everywhere; they join the encoder's input and the
/// decoder's input.
template <class S>
class Vae : public Module<S> {
 public:
  /// A VAE from its two networks: q(z | x) is `encoder`, a `GaussianEncoder` around any trunk,
  /// and p(x | z) is `decoder`, a `Decoder` around any network (both moved in). `input` is F, the
  /// rows of x. `classes` > 0 makes it conditional: the encoder then reads F + classes rows and
  /// the decoder D + classes. Throws `ShapeError` for `input` below 1 or negative `classes`.
  Vae(GaussianEncoder<S> encoder, Decoder<S> decoder, Index input, Index classes = 0)
      : input_(require_size("Vae", "input", input)),
        classes_(require_size("Vae", "classes", classes, 0)),
        encoder_(std::move(encoder)),
        decoder_(std::move(decoder)) {}

  /// The classic MLP VAE of `options` (by default the reference 784-400-20 model), initialised
  /// from `rng`: encoder F (+ classes) -> hidden... -> 2D, decoder D (+ classes) -> hidden
  /// reversed -> F. Throws `ShapeError` naming the option for a size below 1 (`input`, `latent`,
  /// a `hidden` width) or negative `classes`.
  static Vae mlp(const VaeOptions& options, Rng& rng) {
    require_size("Vae", "input", options.input);
    require_size("Vae", "latent", options.latent);
    require_sizes("Vae", "hidden", options.hidden);
    require_size("Vae", "classes", options.classes, 0);
    auto encoder = GaussianEncoder<S>::mlp({.input = options.input + options.classes,
                                            .hidden = options.hidden,
                                            .latent = options.latent,
                                            .activation = options.activation,
                                            .linear = options.linear},
                                           rng);
    auto decoder = Decoder<S>::mlp({.latent = options.latent + options.classes,
                                    .hidden = std::vector<Index>(options.hidden.rbegin(), options.hidden.rend()),
                                    .output = options.input,
                                    .activation = options.activation,
                                    .likelihood = options.likelihood,
                                    .sigma = options.sigma,
                                    .learn_variance = options.learn_variance},
                                   rng);
    return Vae(std::move(encoder), std::move(decoder), options.input, options.classes);
  }

  // --- on a tape ----------------------------------------------------------------------------

  /// The negative ELBO of the lecture, estimated with L = `options.samples` draws per example:
  /// `L_VAE = -E_q(z|x)[log p(x | z)] + beta KL(q(z | x) || p(z))`, z = mu + sigma .* eps,
  /// eps ~ N(0, I) from `rng`. Terms in nats per example. `labels` (classes x batch, one-hot) for
  /// a conditional VAE. Throws `ShapeError` for a wrong row count or an empty batch, `Error` for
  /// a Bernoulli target outside [0, 1], `NumericError` if a term becomes NaN or infinite.
  Elbo<S> elbo(Tape<S>& tape, Var<S> x, Rng& rng, const ElboOptions& options = {},
               std::optional<Var<S>> labels = std::nullopt) const {
    check_input("elbo", x, labels);
    check_targets("elbo", x);
    require_size("elbo", "ElboOptions::samples", options.samples);
    if (!(options.beta >= 0 && options.free_bits >= 0 && std::isfinite(options.beta) &&
          std::isfinite(options.free_bits)))
      throw NumericError("elbo", "ElboOptions::beta and free_bits must be finite and >= 0, got beta=" +
                                     std::to_string(options.beta) + " free_bits=" + std::to_string(options.free_bits));
    const NoiseFrom<S> noise(tape, rng);
    const auto q = encoder_.encode(tape, with_labels(x, labels));
    const Index L = options.samples;
    const Var<S> z = q.sample(q.batch() * L, rng);
    const Var<S> out = decoder_.forward(tape, with_labels(z, labels, L));
    // The mean over all B L columns is the mean over examples of the mean over samples.
    const Var<S> recon = mean(decoder_.negative_log_likelihood(tape, out, repeat(x, L)));
    const Var<S> kl = mean(q.kl_to_standard_normal());
    const Var<S> kl_term = options.free_bits > 0 ? free_bits_kl(q, options.free_bits) : kl;
    require_finite<S>("elbo", "reconstruction term", recon);
    require_finite<S>("elbo", "KL term", kl);
    return {recon + scale(kl_term, S(options.beta)), recon, kl};
  }

  /// Log importance weights `log w_l = log p(x, z_l) - log q(z_l | x)` for k draws z_l ~ q(z | x)
  /// per example: k x batch (column j holds example j's draws).
  Var<S> log_weights(Tape<S>& tape, Var<S> x, Rng& rng, Index k, std::optional<Var<S>> labels = std::nullopt) const {
    check_input("log_weights", x, labels);
    check_targets("log_weights", x);
    require_size("log_weights", "k", k);
    const NoiseFrom<S> noise(tape, rng);
    const auto q = encoder_.encode(tape, with_labels(x, labels));
    const Index n = q.batch() * k;
    const Var<S> eps = standard_normal(tape, q.dim(), n, rng);
    const Var<S> z = q.reparameterize(eps);
    const Var<S> log_px =
        -decoder_.negative_log_likelihood(tape, decoder_.forward(tape, with_labels(z, labels, k)), repeat(x, k));
    // log p(z) - log q(z | x) = -|z|^2 / 2 + |eps|^2 / 2 + sum(logvar) / 2: z - mu = sigma .* eps,
    // and the normalising constants of both Gaussians cancel.
    const Var<S> eps_norm = tape.record("half_squared_norm", 1, n);
    tape.value_of(eps_norm) = tape.value(eps).colwise().squaredNorm() * S(0.5);
    const Var<S> log_ratio = eps_norm + scale(colwise_sum(square(z)) - repeat(colwise_sum(q.logvar()), k), S(-0.5));
    return reshape(log_px + log_ratio, k, q.batch());
  }

  /// The negative importance-weighted bound (Burda et al. 2015), 1x1 in nats per example:
  /// `-log (1/k) sum_l w_l`, computed as a log-sum-exp. k = 1 is the negative ELBO with the
  /// KL estimated by sampling; the bound tightens towards -log p(x) as k grows.
  Var<S> iwae(Tape<S>& tape, Var<S> x, Rng& rng, Index k, std::optional<Var<S>> labels = std::nullopt) const {
    const Var<S> bound = shift(colwise_logsumexp(log_weights(tape, x, rng, k, labels)), -S(std::log(double(k))));
    const Var<S> loss = -mean(bound);
    require_finite<S>("iwae", "importance-weighted bound", loss);
    return loss;
  }

  /// The VAE as a deterministic module: the decoder's output (logits or mean) at z = mu(x), the
  /// posterior mean, so a `Vae` nests in other modules without a hidden noise source. Training
  /// samples z through `elbo` or `iwae`, which take the Rng explicitly.
  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    check_input("forward", x, std::nullopt);
    return decoder_.forward(tape, encoder_.encode(tape, x).mean());
  }

  // --- without a tape: const, on a tape of the call's own ------------------------------------

  /// mu and log-variance of q(z | x) for the columns of x: each latent x n.
  std::pair<Matrix<S>, Matrix<S>> encode(const Matrix<S>& x, const Matrix<S>& labels = {}) const {
    check_matrix("encode", "x", x, input_, "features", labels);
    Matrix<S> mu(latent(), x.cols()), logvar(latent(), x.cols());
    detail::on_chunks<S>(x.cols(), [&](Tape<S>& t, Index j, Index n) {
      const auto q = encoder_.encode(t, with_labels(t.constant(x.middleCols(j, n)), chunk(t, labels, j, n)));
      mu.middleCols(j, n) = q.mean().value();
      logvar.middleCols(j, n) = q.logvar().value();
    });
    return {mu, logvar};
  }

  /// The mean of p(x | z) (probabilities for Bernoulli) for the columns of z: features x n.
  Matrix<S> decode(const Matrix<S>& z, const Matrix<S>& labels = {}) const {
    check_matrix("decode", "z", z, latent(), "dimensions of z", labels);
    Matrix<S> out(input_, z.cols());
    detail::on_chunks<S>(z.cols(), [&](Tape<S>& t, Index j, Index n) {
      out.middleCols(j, n) = decoder_.mean(
          decoder_.forward(t, with_labels(t.constant(z.middleCols(j, n)), chunk(t, labels, j, n))).value());
    });
    return out;
  }

  /// n new examples: z ~ p(z) = N(0, I), decoded to the mean of p(x | z). For a conditional VAE,
  /// `label` picks the class of all n.
  Matrix<S> sample(Index n, Rng& rng, std::optional<int> label = std::nullopt) const {
    require_size("sample", "n", n, 0);
    Matrix<S> z(latent(), n);
    rng.fill_normal(z);
    return decode(z, class_labels(label, n));
  }

  /// x passed through the model: z ~ q(z | x) (sampled, not the mean), decoded to the mean of
  /// p(x | z).
  Matrix<S> reconstruct(const Matrix<S>& x, Rng& rng, const Matrix<S>& labels = {}) const {
    check_matrix("reconstruct", "x", x, input_, "features", labels);
    auto [mu, logvar] = encode(x, labels);
    Matrix<S> eps(mu.rows(), mu.cols());
    rng.fill_normal(eps);
    return decode(mu + ((logvar.array() * S(0.5)).exp() * eps.array()).matrix(), labels);
  }

  /// `steps` codes from a to b (inclusive), decoded: features x steps. Pass the posterior means
  /// of two inputs (`encode(x).first.col(j)`) to morph one into the other.
  Matrix<S> interpolate(const Vector<S>& a, const Vector<S>& b, Index steps, Interpolation how = Interpolation::linear,
                        std::optional<int> label = std::nullopt) const {
    require_size("interpolate", "steps", steps);
    if (a.size() != latent() || b.size() != latent())
      throw ShapeError("interpolate", "codes have " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                                          " entries but the latent space has " + std::to_string(latent()));
    Matrix<S> z(latent(), steps);
    const double norms = double(a.norm()) * double(b.norm());
    const double cos_omega = norms > 0 ? double(a.dot(b)) / norms : 1.0;
    const double omega = std::acos(std::clamp(cos_omega, -1.0, 1.0));
    for (Index s = 0; s < steps; ++s) {
      const double t = steps == 1 ? 0.0 : double(s) / double(steps - 1);
      double wa = 1 - t, wb = t;
      if (how == Interpolation::spherical && std::sin(omega) > 1e-6) {
        // slerp(a, b; t) = sin((1 - t) omega) / sin(omega) a + sin(t omega) / sin(omega) b.
        wa = std::sin((1 - t) * omega) / std::sin(omega);
        wb = std::sin(t * omega) / std::sin(omega);
      }
      z.col(s) = S(wa) * a + S(wb) * b;
    }
    return decode(z, class_labels(label, steps));
  }

  /// Most decoded samples one `log_likelihood` pass takes when it sizes its passes itself: k
  /// reaches thousands and an MLP VAE's sample costs a few kB, so more than `on_chunks`'s 1024.
  static constexpr Index max_samples_per_pass = 4096;

  /// The importance-weighted bound on log p(x) with k samples, per example (n values, nats):
  /// `log (1/k) sum_l p(x, z_l) / q(z_l | x)`, z_l ~ q(z | x). Computed in passes of at most
  /// `max_columns` decoded samples and combined with a stable log-mean-exp, so k = 5000 fits in
  /// memory. Without `max_columns`, a first pass of 64 samples of the first example measures a
  /// sample's tape bytes, and the other passes take as many samples as fit in 32 MB (at most
  /// `max_samples_per_pass`): a conv VAE's decoded sample costs ~0.24 MB. Lower bound of log p(x),
  /// tighter as k grows; k = 1 is an ELBO sample. Throws `ShapeError` for an x without columns
  /// (the mean of no values is no bound).
  Vector<S> log_likelihood(const Matrix<S>& x, Index k, Rng& rng, const Matrix<S>& labels = {},
                           std::optional<Index> max_columns = std::nullopt) const {
    require_size("log_likelihood", "k", k);
    if (max_columns) require_size("log_likelihood", "max_columns", *max_columns);
    check_matrix("log_likelihood", "x", x, input_, "features", labels);
    require_batch("log_likelihood", "x", x.rows(), x.cols(), input_);
    // Checked whole, so an error names the place in the caller's x, not in a pass.
    if (decoder_.likelihood() == Likelihood::bernoulli) require_unit_interval("log_likelihood", x);
    Vector<S> out(x.cols());
    Matrix<double> lw;
    Tape<S> t;
    t.set_grad_enabled(false);
    // Log weights of samples s .. s + m - 1 of examples j .. j + n - 1 into lw, in one pass.
    const auto pass = [&](Index j, Index n, Index s, Index m) {
      t.clear();
      lw.block(s, 0, m, n) = log_weights(t, t.constant(x.middleCols(j, n)), rng, m, chunk(t, labels, j, n))
                                 .value()
                                 .template cast<double>();
    };
    // Samples s0 .. k - 1 of examples j .. j + n - 1 in passes of `per_pass`, then their bounds.
    const auto bound = [&](Index j, Index n, Index s0, Index per_pass) {
      for (Index s = s0; s < k; s += per_pass) pass(j, n, s, std::min(per_pass, k - s));
      for (Index c = 0; c < n; ++c) {
        const double top = lw.col(c).maxCoeff();
        out(j + c) = S(top + std::log((lw.col(c).array() - top).exp().sum()) - std::log(double(k)));
      }
    };
    Index j = 0;
    if (!max_columns) {
      const Index m = std::min(k, detail::first_chunk_columns);
      lw.resize(k, 1);
      pass(0, 1, 0, m);
      max_columns = detail::columns_within_budget(t.arena_used(), m, detail::first_chunk_columns, max_samples_per_pass);
      bound(0, 1, m, std::min(k, *max_columns));
      j = 1;
    }
    const Index per_pass = std::min(k, *max_columns), examples = std::max<Index>(1, *max_columns / per_pass);
    lw.resize(k, examples);
    for (; j < x.cols(); j += examples) bound(j, std::min(examples, x.cols() - j), 0, per_pass);
    return out;
  }

  /// Active units (Burda et al. 2015): latent dimensions u whose posterior mean varies over the
  /// data, `Var_x(E_q[z_u]) > threshold` (0.01 by their definition). Throws `ShapeError` for an
  /// x without columns.
  Index active_units(const Matrix<S>& x, double threshold = 0.01, const Matrix<S>& labels = {}) const {
    require_batch("active_units", "x", x.rows(), x.cols(), input_);
    const Matrix<S> mu = encode(x, labels).first;
    const auto centred = mu.colwise() - mu.rowwise().mean();
    const Vector<S> variance = centred.rowwise().squaredNorm() / S(std::max<Index>(1, mu.cols() - 1));
    return Index((variance.array() > S(threshold)).count());
  }

  /// D.
  [[nodiscard]] Index latent() const noexcept { return encoder_.latent(); }
  /// The number of classes of a conditional VAE (0: unconditional).
  [[nodiscard]] Index classes() const noexcept { return classes_; }
  /// q(z | x).
  GaussianEncoder<S>& encoder() noexcept { return encoder_; }
  /// p(x | z).
  Decoder<S>& decoder() noexcept { return decoder_; }

 protected:
  /// Lists the children "encoder" and "decoder".
  void visit_children(const typename Module<S>::ChildVisitor& f) override {
    f("encoder", encoder_);
    f("decoder", decoder_);
  }

 private:
  // A batch on the tape: F rows, at least one column, labels as the model expects them.
  void check_input(const char* where, Var<S> x, const std::optional<Var<S>>& labels) const {
    require_batch(where, "x", x.rows(), x.cols(), input_);
    if (bool(labels) != (classes_ > 0))
      throw Error(where, classes_ > 0 ? "a conditional VAE needs labels" : "labels given to an unconditional VAE");
    if (labels && (labels->rows() != classes_ || labels->cols() != x.cols()))
      throw ShapeError(where, "labels are " + detail::shape_of(*labels) + " but x is " + detail::shape_of(x) +
                                  " and there are " + std::to_string(classes_) + " classes");
  }

  // Targets of a Bernoulli decoder in [0, 1]: one pass over x, before it is repeated for L samples.
  void check_targets(const char* where, Var<S> x) const {
    if (decoder_.likelihood() == Likelihood::bernoulli) require_unit_interval(where, x.value());
  }

  // A matrix for the evaluation API: `rows` rows (any number of columns; 0 gives an empty
  // answer), and labels exactly when the VAE is conditional, one column per column of m.
  void check_matrix(const char* where, const char* what, const Matrix<S>& m, Index rows, const char* meaning,
                    const Matrix<S>& labels) const {
    require_rows(where, what, m.rows(), m.cols(), rows, meaning);
    const bool given = labels.rows() != 0 || labels.cols() != 0;
    if (given != (classes_ > 0))
      throw Error(where, classes_ > 0 ? "a conditional VAE needs labels" : "labels given to an unconditional VAE");
    if (given && (labels.rows() != classes_ || labels.cols() != m.cols()))
      throw ShapeError(where, "labels are " + detail::shape_str(labels.rows(), labels.cols()) + " but " + what +
                                  " is " + detail::shape_str(m.rows(), m.cols()) + " and there are " +
                                  std::to_string(classes_) + " classes");
  }

  // [v; y], with y's columns repeated k times to follow k samples per example.
  Var<S> with_labels(Var<S> v, const std::optional<Var<S>>& labels, Index k = 1) const {
    return labels ? concat_rows(v, repeat(*labels, k)) : v;
  }
  static Var<S> repeat(Var<S> v, Index k) { return k == 1 ? v : repeat_cols(v, k); }

  // Free bits (Kingma et al. 2016): sum_d max(lambda, mean_batch KL_d), KL_d the per-dimension
  // KL 1/2 (mu^2 + exp(lv) - 1 - lv). Below lambda a dimension's KL exerts no pull.
  static Var<S> free_bits_kl(const DiagonalGaussian<S>& q, double lambda) {
    const Var<S> kl_elem = scale(shift(square(q.mean()) + exp(q.logvar()) - q.logvar(), S(-1)), S(0.5));
    const Var<S> kl_dim = scale(rowwise_sum(kl_elem), S(1) / S(q.batch()));
    return sum(shift(relu(shift(kl_dim, S(-lambda))), S(lambda)));
  }

  std::optional<Var<S>> chunk(Tape<S>& t, const Matrix<S>& labels, Index j, Index n) const {
    if (labels.size() == 0) return std::nullopt;
    return t.constant(labels.middleCols(j, n));
  }

  Matrix<S> class_labels(std::optional<int> label, Index n) const {
    if (!label) return {};
    if (classes_ == 0) throw Error("sample", "a class label given to an unconditional VAE");
    return one_hot<S>(std::vector<int>(std::size_t(n), *label), classes_);
  }

  Index input_, classes_;  // F, and the number of classes of a conditional VAE (0: unconditional)
  GaussianEncoder<S> encoder_;
  Decoder<S> decoder_;
};

}  // namespace latent::inline v0
