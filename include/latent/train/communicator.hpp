#pragma once
/// @file
/// `Communicator`: what data-parallel `fit` needs of the processes it trains with, and nothing
/// of MPI. `latent/distributed.hpp` implements it over MPI (`MpiCommunicator`);
/// `LocalCommunicator` is the job of one process, which trains exactly as N processes would
/// (the same per-example noise) without MPI. Guide: docs/distributed.md.

#include <cstddef>
#include <span>
#include <string>

#include "latent/core/error.hpp"

namespace latent::inline v0 {

/// The processes of one data-parallel job, each running the same program on its slice of every
/// batch. Every call but `rank`, `size` and `abort` is collective: all processes make it, in the
/// same order, with buffers of the same size.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process, 0 .. size() - 1. Rank 0 writes the checkpoints.
  [[nodiscard]] virtual int rank() const = 0;
  /// Processes in the job.
  [[nodiscard]] virtual int size() const = 0;
  /// Replaces `data` on every process by its elementwise sum over all processes.
  virtual void sum(std::span<float> data) = 0;
  /// See `sum(std::span<float>)`.
  virtual void sum(std::span<double> data) = 0;
  /// Copies process `root`'s `bytes` into every process's `bytes`.
  virtual void broadcast(std::span<std::byte> bytes, int root) = 0;
  /// `n` elements of memory that `sum` adds up faster than any other, or an empty span if this
  /// communicator has none (then sum your own). `MpiCommunicator`'s, when every process runs on
  /// one machine, is shared between the processes: their sums need no copies through MPI.
  /// Valid until the next call or the communicator's end. Collective.
  template <class S>
  [[nodiscard]] std::span<S> sum_memory(std::size_t n) {
    const std::span<std::byte> bytes = sum_bytes(n * sizeof(S));
    if (bytes.empty()) return {};
    return {reinterpret_cast<S*>(bytes.data()), n};
  }
  /// The memory of `sum_memory`, in bytes, aligned to at least 64 (`MpiCommunicator`: to a page).
  /// The default: none.
  [[nodiscard]] virtual std::span<std::byte> sum_bytes(std::size_t /*bytes*/) { return {}; }
  /// Ends every process of the job after writing `message` to stderr; does not return. For an
  /// error on one process, which the others, waiting in a collective call, would never see.
  [[noreturn]] virtual void abort(const std::string& message) = 0;
};

/// The job of this process alone: sums and broadcasts change nothing; `abort` throws the
/// message as an `Error` (nothing else waits for this process).
class LocalCommunicator final : public Communicator {
 public:
  [[nodiscard]] int rank() const override { return 0; }
  [[nodiscard]] int size() const override { return 1; }
  void sum(std::span<float>) override {}
  void sum(std::span<double>) override {}
  void broadcast(std::span<std::byte>, int) override {}
  [[noreturn]] void abort(const std::string& message) override { throw Error("LocalCommunicator", message); }
};

}  // namespace latent::inline v0
