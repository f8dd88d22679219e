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
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <span>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "latent/core/error.hpp"
#include "latent/train/communicator.hpp"

namespace latent::inline v0 {

/// The processes of `MPI_COMM_WORLD` as a `Communicator`. Initialises MPI (funneled: only the
/// main thread calls MPI; latent's worker threads do not) unless the program already did, and
/// finalises it on destruction if it initialised it. MPI's default error handler stays: a
/// failed or killed process ends the job (mpirun reports which), it does not hang.
///
/// When every process runs on one machine, `sum_memory` hands out memory the processes share
/// (POSIX shared memory, one slot per process) and `sum` adds it up there: each process adds its
/// 1/N of every process's buffer, in rank order, and writes the total into all of them, between
/// two barriers. No copies through MPI; each process touches 2/N of the data of all N buffers
/// (`MPI_Allreduce` over shared memory copied every buffer through MPI's own: on a 2-core AMD
/// EPYC, 0.2-0.6 ms against 0.07 ms for 2.6 MB). Across machines, or where the shared memory
/// cannot be had (a full /dev/shm), `sum` is `MPI_Allreduce`.
///
/// Why not an MPI-3 shared window (`MPI_Win_allocate_shared`): Open MPI 4.1 makes it in
/// /dev/shm, and when that is too small (a container's 64 MB) one process fails and the others
/// wait in the call forever. Here every process knows whether its own mapping worked (the
/// space is reserved up front, so no page can fault later) and they agree before using it.
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
    release_shared();
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
  void sum(std::span<float> data) override { sum_in_place(data, MPI_FLOAT); }
  /// See `sum(std::span<float>)`.
  void sum(std::span<double> data) override { sum_in_place(data, MPI_DOUBLE); }
  /// This process's slot of memory shared by the processes when they all run on one machine
  /// (collective: every process calls it with the same size); empty otherwise, for 0 bytes, and
  /// from the first time the memory could not be had on. A larger size than before replaces it.
  [[nodiscard]] std::span<std::byte> sum_bytes(std::size_t bytes) override {
    if (size_ == 1 || local_size_ != size_ || bytes == 0 || no_shared_) return {};
    if (bytes > slot_bytes_ && !share((bytes + 4095) / 4096 * 4096)) {
      no_shared_ = true;
      return {};
    }
    return {slot(local_rank_), bytes};
  }
  /// How `sum` adds up `sum_memory`'s buffers, for a program to report: "shared memory of this
  /// machine (N processes)" once the memory is had, else "MPI_Allreduce" and why not shared.
  [[nodiscard]] std::string sum_route() const {
    if (shared_ != nullptr) return "shared memory of this machine (" + std::to_string(local_size_) + " processes)";
    if (size_ == 1) return "none (one process)";
    if (local_size_ != size_) return "MPI_Allreduce (the processes run on several machines)";
    if (no_shared_) return "MPI_Allreduce (shared memory could not be had: /dev/shm too small?)";
    return "MPI_Allreduce (no shared memory asked for yet)";
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
  [[nodiscard]] bool in_shared(auto data) const noexcept {
    if (shared_ == nullptr) return false;
    const auto at = reinterpret_cast<std::uintptr_t>(data.data());
    const auto mine = reinterpret_cast<std::uintptr_t>(slot(local_rank_));
    return at >= mine && at + data.size_bytes() <= mine + slot_bytes_;
  }
  [[nodiscard]] std::byte* slot(int r) const noexcept { return shared_ + std::size_t(r) * slot_bytes_; }

  // Maps `local_size_` slots of `slot_bytes` (a multiple of the page size) that every process
  // here shares, replacing any before; false on every process if any could not. Local rank 0
  // makes a POSIX shared-memory object and reserves its pages (posix_fallocate: ENOSPC now, not
  // a SIGBUS at first touch), the others open it by name, and once all have mapped it the name
  // is removed, so nothing is left behind when the job ends, however it ends.
  bool share(std::size_t slot_bytes) {
    release_shared();
    const std::size_t total = slot_bytes * std::size_t(local_size_);
    char name[64] = {};
    int ok = 1, fd = -1;
    if (local_rank_ == 0) {
      std::snprintf(name, sizeof name, "/latent-sum-%ld-%d", long(::getpid()), shares_made_);
      fd = ::shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
      ok = fd >= 0 && ::ftruncate(fd, off_t(total)) == 0 && ::posix_fallocate(fd, 0, off_t(total)) == 0;
    }
    ++shares_made_;
    MPI_Bcast(name, sizeof name, MPI_CHAR, 0, local_);
    MPI_Bcast(&ok, 1, MPI_INT, 0, local_);
    if (ok != 0 && local_rank_ != 0) {
      fd = ::shm_open(name, O_RDWR, 0600);
      ok = fd >= 0;
    }
    void* at = ok != 0 ? ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (fd >= 0) ::close(fd);
    ok = at != MAP_FAILED;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, local_);  // every process has mapped, or tried
    if (local_rank_ == 0) ::shm_unlink(name);
    if (ok == 0) {
      if (at != MAP_FAILED) ::munmap(at, total);
      return false;
    }
    shared_ = static_cast<std::byte*>(at);
    slot_bytes_ = slot_bytes;
    return true;
  }

  void release_shared() noexcept {
    if (shared_ == nullptr) return;
    ::munmap(shared_, slot_bytes_ * std::size_t(local_size_));
    shared_ = nullptr;
    slot_bytes_ = 0;
  }

  // Every process's buffer sits at the same offset of its slot. Process r adds up elements
  // [n r / N, n (r + 1) / N) of all N buffers, in rank order (so every process reads the same
  // bits), a chunk at a time through a buffer that stays in L1, and stores the total into all N.
  template <class T>
  void shared_sum(std::span<T> data) {
    using Column = Eigen::Array<T, Eigen::Dynamic, 1>;
    const std::ptrdiff_t offset = reinterpret_cast<std::byte*>(data.data()) - slot(local_rank_);
    const auto buffer = [&](int r) { return reinterpret_cast<T*>(slot(r) + offset); };
    const auto everyone_here = [&] {  // stores before it are seen by every process's loads after it
      std::atomic_thread_fence(std::memory_order_seq_cst);
      MPI_Barrier(local_);
      std::atomic_thread_fence(std::memory_order_seq_cst);
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

  template <class T>
  void sum_in_place(std::span<T> data, MPI_Datatype type) {
    if (in_shared(data)) return shared_sum(data);
    constexpr std::size_t piece = std::size_t(1) << 30;  // MPI counts are int
    for (std::size_t at = 0; at < data.size(); at += piece)
      MPI_Allreduce(MPI_IN_PLACE, data.data() + at, int(std::min(piece, data.size() - at)), type, MPI_SUM,
                    MPI_COMM_WORLD);
  }

  int rank_ = 0, size_ = 1, local_size_ = 1, local_rank_ = 0;
  bool owns_mpi_ = false;
  MPI_Comm local_ = MPI_COMM_NULL;  // the processes on this machine
  std::byte* shared_ = nullptr;     // sum_bytes's memory: local_size_ slots of slot_bytes_, in rank order
  std::size_t slot_bytes_ = 0;
  int shares_made_ = 0;     // for unique names
  bool no_shared_ = false;  // it could not be had once: MPI_Allreduce from then on
};

}  // namespace latent::inline v0
