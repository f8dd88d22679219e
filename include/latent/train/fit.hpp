#pragma once
/// @file
/// `fit` and `evaluate`: the epoch loop every user would write, once, with evaluation,
/// schedules, gradient clipping, callbacks, checkpoints that resume bit-identically, and a
/// Ctrl-C that saves instead of losing the run. Guide: docs/training.md.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "latent/autodiff/tape.hpp"
#include "latent/core/error.hpp"
#include "latent/core/rng.hpp"
#include "latent/core/threads.hpp"
#include "latent/data/batcher.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/split.hpp"
#include "latent/optim/clip.hpp"
#include "latent/optim/optimizer.hpp"
#include "latent/train/callbacks.hpp"
#include "latent/train/divergence_guard.hpp"
#include "latent/train/fit_checkpoint.hpp"
#include "latent/train/history.hpp"
#include "latent/train/objective.hpp"
#include "latent/train/stop_signal.hpp"
#include "latent/train/value_schedule.hpp"

namespace latent::inline v0 {

/// How `fit` trains.
template <class S>
struct FitOptions {
  int epochs = 10;                         ///< the last epoch (a resumed run continues up to it)
  Index batch_size = 128;                  ///< examples per step
  LastBatch last_batch = LastBatch::keep;  ///< the last, partial batch of an epoch
  Index eval_batch_size = 1000;            ///< examples per batch of the evaluation (no gradients)
  double validation_split = 0;             ///< without validation data: hold out this fraction of the training data
  ValueSchedule lr{};                      ///< the learning rate per step (empty: the optimizer's own, untouched)
  ValueSchedule beta{};                    ///< the KL weight per step (empty: 1)
  double clip_grad_norm = 0;               ///< > 0: clip the joint gradient norm to this (`clip_grad_norm`)
  int threads = 0;                         ///< > 0: `set_num_threads(threads)` first
  std::uint64_t seed = 0;                  ///< seed of fit's own Rng, when `rng` is null
  Rng* rng = nullptr;              ///< the Rng to draw from (shuffles, noise, evaluation); its position is checkpointed
  double divergence_factor = 100;  ///< `DivergenceGuardOptions::factor` (0: no divergence guard)
  std::filesystem::path checkpoint{};    ///< the training checkpoint's file (empty: none written)
  int checkpoint_every = 1;              ///< epochs between checkpoints (0: only at the end and on a signal)
  std::filesystem::path resume_from{};   ///< a training checkpoint to continue from (empty: a fresh run)
  bool handle_signals = true;            ///< SIGINT/SIGTERM: finish the step, checkpoint, return (see `StopSignals`)
  std::vector<Callback<S>> callbacks{};  ///< called in order at every hook
};

namespace detail {

// Adds a batch's terms (per example, times its size) into `sums`.
template <class S>
void add_terms(const LossTerms<S>& l, double n, double& total, std::vector<double>& sums) {
  total += double(l.total.item()) * n;
  for (int k = 0; k < l.count && std::size_t(k) < sums.size(); ++k)
    sums[std::size_t(k)] += double(l.terms[std::size_t(k)].item()) * n;
}

// The losses over `data` under `objective.evaluate`, means per example, with the model in eval
// mode (restored after).
template <class S, class O, class T>
Metrics evaluate_objective(O& objective, const Dataset<T>& data, Rng& rng, Index batch_size) {
  Module<S>& model = objective.model();
  const bool was_training = model.is_training();
  model.eval();
  Batcher<S> batches(data, {.batch_size = batch_size});
  batches.start_epoch_in_order();
  Tape<S> tape;
  tape.set_grad_enabled(false);
  double total = 0;
  std::vector<double> sums(objective.term_names().size(), 0.0);
  int count = 0;
  while (batches.next()) {
    tape.clear();
    const LossTerms<S> l = objective.evaluate(tape, Batch<S>{batches.features(), batches.labels()}, rng);
    count = l.count;
    add_terms(l, double(batches.features().cols()), total, sums);
  }
  model.train(was_training);
  const double n = double(data.size());
  Metrics m{total / n, {}};
  for (int k = 0; k < count && std::size_t(k) < sums.size(); ++k) m.terms.push_back(sums[std::size_t(k)] / n);
  return m;
}

// The scalar of a model (a Module<S>) or of an objective (whose model() is one).
template <class S>
S scalar_of_module(Module<S>&);
template <class M>
struct ModelScalar {
  using type = decltype(scalar_of_module(std::declval<M&>()));
};
template <class M>
requires requires(M& m) { m.model(); }
struct ModelScalar<M> {
  using type = decltype(scalar_of_module(std::declval<M&>().model()));
};

// A model's default objective, or the objective itself.
template <class S, class M>
decltype(auto) objective_of(M& m) {
  if constexpr (TrainingObjective<M, S>)
    return (m);
  else
    return objective_for(m);
}

template <class S, class O, class T>
History fit_loop(O& objective, Optimizer<S>& optimizer, const Dataset<T>& train, const Dataset<T>* validation,
                 const FitOptions<S>& options) {
  static_assert(TrainingObjective<O, S>,
                "fit needs a Vae, an Autoencoder or a training objective (see TrainingObjective)");
  if (options.epochs < 1) throw Error("fit", "epochs must be at least 1, got " + std::to_string(options.epochs));
  if (options.checkpoint_every < 0) throw Error("fit", "checkpoint_every must be >= 0");
  if (!(options.clip_grad_norm >= 0)) throw Error("fit", "clip_grad_norm must be >= 0");
  if (options.threads > 0) set_num_threads(options.threads);
  Module<S>& model = objective.model();
  Rng own_rng(options.seed);
  Rng& rng = options.rng != nullptr ? *options.rng : own_rng;

  Batcher<S> batches(train, {.batch_size = options.batch_size, .last = options.last_batch});
  std::optional<DivergenceGuard> guard;
  if (options.divergence_factor > 0)
    guard.emplace(DivergenceGuardOptions{.lr = optimizer.lr(), .factor = options.divergence_factor});

  FitPosition pos;
  if (!options.resume_from.empty()) {
    pos = load_fit_checkpoint(options.resume_from, model, optimizer, rng);
    if (pos.history.term_names != objective.term_names())
      throw FormatError(options.resume_from.string(), "its loss terms differ from the objective's");
    if (guard) guard->restore(pos.guard);
  }
  History& history = pos.history;
  history.term_names = objective.term_names();
  const std::size_t n_terms = history.term_names.size();

  StopSignals signals(options.handle_signals);
  FitState<S> state{model, optimizer, history};
  state.epochs = options.epochs;
  state.batches = batches.batches_per_epoch();
  state.step = pos.steps;
  const auto call = [&](typename Callback<S>::Hook Callback<S>::*hook) {
    for (const Callback<S>& c : options.callbacks)
      if (c.*hook) (c.*hook)(state);
  };
  std::string last_checkpoint = "none written yet";
  const auto write_checkpoint = [&] {
    if (options.checkpoint.empty()) return;
    pos.steps = state.step;
    if (guard) pos.guard = guard->state();
    save_fit_checkpoint(options.checkpoint, model, optimizer, rng, pos);
    last_checkpoint = options.checkpoint.string() + " (epoch " + std::to_string(pos.epochs_done) +
                      (pos.partial.batches_done > 0 ? ", batch " + std::to_string(pos.partial.batches_done) : "") + ")";
  };
  const auto finish = [&](StopReason why, std::string detail) {
    history.stop_reason = why;
    history.stop_detail = std::move(detail);
    history.steps = state.step;
    call(&Callback<S>::on_train_end);
    return history;
  };

  model.train();
  call(&Callback<S>::on_train_begin);
  // A resumed run that had already stopped early (its callbacks say so from the history) stays stopped.
  if (state.stop_requested) return finish(StopReason::early_stopping, state.stop_detail);
  Tape<S> tape;
  using Clock = std::chrono::steady_clock;
  for (int epoch = pos.epochs_done + 1; epoch <= options.epochs; ++epoch) {
    FitPosition::Partial& part = pos.partial;
    if (part.batches_done > 0) {
      batches.resume_epoch(part.order, Index(part.batches_done));
    } else {
      batches.start_epoch(rng);
      part = {};
      part.term_sums.assign(n_terms, 0.0);
    }
    state.epoch = epoch;
    call(&Callback<S>::on_epoch_begin);
    const auto t0 = Clock::now();
    const double seconds_before = part.seconds;
    int term_count = 0;  // terms the objective reported (IWAE training: none)
    while (batches.next()) {
      const TrainingTime time{std::size_t(epoch - 1), std::size_t(state.step)};
      if (options.lr) optimizer.set_lr(options.lr.at(time));
      state.lr = optimizer.lr();
      state.beta = options.beta.at(time, 1.0);
      state.batch = batches.batch_index();
      state.batch_size = batches.features().cols();
      call(&Callback<S>::on_step_begin);
      tape.clear();
      optimizer.zero_grad();
      LossTerms<S> l;
      try {
        l = objective.loss(tape, Batch<S>{batches.features(), batches.labels()}, rng, StepInfo{state.beta});
        for (int k = 0; k < l.count; ++k)
          if (!std::isfinite(double(l.terms[std::size_t(k)].item())))
            throw NumericError("", "the " + (std::size_t(k) < n_terms ? history.term_names[std::size_t(k)] : "?") +
                                       " term became non-finite");
        if (!std::isfinite(double(l.total.item()))) throw NumericError("", "the total loss became non-finite");
        if (guard) guard->check(l.total.item());
      } catch (const NumericError& e) {
        throw NumericError("fit", "epoch " + std::to_string(epoch) + ", batch " + std::to_string(state.batch) +
                                      ", step " + std::to_string(state.step + 1) + ": " + e.what() +
                                      "; the last checkpoint is intact: " + last_checkpoint);
      }
      term_count = l.count;
      tape.backward(l.total);
      if (options.clip_grad_norm > 0) clip_grad_norm(optimizer.parameters(), options.clip_grad_norm);
      optimizer.step();
      ++state.step;
      const double n = double(state.batch_size);
      add_terms(l, n, part.loss_sum, part.term_sums);
      part.examples += long(state.batch_size);
      part.batches_done = long(batches.batch_index());
      part.lr = state.lr;
      part.beta = state.beta;
      state.loss = l.total.item();
      call(&Callback<S>::on_step_end);
      if (signals.requested() && batches.batch_index() < batches.batches_per_epoch()) {
        part.order.assign(batches.order().begin(), batches.order().end());
        part.seconds = seconds_before + std::chrono::duration<double>(Clock::now() - t0).count();
        write_checkpoint();
        return finish(StopReason::interrupted, "signal " + std::to_string(signals.signal()) + " during epoch " +
                                                   std::to_string(epoch) + "; checkpoint: " + last_checkpoint);
      }
    }
    EpochRecord record;
    record.epoch = epoch;
    record.seconds = seconds_before + std::chrono::duration<double>(Clock::now() - t0).count();
    const double examples = double(part.examples);
    record.train.total = part.loss_sum / examples;
    if (n_terms > 0 && term_count == int(n_terms))
      for (double s : part.term_sums) record.train.terms.push_back(s / examples);
    record.lr = part.lr;
    record.beta = part.beta;
    if (validation != nullptr)
      record.validation = evaluate_objective<S>(objective, *validation, rng, options.eval_batch_size);
    history.epochs.push_back(std::move(record));
    pos.epochs_done = epoch;
    part = {};
    call(&Callback<S>::on_epoch_end);
    const bool last = epoch == options.epochs || state.stop_requested || signals.requested();
    if (last || (options.checkpoint_every > 0 && epoch % options.checkpoint_every == 0)) write_checkpoint();
    if (signals.requested())
      return finish(StopReason::interrupted, "signal " + std::to_string(signals.signal()) + " after epoch " +
                                                 std::to_string(epoch) + "; checkpoint: " + last_checkpoint);
    if (state.stop_requested) return finish(StopReason::early_stopping, state.stop_detail);
  }
  return finish(StopReason::completed, "");
}

}  // namespace detail

/// Trains `model` (a `Vae`, an `Autoencoder`, or any `TrainingObjective`, e.g. a `VaeObjective`
/// with IWAE or free bits) with `optimizer` on `train` for `options.epochs` epochs, validating on
/// `validation` after each epoch, and returns the `History`. Per step: the lr and beta schedules,
/// the loss, a check that every term is finite and (optionally) that the loss has not diverged,
/// backward, clipping, the optimizer step. A warm step allocates nothing on the heap.
///
/// Throws `NumericError` naming the epoch, step and term when a loss term becomes NaN or
/// infinite or the loss diverges, leaving the last checkpoint as it was; `FormatError` for a
/// `resume_from` file that is not a training checkpoint of this model and optimizer; `Error` for
/// bad options; and whatever the model throws for bad data.
template <class M, class S, class T>
History fit(M& model, Optimizer<S>& optimizer, const Dataset<T>& train, const Dataset<T>& validation,
            const FitOptions<S>& options) {
  auto&& objective = detail::objective_of<S>(model);
  return detail::fit_loop(objective, optimizer, train, &validation, options);
}

/// `fit` without separate validation data: when `options.validation_split` > 0 that fraction of
/// `train` is held out (a split drawn from Rng(options.seed + 1), the same on every resume),
/// otherwise no validation runs.
template <class M, class S, class T>
History fit(M& model, Optimizer<S>& optimizer, const Dataset<T>& train, const FitOptions<S>& options) {
  auto&& objective = detail::objective_of<S>(model);
  if (options.validation_split > 0) {
    Rng split_rng(options.seed + 1);
    const TrainValidation<T> parts = split_train_validation(train, options.validation_split, split_rng);
    return detail::fit_loop(objective, optimizer, parts.train, &parts.validation, options);
  }
  return detail::fit_loop(objective, optimizer, train, static_cast<const Dataset<T>*>(nullptr), options);
}

/// The losses of `model` (a `Vae`, an `Autoencoder` or any objective) on `data` under its
/// objective's `evaluate`, in eval mode, means per example (nats for likelihood terms), terms
/// separately in the order of its `term_names()`. Draws from `rng` (a VAE samples z).
template <class M, class T>
Metrics evaluate(M& model, const Dataset<T>& data, Rng& rng, Index batch_size = 1000) {
  using S = typename detail::ModelScalar<M>::type;
  auto&& objective = detail::objective_of<S>(model);
  return detail::evaluate_objective<S>(objective, data, rng, batch_size);
}

}  // namespace latent::inline v0
