#pragma once
/// @file
/// `Progress`: one line that tells a person how long work is going (epoch, batch/total, loss so
/// far, samples/s, ETA). On a terminal it redraws in place with a carriage return; into a file or pipe it
/// prints plain lines at a few milestones, so logs stay short and readable.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <ostream>
#include <string>
#include <string_view>

#include <unistd.h>

#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// How a `Progress` line is drawn.
enum class Redraw {
  automatic,  ///< in place if the stream is std::cout / std::cerr / std::clog on a terminal
  in_place,   ///< always redraws in place (carriage return)
  lines,      ///< always plain lines
};

/// What a `Progress` line counts and how it is drawn.
struct ProgressOptions {
  int epochs = 1;                     ///< epochs in the run
  Index batches = 0;                  ///< batches per epoch (e.g. `Batcher::batches_per_epoch()`)
  Redraw redraw = Redraw::automatic;  ///< in place, plain lines, or chosen from the stream
  int percent_step = 25;              ///< in lines mode, a line each time this % of the epoch passes
                                      ///< (0: only at the end of the epoch)
  double min_interval = 0.1;          ///< seconds between in-place redraws (terminals are slow)
};

/// Whether `os` writes to a terminal: true only for std::cout, std::cerr or std::clog when
/// their file descriptor is a tty (isatty).
[[nodiscard]] inline bool is_terminal(const std::ostream& os) noexcept {
  if (os.rdbuf() == std::cout.rdbuf()) return ::isatty(STDOUT_FILENO) == 1;
  if (os.rdbuf() == std::cerr.rdbuf() || os.rdbuf() == std::clog.rdbuf()) return ::isatty(STDERR_FILENO) == 1;
  return false;
}

/// A progress line for an epoch loop:
///
///     Progress progress(std::cerr, {.epochs = 20, .batches = batcher.batches_per_epoch()});
///     progress.start_epoch(epoch);
///     while (batcher.next()) { ...; progress.step(loss, batcher.features().cols()); }
///     progress.end_epoch("test " + std::to_string(test_loss));
///
/// prints e.g. `epoch 3/20  batch 120/469  loss 254.3  18210 samples/s  ETA 0:12`.
class Progress {
 public:
  /// Draws on `os` (which must outlive this object) as `opts` says.
  Progress(std::ostream& os, ProgressOptions opts)
      : os_(os),
        opts_(opts),
        in_place_(opts.redraw == Redraw::in_place || (opts.redraw == Redraw::automatic && is_terminal(os))) {}

  /// Starts counting epoch `epoch` (1-based): batches, samples, loss and time restart.
  void start_epoch(int epoch) {
    epoch_ = epoch;
    batch_ = 0;
    samples_ = 0;
    loss_sum_ = 0;
    next_percent_ = opts_.percent_step;
    start_ = last_draw_ = Clock::now();
  }

  /// Records one finished batch of `batch_size` examples whose mean loss is `batch_loss`, and
  /// redraws the line when due.
  void step(double batch_loss, Index batch_size) {
    ++batch_;
    samples_ += batch_size;
    loss_sum_ += batch_loss * double(batch_size);
    const auto now = Clock::now();
    if (in_place_) {
      if (seconds(last_draw_, now) >= opts_.min_interval || batch_ == opts_.batches) {
        draw(line(now).insert(0, 1, '\r'), true);
        last_draw_ = now;
      }
    } else if (opts_.percent_step > 0 && opts_.batches > 0 && batch_ < opts_.batches &&
               100 * batch_ >= next_percent_ * opts_.batches) {
      draw(line(now).append("\n"), false);
      while (100 * batch_ >= next_percent_ * opts_.batches) next_percent_ += opts_.percent_step;
    }
  }

  /// Ends the epoch with a final line: counts, loss, speed, the epoch's duration and `summary`
  /// (e.g. the test loss), then a newline.
  void end_epoch(std::string_view summary = {}) {
    const auto now = Clock::now();
    std::string s = in_place_ ? "\r" : "";
    s.append(head()).append("  ").append(fixed(seconds(start_, now), 1)).append(" s");
    if (!summary.empty()) s.append("  ").append(summary);
    draw(s.append("\n"), in_place_);
    drawn_ = 0;
  }

  /// The mean loss over the examples of this epoch so far (0 before the first step).
  [[nodiscard]] double mean_loss() const noexcept { return samples_ ? loss_sum_ / double(samples_) : 0.0; }
  /// Whether the line is redrawn in place.
  [[nodiscard]] bool in_place() const noexcept { return in_place_; }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }
  static std::string fixed(double v, int decimals) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
  }
  // "m:ss", or "h:mm:ss" from an hour on.
  static std::string clock_time(double s) {
    const long t = long(s + 0.5);
    char buf[32];
    if (t >= 3600)
      std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
      std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
  }
  [[nodiscard]] std::string head() const {
    char buf[128];
    std::snprintf(buf, sizeof buf, "epoch %d/%d  batch %ld/%ld  loss %.4g", epoch_, opts_.epochs, long(batch_),
                  long(opts_.batches), mean_loss());
    return buf;
  }
  // The running line: head, throughput and the time left at the current rate.
  [[nodiscard]] std::string line(Clock::time_point now) const {
    const double t = seconds(start_, now);
    std::string s = head();
    if (t > 0) {
      s.append("  ").append(fixed(double(samples_) / t, 0)).append(" samples/s");
      if (opts_.batches > 0) s.append("  ETA ").append(clock_time(t / double(batch_) * double(opts_.batches - batch_)));
    }
    return s;
  }
  // Writes `s`; an in-place line is padded with spaces to cover a longer previous one.
  void draw(std::string s, bool pad) {
    const auto width = s.size() - (s.starts_with('\r') ? 1 : 0) - (s.ends_with('\n') ? 1 : 0);
    if (pad && width < drawn_)
      s.insert(s.size() - (s.ends_with('\n') ? 1 : 0), drawn_ - width, ' ');
    else
      drawn_ = width;  // what the terminal line now holds
    os_ << s << std::flush;
  }

  std::ostream& os_;
  ProgressOptions opts_;
  bool in_place_;
  int epoch_ = 0;
  Index batch_ = 0, samples_ = 0;
  double loss_sum_ = 0;
  int next_percent_ = 0;
  Clock::time_point start_{}, last_draw_{};
  std::size_t drawn_ = 0;
};

}  // namespace latent::inline v0
