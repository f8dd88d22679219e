#pragma once
/// @file
/// `Autoencoder`: the deterministic autoencoder family of the lecture. Encoder
/// f: x in R^F -> z in R^D, decoder g: z -> x^ in R^F, trained to minimise
/// `L(x, g(f(x~))) + Omega(z) + lambda_c ||J_f(x~)||_F^2`, where x~ = x unless the model
/// denoises. One options struct selects and combines the variants: undercomplete (D < F),
/// regularized and sparse (`penalty`), denoising (`corruption`), contractive (`contractive`).

#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "latent/autodiff/ops/fused.hpp"
#include "latent/distributions/likelihood.hpp"
#include "latent/layers/mlp.hpp"
#include "latent/losses/targets.hpp"
#include "latent/models/checks.hpp"
#include "latent/models/code_penalty.hpp"
#include "latent/models/contractive.hpp"
#include "latent/models/corruption.hpp"
#include "latent/models/detail/chunks.hpp"

namespace latent::inline v0 {

/// Options of `Autoencoder`: the variant (likelihood, penalty, corruption) and, for
/// `Autoencoder::mlp`, the networks' widths. The defaults are a plain undercomplete autoencoder for 28x28
/// images: 784-256-32 encoder, 32-256-784 decoder, ReLU, linear code, Bernoulli likelihood.
struct AutoencoderOptions {
  Index input = 784;                                   ///< F, features of x
  std::vector<Index> hidden = {256};                   ///< encoder hidden widths
  std::optional<std::vector<Index>> decoder_hidden{};  ///< decoder hidden widths; default: `hidden` reversed
  Index latent = 32;                                   ///< D, dimension of the code z
  Activation activation = Activation::relu;            ///< after every hidden layer
  Activation code_activation = Activation::identity;   ///< s in z = s(last encoder layer)
  Likelihood likelihood = Likelihood::bernoulli;       ///< L: BCE from logits, or squared error (Gaussian)
  CodePenalty penalty = CodePenalty::none;             ///< Omega(z)
  double lambda = 0.0;                                 ///< weight of Omega(z)
  double rho = 0.05;                                   ///< target rate of `CodePenalty::kl_sparsity`
  Corruption corruption = {};                          ///< C(x~ | x) of a denoising AE (training mode only)
  double contractive = 0.0;                            ///< lambda_c, weight of ||J_f(x)||_F^2 (one-layer encoders)
  LinearOptions linear = {};                           ///< bias and init of every layer
};

/// An autoencoder's loss split into its terms, each 1x1, per example (summed over features,
/// averaged over the batch).
template <class S>
struct AutoencoderLoss {
  Var<S> total;           ///< reconstruction + penalty: what to minimise
  Var<S> reconstruction;  ///< L(x, g(f(x~))) against the clean x: nats (Bernoulli) or squared error (Gaussian)
  Var<S> penalty;         ///< lambda Omega(z) + lambda_c ||J_f(x~)||_F^2, already weighted (0 if neither)
};

/// The autoencoder of the lecture. Children "encoder" (by default an `Mlp` F -> hidden -> D,
/// `activation` between layers, `code_activation` on z) and "decoder" (by default an `Mlp`
/// D -> decoder hidden -> F, linear output: logits for Bernoulli, the mean for Gaussian); either
/// can be any module of yours.
///
/// On a tape (training): `encode`, `decode`, `forward` (= decode(encode(x)), no noise), `loss`.
/// Without a tape (evaluation: const, on a tape of the call's own, in chunks; no gradients):
/// `encode`, `decode`, `reconstruct` on matrices. Inputs are `features x batch`.
template <class S>
class Autoencoder : public Module<S> {
 public:
  /// The classic MLP autoencoder of `options`: builds and initialises (from `rng`) both
  /// networks, encoder first. Throws `Error` for a variant its
  /// options cannot support: KL sparsity without sigmoid codes, a contractive penalty on a
  /// deeper encoder (see `require_contractive_encoder`), a bad noise level, negative weights;
  /// `ShapeError` naming the option for a size below 1 (`input`, `latent`, a hidden width).
  static Autoencoder mlp(const AutoencoderOptions& options, Rng& rng) {
    return Autoencoder(mlp_networks(checked(options), rng), options);
  }

  /// An autoencoder from its two networks, moved in: `encoder` maps x (`options.input` rows) to
  /// the code z (`options.latent` rows), `decoder` maps z to the logits (Bernoulli) or the mean
  /// (Gaussian) of x. The rest of `options` (likelihood, penalty, corruption) applies as for the
  /// MLP model; its widths and activations describe the MLP model only and are not read, except
  /// `code_activation`, which a KL sparsity penalty needs to be sigmoid (say so when your encoder
  /// ends in one). The contractive penalty needs the library's one-layer `Mlp` encoder.
  template <class EncoderNet, class DecoderNet>
  requires std::derived_from<EncoderNet, Module<S>> && std::derived_from<DecoderNet, Module<S>> Autoencoder(
      EncoderNet encoder, DecoderNet decoder, const AutoencoderOptions& options)
      : Autoencoder(Networks{std::make_unique<EncoderNet>(std::move(encoder)),
                             std::make_unique<DecoderNet>(std::move(decoder))},
                    checked(options, false)) {}

