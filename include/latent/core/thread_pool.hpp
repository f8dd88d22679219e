#pragma once
/// @file
/// `detail::ThreadPool`: the workers behind `run_on_threads`. Work moves to whoever is free.
///
/// Why not an OpenMP region: its closing barrier waits for every thread to arrive. On a shared
/// machine a thread whose core is lent to another process arrives a scheduler time slice late
/// (milliseconds), at each of the ~30 regions of a training step, which made 2 threads over
/// twenty times slower than one beside a busy process (docs/performance.md, "Per CPU").
/// Here a region is a fixed list of shares (one per thread, so the arithmetic depends only on
/// the thread count, never on who computes a share), every thread takes the next unclaimed
/// share, and the caller returns as soon as all shares are done: a worker that is not running
/// leaves its share to the caller instead of holding everyone up. Idle workers spin for up to
/// 300 microseconds (the next region of a step usually comes sooner), then sleep in the kernel.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace latent::inline v0::detail {

/// One CPU hint for a spin-wait loop.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// A process-wide pool of worker threads that run the shares of one region at a time.
class ThreadPool {
 public:
  /// How long an idle worker spins before it sleeps until the next region, and how long the
  /// caller spins on the workers' shares before it yields its core between checks. The regions
  /// of a training step come tens of microseconds apart: a worker that sleeps sooner has to be
  /// woken by a system call at most of them (docs/performance.md, "Per CPU").
  static constexpr std::chrono::microseconds spin_time{300};

  /// The pool every `run_on_threads` call uses.
  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    stopping_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& w : workers_) w.join();
  }

  /// Calls `run(context, t)` for every t in [0, shares), on this thread and up to `shares - 1`
  /// workers, and returns when all have returned. Runs the shares in order on this thread when
  /// called from inside a region or while another thread's region is running.
  void run(int shares, void (*run)(void* context, int t), void* context) {
    std::unique_lock lock(busy_, std::try_to_lock);
    if (!lock.owns_lock() || inside_region() || shares > 0xffff) {
      for (int t = 0; t < shares; ++t) run(context, t);
      return;
    }
    grow(shares - 1);
    run_.store(run, std::memory_order_relaxed);
    context_.store(context, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const std::uint64_t region = ++regions_;
    claims_.store(region << 32 | std::uint64_t(shares) << 16, std::memory_order_release);  // none claimed yet
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    inside_region() = true;
    const int mine = take_shares();
    inside_region() = false;
    // Wait for the shares the workers took: spin, then give the core away between checks.
    const auto spin_until = std::chrono::steady_clock::now() + spin_time;
    for (int spins = 0; done_.load(std::memory_order_acquire) + mine < shares; ++spins) {
      if (spins % 64 != 0 || std::chrono::steady_clock::now() < spin_until)
        spin_pause();
      else
        std::this_thread::yield();
    }
  }

 private:
  ThreadPool() = default;

  static bool& inside_region() noexcept {
    thread_local bool inside = false;
    return inside;
  }

  // Starts workers until there are `n`.
  void grow(int n) {
    while (int(workers_.size()) < n) workers_.emplace_back([this] { work(); });
  }

  // Claims and runs shares of the open region until none is left; returns how many it ran.
  // noexcept: a share that threw would unwind its caller while other threads still read the
  // region's context, so it ends the program instead, as an exception leaving an OpenMP region did.
  // `claims_` holds the region's number, its share count and the shares claimed so far, so a
  // claim is one compare-exchange that can never land in a region that has moved on; the
  // region's function is read after the claim, which orders it after the caller wrote it.
  int take_shares() noexcept {
    int ran = 0;
    std::uint64_t c = claims_.load(std::memory_order_acquire);
    while (true) {
      const int share = int(c & 0xffffu), shares = int((c >> 16) & 0xffffu);
      if (share >= shares) return ran;
      if (!claims_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      run_.load(std::memory_order_relaxed)(context_.load(std::memory_order_relaxed), share);
      ++ran;
      c = claims_.load(std::memory_order_acquire);
    }
  }

  void work() {
    inside_region() = true;
    std::uint32_t seen = generation_.load(std::memory_order_acquire);
    while (!stopping_.load(std::memory_order_relaxed)) {
      std::uint32_t now = generation_.load(std::memory_order_acquire);
      const auto spin_until = std::chrono::steady_clock::now() + spin_time;
      for (int spins = 1; now == seen; ++spins) {
        if (spins % 64 == 0 && std::chrono::steady_clock::now() > spin_until) break;
        spin_pause();
        now = generation_.load(std::memory_order_acquire);
      }
      if (now == seen) {
        generation_.wait(seen, std::memory_order_acquire);
        continue;
      }
      seen = now;
      if (const int ran = take_shares(); ran > 0) done_.fetch_add(ran, std::memory_order_release);
    }
  }

  std::mutex busy_;  // held by the thread whose region runs; others run theirs serially
  std::vector<std::thread> workers_;
  std::atomic<void (*)(void*, int)> run_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<std::uint64_t> claims_{0};      // region number << 32 | shares << 16 | shares claimed
  std::atomic<int> done_{0};                  // shares of the open region the workers finished
  std::atomic<std::uint32_t> generation_{0};  // bumped to wake the workers
  std::atomic<bool> stopping_{false};
  std::uint64_t regions_ = 0;  // regions started
};

}  // namespace latent::inline v0::detail
