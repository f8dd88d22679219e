#pragma once
/// @file
/// `History`: what `fit` did, epoch by epoch, and why it stopped.

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "latent/core/error.hpp"

namespace latent::inline v0 {

/// Losses over a pass through a dataset, means per example: the total and each named term (in
/// the order of `History::term_names`; empty when the objective reported none).
struct Metrics {
  double total = 0;           ///< the mean of the minimised loss
  std::vector<double> terms;  ///< the mean of each term
};

/// One finished epoch.
struct EpochRecord {
  int epoch = 0;                      ///< 1-based
  Metrics train;                      ///< over the epoch's training batches, as they were trained on
  std::optional<Metrics> validation;  ///< on the validation data after the epoch, if there is any
  double seconds = 0;                 ///< wall time of the epoch's training steps (not the evaluation)
  double lr = 0;                      ///< the learning rate of the epoch's last step
  double beta = 1;                    ///< the KL weight of the epoch's last step
};

/// Why `fit` returned.
enum class StopReason {
  completed,       ///< every epoch ran
  early_stopping,  ///< a callback (e.g. `early_stopping`) asked to stop
  interrupted,     ///< SIGINT or SIGTERM: the step finished, a checkpoint was written
};

/// The name of a `StopReason` ("completed", ...).
[[nodiscard]] inline const char* to_string(StopReason r) noexcept {
  switch (r) {
    case StopReason::completed:
      return "completed";
    case StopReason::early_stopping:
      return "early_stopping";
    case StopReason::interrupted:
      return "interrupted";
  }
  return "?";
}

/// Every finished epoch of a run (a resumed run's included), and how it ended.
struct History {
  std::vector<std::string> term_names;  ///< names of `Metrics::terms`
  std::vector<EpochRecord> epochs;      ///< in order, epoch 1 first
  StopReason stop_reason = StopReason::completed;
  std::string stop_detail;  ///< who stopped it and why, e.g. "val_loss did not improve for 3 epochs"
  long steps = 0;           ///< optimizer steps over the whole run

  /// The value `monitor` names in `record`: "train_loss" or "val_loss" (totals), or
  /// "train_<term>" / "val_<term>" (e.g. "val_kl"). NaN when the record has no such value (no
  /// validation yet). Throws `Error` for a name that is none of these.
  [[nodiscard]] double value(const EpochRecord& record, const std::string& monitor) const {
    const bool val = monitor.starts_with("val_");
    if (!val && !monitor.starts_with("train_"))
      throw Error("History", "monitor '" + monitor + "' must start with train_ or val_ (e.g. val_loss)");
    const std::string name = monitor.substr(val ? 4 : 6);
    const Metrics* m = val ? (record.validation ? &*record.validation : nullptr) : &record.train;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (name == "loss") return m ? m->total : nan;
    for (std::size_t k = 0; k < term_names.size(); ++k)
      if (term_names[k] == name) return m && k < m->terms.size() ? m->terms[k] : nan;
    throw Error(
        "History", "monitor '" + monitor + "' names no loss term (terms: loss" + [&] {
          std::string s;
          for (const auto& t : term_names) s += ", " + t;
          return s;
        }() + ")");
  }
};

}  // namespace latent::inline v0