  // --- on a tape ----------------------------------------------------------------------------

  /// The code z = f(x): D x batch.
  Var<S> encode(Tape<S>& tape, Var<S> x) const {
    check_input("encode", x);
    return encoder_->forward(tape, x);
  }

  /// The decoder's output g(z): logits (Bernoulli) or mean (Gaussian), F x batch.
  Var<S> decode(Tape<S>& tape, Var<S> z) const {
    require_batch("decode", "z", z.rows(), z.cols(), options_.latent, "dimensions of z");
    return decoder_->forward(tape, z);
  }

  /// g(f(x)) without noise: logits or mean, F x batch.
  Var<S> forward(Tape<S>& tape, Var<S> x) const override { return decode(tape, encode(tape, x)); }

  /// The training objective for the columns of x (in [0, 1] for Bernoulli):
  /// `L(x, g(f(x~))) + lambda Omega(f(x~)) + lambda_c ||J_f(x~)||_F^2`, with L the BCE from
  /// logits `-sum_i [x_i log x^_i + (1 - x_i) log(1 - x^_i)]` (nats) or the squared error
  /// `sum_i (x_i - x^_i)^2` (Gaussian with variance 1/2, up to a constant). In training mode a
  /// denoising model draws fresh x~ ~ C(x~ | x) from `rng` on every call; in eval mode, and for
  /// every other model, x~ = x and `rng` is not used. Throws `ShapeError` if x does not have F
  /// rows or has no columns, `Error` for a Bernoulli target outside [0, 1], and `NumericError`
  /// if a term becomes NaN or infinite.
  AutoencoderLoss<S> loss(Tape<S>& tape, Var<S> x, Rng& rng) const {
    check_input("loss", x);
    if (options_.likelihood == Likelihood::bernoulli) require_unit_interval("loss", x.value());
    const NoiseFrom<S> noise(tape, rng);
    Var<S> input = x;
    if (this->is_training() && options_.corruption.type != Noise::none) {
      input = tape.record("corrupted_input", x.rows(), x.cols());
      View<S> noisy = tape.value_of(input);
      corrupt_into<S>(x.value(), noisy, options_.corruption, rng);
    }
    const Var<S> z = encoder_->forward(tape, input);
    const Var<S> out = decoder_->forward(tape, z);
    const Var<S> recon =
        mean(options_.likelihood == Likelihood::bernoulli ? Bernoulli<S>::nll(out, x) : squared_error(out, x));
    std::optional<Var<S>> penalty;
    const auto add = [&](Var<S> term) { penalty = penalty ? *penalty + term : term; };
    if (options_.penalty != CodePenalty::none)
      add(scale(code_penalty(options_.penalty, z, options_.rho), S(options_.lambda)));
    if (options_.contractive > 0)
      add(scale(mean(contractive_penalty(tape, mlp_encoder(), z)), S(options_.contractive)));
    require_finite<S>("loss", "reconstruction term", recon);
    if (penalty) require_finite<S>("loss", "penalty term", *penalty);
    if (!penalty) {
      // A zero term drawn in the arena: tape.constant(Matrix::Zero(1, 1)) heap-allocated its
      // argument on every step.
      const Var<S> zero = tape.record("zero", 1, 1);
      tape.value_of(zero).setZero();
      return {recon, recon, zero};
    }
    return {recon + *penalty, recon, *penalty};
  }

  // --- without a tape -----------------------------------------------------------------------

  /// Codes z = f(x) of the columns of x: D x n.
  Matrix<S> encode(const Matrix<S>& x) const {
    require_rows("encode", "x", x.rows(), x.cols(), options_.input);
    Matrix<S> z(options_.latent, x.cols());
    detail::on_chunks<S>(x.cols(), [&](Tape<S>& t, Index j, Index n) {
      z.middleCols(j, n) = encode(t, t.constant(x.middleCols(j, n))).value();
    });
    return z;
  }

  /// x^ = E[x | z] for the columns of z: sigmoid of the logits (Bernoulli) or the mean, F x n.
  Matrix<S> decode(const Matrix<S>& z) const {
    require_rows("decode", "z", z.rows(), z.cols(), options_.latent, "dimensions of z");
    Matrix<S> x(options_.input, z.cols());
    detail::on_chunks<S>(z.cols(), [&](Tape<S>& t, Index j, Index n) {
      x.middleCols(j, n) = mean_of(decode(t, t.constant(z.middleCols(j, n))).value());
    });
    return x;
  }

