#pragma once
/// @file
/// Callbacks of `fit`: hooks at the begin and end of training, of each epoch and of each step,
/// and the ones latent brings: `progress_line`, `metrics_log`, `early_stopping`, `keep_best`.
/// A callback of your own is a `Callback` with the hooks you need set to lambdas.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/io/atomic_write.hpp"
#include "latent/io/checkpoint.hpp"
#include "latent/layers/module.hpp"
#include "latent/optim/optimizer.hpp"
#include "latent/train/history.hpp"
#include "latent/train/progress.hpp"

namespace latent::inline v0 {

/// What a callback sees of a running `fit`, and how it stops it.
template <class S>
struct FitState {
  Module<S>& model;             ///< the model being trained
  Optimizer<S>& optimizer;      ///< its optimizer
  History& history;             ///< every finished epoch (a resumed run's earlier epochs included)
  int epoch = 0;                ///< the epoch under way, 1-based
  int epochs = 0;               ///< the last epoch of the run (`FitOptions::epochs`)
  long step = 0;                ///< optimizer steps taken so far in the whole run
  Index batch = 0;              ///< 1-based batch of the epoch (in step hooks)
  Index batches = 0;            ///< batches per epoch
  Index batch_size = 0;         ///< examples in the current batch (in step hooks)
  double loss = 0;              ///< the current batch's total loss (in `on_step_end`)
  double lr = 0, beta = 1;      ///< the learning rate and KL weight of the current step
  bool stop_requested = false;  ///< set by `request_stop`
  std::string stop_detail{};    ///< why, as given to `request_stop`

