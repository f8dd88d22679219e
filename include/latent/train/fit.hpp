#pragma once
/// @file
/// `fit` and `evaluate`: the epoch loop every user would write, once, with evaluation,
/// schedules, gradient clipping, callbacks, checkpoints that resume bit-identically, and a
/// Ctrl-C that saves instead of losing the run. Guide: docs/training.md.

#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <span>
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
#include "latent/models/detail/chunks.hpp"
#include "latent/optim/clip.hpp"
#include "latent/optim/optimizer.hpp"
#include "latent/train/callbacks.hpp"
#include "latent/train/communicator.hpp"
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
  Index eval_batch_size = 1000;            ///< examples per evaluation batch (no gradients); fewer if over 32 MB of tape
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
  /// Data-parallel training (docs/distributed.md): every process of the job runs `fit` with its
  /// own communicator, the same data and options; each takes its slice of every batch, the
  /// gradients are summed across processes, rank 0 writes the checkpoints. Noise is then keyed
  /// by example and step (`Rng::key_examples`), so the run does not depend on the process count.
  /// Null: this process alone, noise drawn in sequence from the Rng.
  Communicator* communicator = nullptr;
};

namespace detail {

// A batch's loss as numbers: per example, the total and `count` terms.
struct BatchLoss {
  double total = 0;
  std::array<double, max_loss_terms> terms{};
  int count = 0;
};
template <class S>
BatchLoss numbers_of(const LossTerms<S>& l) {
  BatchLoss b{double(l.total.item()), {}, l.count};
  for (int k = 0; k < l.count; ++k) b.terms[std::size_t(k)] = double(l.terms[std::size_t(k)].item());
  return b;
}

// Adds a batch's terms (per example, times its size) into `sums`.
inline void add_terms(const BatchLoss& l, double n, double& total, std::vector<double>& sums) {
  total += l.total * n;
  for (int k = 0; k < l.count && std::size_t(k) < sums.size(); ++k) sums[std::size_t(k)] += l.terms[std::size_t(k)] * n;
}

// While alive, `rng` (when not null) draws noise keyed by example (Rng::key_examples).
class ExampleKeying {
 public:
  ExampleKeying(Rng* rng, std::uint64_t stream, Index first, Index batch) : rng_(rng) {
    if (rng_ != nullptr) rng_->key_examples(stream, first, batch);
  }
  ~ExampleKeying() {
    if (rng_ != nullptr) rng_->unkey_examples();
  }
  ExampleKeying(const ExampleKeying&) = delete;
  ExampleKeying& operator=(const ExampleKeying&) = delete;

