#pragma once
/// @file
/// `MpiCommunicator`: data-parallel `fit` across processes and machines over MPI. Opt-in: the
/// one header of latent that needs MPI (Debian: libopenmpi-dev; CMake: link `latent::distributed`,
/// or `MPI::MPI_CXX` from `find_package(MPI COMPONENTS CXX)`). Guide: docs/distributed.md.
///
///     latent::MpiCommunicator world;                 // MPI_Init; MPI_Finalize when it goes
///     options.communicator = &world;                 // FitOptions: each rank trains its slice
///     latent::fit(vae, adam, train, test, options);  // mpirun -np 4 ./train

#if !__has_include(<mpi.h>)
#error \
    "latent/distributed.hpp needs MPI: apt-get install libopenmpi-dev, and link latent::distributed (or MPI::MPI_CXX)"
#endif

// Only MPI's C API is used: skip the deprecated C++ bindings (removed in MPI-3), which are
// slower to compile and not clean under -Wextra.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/train/communicator.hpp"

namespace latent::inline v0 {

/// The processes of `MPI_COMM_WORLD` as a `Communicator`. Initialises MPI (funneled: only the
/// main thread calls MPI; latent's worker threads do not) unless the program already did, and
/// finalises it on destruction if it initialised it. MPI's default error handler stays: a
/// failed or killed process ends the job (mpirun reports which), it does not hang.
///
/// When every process runs on one machine, `sum_memory` hands out memory the processes share
/// (an MPI-3 shared window) and `sum` adds it up there: each process adds its 1/N of every
/// process's buffer, in rank order, and writes the total into all of them, between two
/// barriers. No copies through MPI; each process touches 2/N of the data of all N buffers
/// (`MPI_Allreduce` over shared memory copied every buffer through MPI's own: on a 2-core AMD
/// EPYC, 0.45 ms against ~0.1 ms for 2.6 MB). Across machines `sum` is `MPI_Allreduce`.
class MpiCommunicator final : public Communicator {
 public:
  /// Joins the job (`MPI_Init_thread` if MPI is not initialised yet). Throws `Error` if MPI
  /// cannot give the funneled thread level.
  MpiCommunicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised == 0) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owns_mpi_ = true;
      if (provided < MPI_THREAD_FUNNELED) throw Error("MpiCommunicator", "MPI does not support MPI_THREAD_FUNNELED");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // The processes that share this machine (for a sensible number of threads each, and the
    // shared sum when they are all of the job).
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local_);
    MPI_Comm_size(local_, &local_size_);
    MPI_Comm_rank(local_, &local_rank_);
  }
  ~MpiCommunicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (finalised != 0) return;
    release_window();
    MPI_Comm_free(&local_);
    if (owns_mpi_) MPI_Finalize();
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  /// Whether this process was started by an MPI launcher (Open MPI's mpirun, or a PMI/PMIx
  /// one such as srun), read from its environment before MPI is touched: a program can then
  /// train alone, without MPI, when run plainly.
  [[nodiscard]] static bool launched_by_mpi() noexcept {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
      if (std::getenv(name) != nullptr) return true;
    return false;
  }

  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return size_; }
  /// Processes of the job on this machine (this one included).
  [[nodiscard]] int local_size() const noexcept { return local_size_; }

  /// In place: the shared sum for `sum_memory`'s memory, else `MPI_Allreduce` with `MPI_SUM`.
  void sum(std::span<float> data) override {
    if (in_window(data))
      shared_sum(data);
    else
      allreduce(data.data(), data.size(), MPI_FLOAT);
  }
  /// See `sum(std::span<float>)`.
  void sum(std::span<double> data) override {
    if (in_window(data))
      shared_sum(data);
    else
      allreduce(data.data(), data.size(), MPI_DOUBLE);
  }
  /// This process's part of a window shared by the processes when they all run on one machine
  /// (collective: every process calls it with the same size); empty otherwise, and for 0 bytes.
  /// A larger size than before replaces the window.
  [[nodiscard]] std::span<std::byte> sum_bytes(std::size_t bytes) override {
    if (size_ == 1 || local_size_ != size_ || bytes == 0) return {};
    if (bytes > slot_bytes_) {
      release_window();
      const std::size_t page = 4096, slot = (bytes + page - 1) / page * page;
      MPI_Info info;
      MPI_Info_create(&info);
      MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each process's part on its own pages
      void* mine = nullptr;
      MPI_Win_allocate_shared(MPI_Aint(slot + 64), 1, info, local_, &mine, &window_);  // 64: room to align
      MPI_Info_free(&info);
      slots_.assign(std::size_t(local_size_), nullptr);
      for (int r = 0; r < local_size_; ++r) {
        MPI_Aint size = 0;
        int unit = 0;
        void* base = nullptr;
        MPI_Win_shared_query(window_, r, &size, &unit, &base);
        const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(base);
        slots_[std::size_t(r)] = static_cast<std::byte*>(base) + ((64 - at % 64) % 64);
      }
      MPI_Win_lock_all(MPI_MODE_NOCHECK, window_);  // access by load and store, ordered by MPI_Win_sync
      slot_bytes_ = slot;
    }
    return {slots_[std::size_t(local_rank_)], bytes};
  }
  /// `MPI_Bcast` of the bytes (in pieces below 2^31 bytes).
  void broadcast(std::span<std::byte> bytes, int root) override {
    constexpr std::size_t piece = std::size_t(1) << 30;
    for (std::size_t at = 0; at < bytes.size(); at += piece)
      MPI_Bcast(bytes.data() + at, int(std::min(piece, bytes.size() - at)), MPI_BYTE, root, MPI_COMM_WORLD);
  }
  /// Writes `message` to stderr and ends every process of the job (`MPI_Abort`, exit code 1).
  [[noreturn]] void abort(const std::string& message) override {
    std::cerr << message << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();  // MPI_Abort does not return; this tells the compiler so
  }

 private:
  [[nodiscard]] bool in_window(auto data) const noexcept {
    if (window_ == MPI_WIN_NULL) return false;
    const auto at = reinterpret_cast<std::uintptr_t>(data.data());
    const auto mine = reinterpret_cast<std::uintptr_t>(slots_[std::size_t(local_rank_)]);
    return at >= mine && at + data.size_bytes() <= mine + slot_bytes_;
  }

  // Every process's buffer sits at the same offset of its slot. Process r adds up elements
  // [n r / N, n (r + 1) / N) of all N buffers, in rank order (so every process reads the same
  // bits), a chunk at a time through a buffer that stays in L1, and stores the total into all N.
  template <class T>
  void shared_sum(std::span<T> data) {
    using Column = Eigen::Array<T, Eigen::Dynamic, 1>;
    const std::ptrdiff_t offset = reinterpret_cast<std::byte*>(data.data()) - slots_[std::size_t(local_rank_)];
    const auto buffer = [&](int r) { return reinterpret_cast<T*>(slots_[std::size_t(r)] + offset); };
    const auto everyone_here = [&] {  // stores before it are seen by every process's loads after it
      MPI_Win_sync(window_);
      MPI_Barrier(local_);
      MPI_Win_sync(window_);
    };
    everyone_here();
    const std::size_t n = data.size(), parts = std::size_t(local_size_), part = std::size_t(local_rank_);
    const std::size_t begin = n * part / parts, end = n * (part + 1) / parts;
    constexpr std::size_t chunk = 1024;
    alignas(64) T total_storage[chunk];
    for (std::size_t at = begin; at < end; at += chunk) {
      const Eigen::Index m = Eigen::Index(std::min(chunk, end - at));
      Eigen::Map<Column, Eigen::Aligned64> total(total_storage, m);
      total = Eigen::Map<const Column>(buffer(0) + at, m);
      for (int r = 1; r < local_size_; ++r) total += Eigen::Map<const Column>(buffer(r) + at, m);
      for (int r = 0; r < local_size_; ++r) Eigen::Map<Column>(buffer(r) + at, m) = total;
    }
    everyone_here();
  }

  void release_window() {
    if (window_ == MPI_WIN_NULL) return;
    MPI_Win_unlock_all(window_);
    MPI_Win_free(&window_);
    slots_.clear();
    slot_bytes_ = 0;
  }

  template <class T>
  static void allreduce(T* data, std::size_t n, MPI_Datatype type) {
    constexpr std::size_t piece = std::size_t(1) << 30;  // MPI counts are int
    for (std::size_t at = 0; at < n; at += piece)
      MPI_Allreduce(MPI_IN_PLACE, data + at, int(std::min(piece, n - at)), type, MPI_SUM, MPI_COMM_WORLD);
  }

  int rank_ = 0, size_ = 1, local_size_ = 1, local_rank_ = 0;
  bool owns_mpi_ = false;
  MPI_Comm local_ = MPI_COMM_NULL;  // the processes on this machine
  MPI_Win window_ = MPI_WIN_NULL;   // sum_bytes's memory: one slot of slot_bytes_ per process here
  std::vector<std::byte*> slots_;
  std::size_t slot_bytes_ = 0;
};

}  // namespace latent::inline v0
