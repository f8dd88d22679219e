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

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <span>
#include <string>

#include "latent/core/error.hpp"
#include "latent/train/communicator.hpp"

namespace latent::inline v0 {

/// The processes of `MPI_COMM_WORLD` as a `Communicator`. Initialises MPI (funneled: only the
/// main thread calls MPI; latent's worker threads do not) unless the program already did, and
/// finalises it on destruction if it initialised it. MPI's default error handler stays: a
/// failed or killed process ends the job (mpirun reports which), it does not hang.
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
    // The processes that share this machine (for a sensible number of threads each).
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
  }
  ~MpiCommunicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owns_mpi_ && finalised == 0) MPI_Finalize();
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

  /// `MPI_Allreduce` in place with `MPI_SUM`.
  void sum(std::span<float> data) override { allreduce(data.data(), data.size(), MPI_FLOAT); }
  /// `MPI_Allreduce` in place with `MPI_SUM`.
  void sum(std::span<double> data) override { allreduce(data.data(), data.size(), MPI_DOUBLE); }
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
  template <class T>
  static void allreduce(T* data, std::size_t n, MPI_Datatype type) {
    constexpr std::size_t piece = std::size_t(1) << 30;  // MPI counts are int
    for (std::size_t at = 0; at < n; at += piece)
      MPI_Allreduce(MPI_IN_PLACE, data + at, int(std::min(piece, n - at)), type, MPI_SUM, MPI_COMM_WORLD);
  }

  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool owns_mpi_ = false;
};

}  // namespace latent::inline v0