 private:
  Rng* rng_;
};

// The losses over `data` under `objective.evaluate`, means per example, with the model in eval
// mode (restored after). Batches hold at most `batch_size` examples, and fewer where a batch
// would take more than `chunk_bytes` of tape (a conv net's example costs ~100 kB of patches and
// feature maps: 1000 of them would hold hundreds of MB): the first `first_chunk_columns`
// examples go in a batch of their own, whose tape gives an example's bytes. With a
// communicator, each process evaluates its slice of every batch, noise keyed by example (stream
// `stream`), and the sums (and the bytes, so every process cuts the same batches) are added
// across processes.
template <class S, class O, class T>
Metrics evaluate_objective(O& objective, const Dataset<T>& data, Rng& rng, Index batch_size,
                           Communicator* comm = nullptr, std::uint64_t stream = 0) {
  Module<S>& model = objective.model();
  const bool was_training = model.is_training();
  model.eval();
  const int part = comm ? comm->rank() : 0, parts = comm ? comm->size() : 1;
  Tape<S> tape;
  tape.set_grad_enabled(false);
  double total = 0;
  std::vector<double> sums(objective.term_names().size(), 0.0);
  int count = 0;
  const auto evaluate = [&](const Batcher<S>& batches) {
    const Index n = batches.features().cols();
    if (n == 0) return;  // a short batch with no examples for this process
    tape.clear();
    const ExampleKeying keyed(comm ? &rng : nullptr, stream, batches.batch_start() + batches.part_offset(), n);
    const LossTerms<S> l = objective.evaluate(tape, Batch<S>{batches.features(), batches.labels()}, rng);
    count = l.count;
    add_terms(numbers_of(l), double(n), total, sums);
  };
  const Index first = std::min({batch_size, data.size(), first_chunk_columns});
  Batcher<S> head(data, {.batch_size = first, .part = part, .parts = parts});
  head.start_epoch_in_order();
  head.next();
  evaluate(head);
  std::array<double, 2> measured{double(head.features().cols() > 0 ? tape.arena_used() : 0),
                                 double(head.features().cols())};  // [tape bytes, examples]
  if (parts > 1) comm->sum(measured);
  const Index rest = columns_within_budget(std::size_t(measured[0]), Index(measured[1]), first, batch_size);
  if (data.size() > first) {
    Batcher<S> batches(data, {.batch_size = rest, .part = part, .parts = parts, .skip = first});
    batches.start_epoch_in_order();
    while (batches.next()) evaluate(batches);
  }
  model.train(was_training);
  if (comm != nullptr && comm->size() > 1) {
    // [total, sums..., the term count of processes that saw data, processes that saw data]
    std::vector<double> all{total};
    all.insert(all.end(), sums.begin(), sums.end());
    all.push_back(double(count));
    all.push_back(count > 0 || total != 0 ? 1.0 : 0.0);
    comm->sum(all);
    total = all[0];
    for (std::size_t k = 0; k < sums.size(); ++k) sums[k] = all[k + 1];
    count = all.back() > 0 ? int(std::lround(all[sums.size() + 1] / all.back())) : 0;
  }
  const double n = double(data.size());
  Metrics m{total / n, {}};
  for (int k = 0; k < count && std::size_t(k) < sums.size(); ++k) m.terms.push_back(sums[std::size_t(k)] / n);
  return m;
}

// The start of data-parallel training: every process must train the same model shapes on the
// same number of examples with the same batch size and epochs (else a ShapeError, thrown on
// every process alike); then rank 0's parameters and Rng position are copied to all.
template <class S>
void start_together(Communicator& comm, Module<S>& model, Rng& rng, Index examples, const FitOptions<S>& options) {
  std::vector<std::pair<std::string, long long>> facts{
      {"training examples", examples}, {"batch_size", options.batch_size}, {"epochs", options.epochs}};
  const auto named = model.named_parameters();
  facts.emplace_back("parameter count", (long long)named.size());
  for (const auto& [name, p] : named) {
    facts.emplace_back("rows of parameter " + name, p->value.rows());
    facts.emplace_back("columns of parameter " + name, p->value.cols());
  }
  const auto bytes = [](auto& v) { return std::as_writable_bytes(std::span(v)); };
  std::array<long long, 1> count{(long long)facts.size()};
  comm.broadcast(bytes(count), 0);
  std::vector<long long> root(static_cast<std::size_t>(count[0]));
  for (std::size_t k = 0; k < root.size() && k < facts.size(); ++k) root[k] = facts[k].second;
  comm.broadcast(bytes(root), 0);
  std::string mismatch;
  for (std::size_t k = 0; k < facts.size() && mismatch.empty(); ++k)
    if (k >= root.size() || facts[k].second != root[k])
      mismatch = "rank " + std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) + " has " +
                 facts[k].first + " = " + std::to_string(facts[k].second) +
                 (k < root.size() ? " but rank 0 has " + std::to_string(root[k]) : " which rank 0 lacks");
  if (mismatch.empty() && root.size() > facts.size())
    mismatch = "rank " + std::to_string(comm.rank()) + " has fewer parameters than rank 0";
  std::vector<double> flags(std::size_t(comm.size()), 0.0);
  flags[std::size_t(comm.rank())] = mismatch.empty() ? 0.0 : 1.0;
  comm.sum(flags);
  for (int r = 0; r < comm.size(); ++r)
    if (flags[std::size_t(r)] > 0) {  // every process throws the message of the first that differs
      std::array<long long, 1> length{(long long)mismatch.size()};
      comm.broadcast(bytes(length), r);
      mismatch.resize(std::size_t(length[0]));
      comm.broadcast(bytes(mismatch), r);
      throw ShapeError("fit", "the processes disagree: " + mismatch);
    }
  for (auto& [name, p] : named)
    comm.broadcast(std::as_writable_bytes(std::span(p->value.data(), std::size_t(p->size()))), 0);
  std::array<Rng::State, 1> position{rng.state()};
  comm.broadcast(bytes(position), 0);
  rng = Rng::from_state(position[0]);
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

// Sums one data-parallel step across processes: this process's gradient weighted by its share
// of the batch (local / batch, so the sum is the gradient of the mean over the whole batch),
// its loss and terms times `local`, and its stop signal, in one `Communicator::sum` over
// `buffer`. Writes the summed gradient back and returns the batch's loss per example.
template <class S>
BatchLoss sum_step(Communicator& comm, Optimizer<S>& optimizer, const BatchLoss& loss, Index local, Index batch,
                   bool stop, std::span<S> buffer) {
  const S weight = S(double(local) / double(batch));
  std::size_t k = 0;
  for (Parameter<S>* p : optimizer.parameters()) {
    Eigen::Map<Matrix<S>> flat(buffer.data() + k, p->value.rows(), p->value.cols());
    if (local > 0)
      flat = p->grad() * weight;
    else
      flat.setZero();
    k += std::size_t(p->size());
  }
  buffer[k] = S(loss.total * double(local));
  for (std::size_t t = 0; t < max_loss_terms; ++t) buffer[k + 1 + t] = S(loss.terms[t] * double(local));
  buffer[k + 1 + max_loss_terms] = S(local > 0 ? loss.count : 0);
  buffer[k + 2 + max_loss_terms] = S(local > 0 ? 1 : 0);
  buffer[k + 3 + max_loss_terms] = S(stop ? 1 : 0);
  comm.sum(buffer);
  k = 0;
  for (Parameter<S>* p : optimizer.parameters()) {
    p->grad() = Eigen::Map<const Matrix<S>>(buffer.data() + k, p->value.rows(), p->value.cols());
    k += std::size_t(p->size());
  }
  BatchLoss sum;
  sum.total = double(buffer[k]) / double(batch);
  for (std::size_t t = 0; t < max_loss_terms; ++t) sum.terms[t] = double(buffer[k + 1 + t]) / double(batch);
  const double with_data = double(buffer[k + 2 + max_loss_terms]);
  sum.count = with_data > 0 ? int(std::lround(double(buffer[k + 1 + max_loss_terms]) / with_data)) : 0;
  return sum;
}

// fit's loop; `every_rank_throws` is set before an error that every process throws alike.
template <class S, class O, class T>
History train_loop(O& objective, Optimizer<S>& optimizer, const Dataset<T>& train, const Dataset<T>* validation,
                   const FitOptions<S>& options, bool& every_rank_throws) {
  static_assert(TrainingObjective<O, S>,
                "fit needs a Vae, an Autoencoder or a training objective (see TrainingObjective)");
  if (options.epochs < 1) throw Error("fit", "epochs must be at least 1, got " + std::to_string(options.epochs));
  if (options.checkpoint_every < 0) throw Error("fit", "checkpoint_every must be >= 0");
  if (!(options.clip_grad_norm >= 0)) throw Error("fit", "clip_grad_norm must be >= 0");
  if (options.threads > 0) set_num_threads(options.threads);
  Module<S>& model = objective.model();
  Rng own_rng(options.seed);
  Rng& rng = options.rng != nullptr ? *options.rng : own_rng;
  Communicator* const comm = options.communicator;
  const int rank = comm ? comm->rank() : 0;
  if (comm != nullptr) {
    every_rank_throws = true;
    start_together(*comm, model, rng, train.size(), options);
    every_rank_throws = false;
  }

  Batcher<S> batches(
      train,
      {.batch_size = options.batch_size, .last = options.last_batch, .part = rank, .parts = comm ? comm->size() : 1});
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
    if (rank == 0) save_fit_checkpoint(options.checkpoint, model, optimizer, rng, pos);
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

  // Data-parallel: the step's [gradient (weighted by this slice's share of the batch), loss
  // and terms (times the slice's size), term count, whether the slice had data, stop signal]
  // summed across processes in one call, in the communicator's own memory if it has some it
  // sums faster (`sum_memory`).
  std::vector<S> own_reduced;
  std::span<S> reduced;
  if (comm != nullptr) {
    std::size_t n = 1 + max_loss_terms + 3;
    for (Parameter<S>* p : optimizer.parameters()) n += std::size_t(p->size());
    reduced = comm->sum_memory<S>(n);
    if (reduced.empty()) {
      own_reduced.assign(n, S(0));
      reduced = own_reduced;
    }
  }
  // A signal asked to stop: data-parallel, as every process agreed at the last step's sum.
  bool stop_signal = false;
  const auto stopping = [&] { return comm ? stop_signal : signals.requested(); };

  model.train();
  call(&Callback<S>::on_train_begin);
  // A resumed run that had already stopped early (its callbacks say so from the history) stays stopped.
  if (state.stop_requested) return finish(StopReason::early_stopping, state.stop_detail);
  Tape<S> tape;
  tape.set_noise(&rng);  // Dropout's masks too come from the run's generator (saved, keyed)
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
      state.batch_size = batches.batch_cols();
      call(&Callback<S>::on_step_begin);
      tape.clear();
      optimizer.zero_grad();
      const Index local = batches.features().cols();  // this process's slice of the batch
      const auto failed = [&](const NumericError& e) {
        return NumericError("fit", "epoch " + std::to_string(epoch) + ", batch " + std::to_string(state.batch) +
                                       ", step " + std::to_string(state.step + 1) + ": " + e.what() +
                                       "; the last checkpoint is intact: " + last_checkpoint);
      };
      const auto check = [&](const BatchLoss& b) {
        for (int k = 0; k < b.count; ++k)
          if (!std::isfinite(b.terms[std::size_t(k)]))
            throw NumericError("", "the " + (std::size_t(k) < n_terms ? history.term_names[std::size_t(k)] : "?") +
                                       " term became non-finite");
        if (!std::isfinite(b.total)) throw NumericError("", "the total loss became non-finite");
        if (guard) guard->check(b.total);
      };
      LossTerms<S> l;
      BatchLoss loss;
      try {
        if (local > 0) {
          const ExampleKeying keyed(comm ? &rng : nullptr, std::uint64_t(state.step), batches.part_offset(), local);
          l = objective.loss(tape, Batch<S>{batches.features(), batches.labels()}, rng, StepInfo{state.beta});
          loss = numbers_of(l);
        }
        if (comm == nullptr) check(loss);
      } catch (const NumericError& e) {
        throw failed(e);
      }
      if (local > 0) tape.backward(l.total);
      if (comm != nullptr) {
        loss = sum_step(*comm, optimizer, loss, local, state.batch_size, signals.requested(), reduced);
        stop_signal = reduced.back() > 0;
        try {
          check(loss);
        } catch (const NumericError& e) {
          every_rank_throws = true;  // on the summed loss: every process sees the same numbers
          throw failed(e);
        }
      }
      term_count = loss.count;
      if (options.clip_grad_norm > 0) clip_grad_norm(optimizer.parameters(), options.clip_grad_norm);
      optimizer.step();
      ++state.step;
      const double n = double(state.batch_size);
      add_terms(loss, n, part.loss_sum, part.term_sums);
      part.examples += long(state.batch_size);
      part.batches_done = long(batches.batch_index());
      part.lr = state.lr;
      part.beta = state.beta;
      state.loss = S(loss.total);
      call(&Callback<S>::on_step_end);
      if (stopping() && batches.batch_index() < batches.batches_per_epoch()) {
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
      record.validation =
          evaluate_objective<S>(objective, *validation, rng, options.eval_batch_size, comm, ~std::uint64_t(state.step));
    history.epochs.push_back(std::move(record));
    pos.epochs_done = epoch;
    part = {};
    call(&Callback<S>::on_epoch_end);
    const bool last = epoch == options.epochs || state.stop_requested || stopping();
    if (last || (options.checkpoint_every > 0 && epoch % options.checkpoint_every == 0)) write_checkpoint();
    if (stopping())
      return finish(StopReason::interrupted, "signal " + std::to_string(signals.signal()) + " after epoch " +
                                                 std::to_string(epoch) + "; checkpoint: " + last_checkpoint);
    if (state.stop_requested) return finish(StopReason::early_stopping, state.stop_detail);
  }
  return finish(StopReason::completed, "");
}

// fit's loop; with a communicator of more than one process, an error of this process alone
// (the others would wait for it forever) ends the whole job with its message.
template <class S, class O, class T>
History fit_loop(O& objective, Optimizer<S>& optimizer, const Dataset<T>& train, const Dataset<T>* validation,
                 const FitOptions<S>& options) {
  bool every_rank_throws = false;
  Communicator* const comm = options.communicator;
  if (comm == nullptr || comm->size() == 1)
    return train_loop(objective, optimizer, train, validation, options, every_rank_throws);
  try {
    return train_loop(objective, optimizer, train, validation, options, every_rank_throws);
  } catch (const std::exception& e) {
    if (every_rank_throws) throw;
    comm->abort("latent::fit failed on rank " + std::to_string(comm->rank()) + " of " + std::to_string(comm->size()) +
                ": " + e.what());
    throw;  // not reached: abort ends the process
  }
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