  /// Asks `fit` to stop after this epoch (or, from a step hook, after this step's epoch ends);
  /// `History::stop_reason` becomes `early_stopping` and `stop_detail` says `why`.
  void request_stop(std::string why) {
    stop_requested = true;
    stop_detail = std::move(why);
  }
};

/// A set of hooks; unset ones are skipped. Every hook gets the `FitState`.
template <class S>
struct Callback {
  using Hook = std::function<void(FitState<S>&)>;
  Hook on_train_begin{};  ///< once, before the first epoch (after a resume: with the history restored)
  Hook on_epoch_begin{};  ///< before each epoch's first step
  Hook on_step_begin{};   ///< before each step (the batch is loaded, nothing computed)
  Hook on_step_end{};     ///< after each optimizer step, `loss` set
  Hook on_epoch_end{};    ///< after each epoch, its `EpochRecord` last in `history`
  Hook on_train_end{};    ///< once, when `fit` returns normally (completed, stopped, interrupted)
};

/// The progress line of train/progress.hpp (epoch, batch, running loss, samples/s, ETA) on `os`,
/// which must outlive the run.
template <class S>
Callback<S> progress_line(std::ostream& os, Redraw redraw = Redraw::automatic) {
  auto progress = std::make_shared<std::unique_ptr<Progress>>();
  Callback<S> c;
  c.on_epoch_begin = [progress, &os, redraw](FitState<S>& s) {
    if (!*progress) *progress = std::make_unique<Progress>(os, ProgressOptions{s.epochs, s.batches, redraw});
    (*progress)->start_epoch(s.epoch);
  };
  c.on_step_end = [progress](FitState<S>& s) { (*progress)->step(s.loss, s.batch_size); };
  c.on_epoch_end = [progress](FitState<S>&) { (*progress)->end_epoch(""); };
  return c;
}

/// How `metrics_log` writes.
enum class LogFormat {
  csv,         ///< a header line, then one comma-separated line per epoch
  json_lines,  ///< one JSON object per line per epoch
};

/// Writes every epoch's record to `path` (epoch, train and validation loss and terms, seconds,
/// lr, beta): the whole file again after each epoch, atomically, from the `History`, so a
/// resumed run's log holds each epoch once, never a line of a run that a kill undid.
template <class S>
Callback<S> metrics_log(std::filesystem::path path, LogFormat format = LogFormat::csv) {
  Callback<S> c;
  c.on_epoch_end = [path, format](FitState<S>& s) {
    const History& h = s.history;
    std::ostringstream out;
    out.precision(17);
    std::vector<std::string> names{"loss"};
    for (const auto& t : h.term_names) names.push_back(t);
    if (format == LogFormat::csv) {
      out << "epoch";
      for (const char* part : {"train", "val"})
        for (const auto& n : names) out << ',' << part << '_' << n;
      out << ",seconds,lr,beta\n";
    }
    for (const EpochRecord& e : h.epochs) {
      const auto value = [&](const std::string& monitor) { return h.value(e, monitor); };
      if (format == LogFormat::csv) {
        out << e.epoch;
        for (const char* part : {"train_", "val_"})
          for (const auto& n : names) {
            const double v = value(part + n);
            out << ',';
            if (!std::isnan(v)) out << v;
          }
        out << ',' << e.seconds << ',' << e.lr << ',' << e.beta << '\n';
      } else {
        out << "{\"epoch\":" << e.epoch;
        for (const char* part : {"train_", "val_"})
          for (const auto& n : names) {
            const double v = value(part + n);
            if (std::isfinite(v)) out << ",\"" << part << n << "\":" << v;
          }
        out << ",\"seconds\":" << e.seconds << ",\"lr\":" << e.lr << ",\"beta\":" << e.beta << "}\n";
      }
    }
    const std::string text = out.str();
    write_file_atomic(path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  };
  return c;
}

/// What `early_stopping` and `keep_best` watch.
struct MonitorOptions {
  std::string monitor = "val_loss";  ///< a `History::value` name: val_loss, train_loss, val_kl, ...
  int patience = 5;                  ///< early stopping: epochs without improvement before stopping
  double min_delta = 0;              ///< an improvement must lower the value by more than this
};

namespace detail {
// The best (lowest) value of `monitor` over the history and its epoch, as seen epoch by epoch
// with `min_delta`, and the epochs since it: the state of early stopping, recomputed from the
// history so a resumed run stops where an uninterrupted one would.
struct MonitorTrack {
  double best = std::numeric_limits<double>::infinity();
  int best_epoch = 0, wait = 0;
  // Whether the value improved.
  bool see(double v, int epoch, double min_delta) {
    if (std::isnan(v)) return false;
    if (v < best - min_delta) {
      best = v;
      best_epoch = epoch;
      wait = 0;
      return true;
    }
    ++wait;
    return false;
  }
};
inline MonitorTrack replay(const History& h, const MonitorOptions& o) {
  MonitorTrack t;
  for (const EpochRecord& e : h.epochs) t.see(h.value(e, o.monitor), e.epoch, o.min_delta);
  return t;
}
}  // namespace detail

/// Stops training when `monitor` has not fallen by more than `min_delta` for `patience` epochs
/// in a row (Keras' EarlyStopping, mode "min"). Epochs whose value is NaN (no validation data
/// yet) are skipped. Throws `Error` at the first epoch's end if `monitor` names no value.
template <class S>
Callback<S> early_stopping(MonitorOptions options = {}) {
  if (options.patience < 1) throw Error("early_stopping", "patience must be at least 1");
  auto track = std::make_shared<detail::MonitorTrack>();
  Callback<S> c;
  const auto stop_if_done = [track, options](FitState<S>& s) {
    if (track->wait >= options.patience)
      s.request_stop(options.monitor + " did not improve by more than " + std::to_string(options.min_delta) + " for " +
                     std::to_string(options.patience) + " epochs (best " + std::to_string(track->best) + " at epoch " +
                     std::to_string(track->best_epoch) + ")");
  };
  c.on_train_begin = [track, options, stop_if_done](FitState<S>& s) {
    *track = detail::replay(s.history, options);
    stop_if_done(s);  // a resumed run that had stopped early stays stopped
  };
  c.on_epoch_end = [track, options, stop_if_done](FitState<S>& s) {
    const EpochRecord& e = s.history.epochs.back();
    track->see(s.history.value(e, options.monitor), e.epoch, options.min_delta);
    stop_if_done(s);
  };
  return c;
}

/// Keeps the weights of the epoch with the lowest `monitor` and puts them back into the model
/// when training ends. With a `path`, each new best is also saved there as an ordinary
/// checkpoint (`load_checkpoint` reads it), so a resumed run restores a best found before the
/// interruption too; without one, only bests of the current process are kept.
template <class S>
Callback<S> keep_best(MonitorOptions options = {}, std::filesystem::path path = {}) {
  struct Best {
    detail::MonitorTrack track;
    std::vector<Matrix<S>> weights;  // empty: none held
  };
  auto best = std::make_shared<Best>();
  Callback<S> c;
  c.on_train_begin = [best, options, path](FitState<S>& s) {
    best->track = detail::replay(s.history, options);
    best->weights.clear();
    if (best->track.best_epoch > 0 && !path.empty() && std::filesystem::exists(path)) {
      // Read the saved best through the model, then put the current weights back.
      std::vector<Matrix<S>> now;
      for (Parameter<S>* p : s.model.parameters()) now.push_back(p->value);
      load_checkpoint(path, s.model);
      for (Parameter<S>* p : s.model.parameters()) best->weights.push_back(p->value);
      std::size_t k = 0;
      for (Parameter<S>* p : s.model.parameters()) p->value = now[k++];
    }
  };
  c.on_epoch_end = [best, options, path](FitState<S>& s) {
    const EpochRecord& e = s.history.epochs.back();
    if (!best->track.see(s.history.value(e, options.monitor), e.epoch, 0.0)) return;
    best->weights.clear();
    for (Parameter<S>* p : s.model.parameters()) best->weights.push_back(p->value);
    if (!path.empty()) save_checkpoint(path, s.model);
  };
  c.on_train_end = [best](FitState<S>& s) {
    if (best->weights.empty()) return;
    std::size_t k = 0;
    for (Parameter<S>* p : s.model.parameters()) p->value = best->weights[k++];
  };
  return c;
}

}  // namespace latent::inline v0
