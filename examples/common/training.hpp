#pragma once
// What the training examples share around latent::fit: the --checkpoint-every and --resume
// flags, the FitOptions they imply (progress line on stderr, a training checkpoint in --out),
// and the message of a run stopped by Ctrl-C.

#include <latent/train.hpp>

#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>

#include "common/flags.hpp"

namespace examples {

struct TrainingFlags {
  int checkpoint_every = 1;
  bool resume = false;
  std::filesystem::path checkpoint;  // <out>/training.ckpt
};

// Reads --checkpoint-every and --resume; refuses --resume without a checkpoint in `out` now,
// before any work.
inline TrainingFlags training_flags(Flags& f, const std::string& out) {
  TrainingFlags t;
  t.checkpoint_every =
      f.at_least("checkpoint-every", 1, 0,
                 "epochs between training checkpoints in --out/training.ckpt (0: only at the end and on Ctrl-C)");
  t.resume = f.get("resume", false, "continue the run whose checkpoint is --out/training.ckpt (up to --epochs)");
  t.checkpoint = std::filesystem::path(out) / "training.ckpt";
  return t;
}

// Call after f.finish(): --resume needs the checkpoint to exist.
inline void check_training_flags(const TrainingFlags& t) {
  if (t.resume && !std::filesystem::exists(t.checkpoint))
    throw std::invalid_argument("--resume: there is no checkpoint at " + t.checkpoint.string());
}

// The options every example trains with; the caller adds validation data, schedules, callbacks.
template <class S>
latent::FitOptions<S> fit_options(const TrainingFlags& t, int epochs, latent::Index batch, latent::Rng& rng) {
  latent::FitOptions<S> o{.epochs = epochs, .batch_size = batch, .rng = &rng, .checkpoint = t.checkpoint};
  o.checkpoint_every = t.checkpoint_every;
  if (t.resume) o.resume_from = t.checkpoint;
  o.callbacks.push_back(latent::progress_line<S>(std::cerr));
  return o;
}

// True (after saying how to go on) when Ctrl-C or SIGTERM stopped the run.
inline bool interrupted(const latent::History& h, const char* program) {
  if (h.stop_reason != latent::StopReason::interrupted) return false;
  std::cerr << program << ": stopped (" << h.stop_detail << "); run again with --resume to continue\n";
  return true;
}

}  // namespace examples
