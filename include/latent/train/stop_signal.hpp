#pragma once
/// @file
/// `StopSignals`: SIGINT (Ctrl-C) and SIGTERM ask a training run to stop after its current step;
/// a second one ends the process at once. Used by `fit`; usable by any loop of yours.

#include <csignal>

#include <signal.h>
#include <unistd.h>

namespace latent::inline v0 {

namespace detail {
// The signal that asked to stop (0: none). Written only by the handler, read by the loop.
inline volatile std::sig_atomic_t stop_signal = 0;

extern "C" inline void on_stop_signal(int sig) {
  // A second signal: the user means it. _exit is async-signal-safe; files written with
  // write_file_atomic hold their old content or the new, so no checkpoint is left half-written.
  if (stop_signal != 0) ::_exit(128 + sig);
  stop_signal = sig;
}
}  // namespace detail

/// While it lives, SIGINT and SIGTERM set a flag (`requested()`) instead of ending the process;
/// a second such signal calls `_exit(128 + signal)` at once. The previous handlers come back
/// when it is destroyed. One at a time per process (the flag is process-wide).
///
///     StopSignals signals;
///     while (work_left()) { step(); if (signals.requested()) { save(); break; } }
class StopSignals {
 public:
  /// Installs the handlers when `enabled` (otherwise `requested()` is always false).
  explicit StopSignals(bool enabled = true) : enabled_(enabled) {
    detail::stop_signal = 0;
    if (!enabled_) return;
    struct sigaction action {};
    action.sa_handler = detail::on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // a read or write under way continues instead of failing with EINTR
    ::sigaction(SIGINT, &action, &old_int_);
    ::sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    if (!enabled_) return;
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  /// Whether SIGINT or SIGTERM arrived.
  [[nodiscard]] bool requested() const noexcept { return detail::stop_signal != 0; }
  /// Which signal asked to stop (0: none).
  [[nodiscard]] int signal() const noexcept { return detail::stop_signal; }

 private:
  bool enabled_;
  struct sigaction old_int_ {
  }, old_term_{};
};

}  // namespace latent::inline v0
