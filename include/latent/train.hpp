#pragma once
/// @file
/// Training: `fit` and `evaluate` with objectives, schedules, callbacks, training checkpoints
/// and signal handling (docs/training.md), the progress line and the divergence guard. Opt-in
/// (not in latent/latent.hpp): it writes files.

#include "latent/train/callbacks.hpp"
#include "latent/train/communicator.hpp"
#include "latent/train/divergence_guard.hpp"
#include "latent/train/fit.hpp"
#include "latent/train/fit_checkpoint.hpp"
#include "latent/train/history.hpp"
#include "latent/train/objective.hpp"
#include "latent/train/progress.hpp"
#include "latent/train/stop_signal.hpp"
#include "latent/train/value_schedule.hpp"