  /// g(f(x)) as E[x | z] (see `decode`), without noise: F x n. Corrupt x first (`corrupt`) to
  /// see a denoising model at work.
  Matrix<S> reconstruct(const Matrix<S>& x) const {
    require_rows("reconstruct", "x", x.rows(), x.cols(), options_.input);
    Matrix<S> out(options_.input, x.cols());
    detail::on_chunks<S>(x.cols(), [&](Tape<S>& t, Index j, Index n) {
      out.middleCols(j, n) = mean_of(forward(t, t.constant(x.middleCols(j, n))).value());
    });
    return out;
  }

  /// D.
  [[nodiscard]] Index latent() const noexcept { return options_.latent; }
  /// The options it was built with.
  [[nodiscard]] const AutoencoderOptions& options() const noexcept { return options_; }
  /// f.
  Module<S>& encoder() noexcept { return *encoder_; }
  /// g.
  Module<S>& decoder() noexcept { return *decoder_; }

 protected:
  /// Lists the children "encoder" and "decoder".
  void visit_children(const typename Module<S>::ChildVisitor& f) override {
    f("encoder", *encoder_);
    f("decoder", *decoder_);
  }

 private:
  struct Networks {
    std::unique_ptr<Module<S>> encoder, decoder;
  };

  // The MLP model's networks, the encoder initialised from `rng` before the decoder.
  static Networks mlp_networks(const AutoencoderOptions& o, Rng& rng) {
    Networks n;
    n.encoder = std::make_unique<Mlp<S>>(MlpOptions{.sizes = sizes(o.input, o.hidden, o.latent),
                                                    .hidden = o.activation,
                                                    .output = o.code_activation,
                                                    .linear = o.linear},
                                         rng);
    n.decoder = std::make_unique<Mlp<S>>(MlpOptions{.sizes = sizes(o.latent, decoder_widths(o), o.input),
                                                    .hidden = o.activation,
                                                    .output = Activation::identity,
                                                    .linear = o.linear},
                                         rng);
    return n;
  }

  Autoencoder(Networks networks, const AutoencoderOptions& options)
      : options_(options), encoder_(std::move(networks.encoder)), decoder_(std::move(networks.decoder)) {
    if (!(options.lambda >= 0) || !(options.contractive >= 0))
      throw NumericError("Autoencoder", std::string("penalty weights must be >= 0, got lambda=") +
                                            std::to_string(options.lambda) +
                                            " contractive=" + std::to_string(options.contractive));
    check_code_penalty(options.penalty, options.code_activation, options.rho);
    check_corruption(options.corruption);
    if (options.contractive > 0) require_contractive_encoder(mlp_encoder());
  }

  // The encoder as the library's Mlp, for the contractive penalty's closed-form Jacobian.
  const Mlp<S>& mlp_encoder() const {
    const auto* mlp = dynamic_cast<const Mlp<S>*>(encoder_.get());
    if (!mlp)
      throw Error("contractive penalty",
                  "the closed-form Jacobian needs the library's one-layer Mlp encoder, not a module "
                  "of your own");
    return *mlp;
  }

  static std::vector<Index> sizes(Index in, const std::vector<Index>& hidden, Index out) {
    std::vector<Index> s{in};
    s.insert(s.end(), hidden.begin(), hidden.end());
    s.push_back(out);
    return s;
  }
  static std::vector<Index> decoder_widths(const AutoencoderOptions& o) {
    return o.decoder_hidden ? *o.decoder_hidden : std::vector<Index>(o.hidden.rbegin(), o.hidden.rend());
  }

  // Sizes checked before anything is built; the widths only when they build the networks.
  static const AutoencoderOptions& checked(const AutoencoderOptions& o, bool widths = true) {
    require_size("Autoencoder", "input", o.input);
    require_size("Autoencoder", "latent", o.latent);
    if (!widths) return o;
    require_sizes("Autoencoder", "hidden", o.hidden);
    if (o.decoder_hidden) require_sizes("Autoencoder", "decoder_hidden", *o.decoder_hidden);
    return o;
  }

  void check_input(const char* where, Var<S> x) const { require_batch(where, "x", x.rows(), x.cols(), options_.input); }

  // E[x | z] from the decoder's output: the logistic function of the logits for Bernoulli.
  Matrix<S> mean_of(const ConstView<S>& out) const {
    return options_.likelihood == Likelihood::bernoulli ? Bernoulli<S>::mean(out) : Gaussian<S>::mean(out);
  }

  AutoencoderOptions options_;
  std::unique_ptr<Module<S>> encoder_, decoder_;
};

}  // namespace latent::inline v0
