#pragma once
/// @file
/// `detail::blas_gemm`: the optional route of latent's matrix products to an external BLAS.
///
/// Off unless the translation unit defines `LATENT_USE_BLAS` (and links a CBLAS, e.g. Debian's
/// libopenblas-dev: `cblas.h` and `-lopenblas`). latent still splits every product over its own
/// threads, so results stay bit-identical per thread count; each thread calls the BLAS on its
/// slab. OpenBLAS is therefore told to use one thread: its own pool would otherwise spin on the
/// same cores as ours.
///
/// Why offer it: on the AVX-512 AMD machine OpenBLAS's SGEMM kernels ran faster than Eigen's at
/// the shapes of an MLP step (docs/performance.md has the numbers).
///
/// Why it can be declined: a BLAS that does not know the CPU falls back to a generic kernel.
/// Debian's OpenBLAS 0.3.21 takes its SSE3 "Prescott" kernel on Intel Xeons of family 6 model 207
/// (AVX-512, AMX), several times slower than Eigen's AVX-512 kernel; a machine's environment can
/// force a narrower kernel (`OPENBLAS_CORETYPE=Haswell` on an AVX-512 AMD EPYC). So the route is
/// taken only when the BLAS's kernel is as wide as the CPU and as Eigen's kernel compiled here
/// (`blas_kernel_fits`); otherwise products stay on Eigen's kernel. The choice depends only on
/// the machine and the build, so results stay bit-reproducible; `latent::gemm_backend()` says
/// which route was taken.

#include <algorithm>
#include <cctype>
#include <climits>
#include <string>
#include <string_view>
#include <type_traits>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"

#if defined(LATENT_USE_BLAS)
#include <cblas.h>
#endif

namespace latent::inline v0::detail {

/// Vector width, in bits, of this CPU's multiply-adds: 512 with AVX-512F, 256 with AVX2 and
/// FMA (what every x86 BLAS kernel worth taking uses), otherwise 128.
inline int cpu_vector_bits() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  if (__builtin_cpu_supports("avx512f")) return 512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 256;
#endif
  return 128;
}

/// Vector width, in bits, of Eigen's kernel as this translation unit compiles it (`-march`).
inline constexpr int eigen_vector_bits() {
#if defined(EIGEN_VECTORIZE_AVX512)
  return 512;
#elif defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
  return 256;
#else
  return 128;
#endif
}

/// Vector width of an OpenBLAS kernel named `core` (`openblas_get_corename()`, any case): 512
/// for SkylakeX, Cooperlake and SapphireRapids, 256 for Haswell and Zen, 0 for a generic or
/// unknown one (Prescott, Core2, Nehalem, Sandybridge, "").
inline int blas_kernel_bits(std::string_view core) {
  std::string name(core);
  for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view k : {"skylakex", "cooperlake", "sapphirerapids"})
    if (name == k) return 512;
  for (std::string_view k : {"haswell", "zen"})
    if (name == k) return 256;
  return 0;
}

/// Whether a BLAS whose kernel is named `core` is worth taking on a CPU whose vectors are
/// `cpu_bits` wide, beside Eigen's kernel compiled `eigen_bits` wide: on a CPU without AVX2
/// always; otherwise only a kernel with AVX2 or better (never a generic one: Debian's OpenBLAS
/// 0.3.21 runs Prescott on the Intel Xeon of family 6 model 207, 3x slower than Eigen's kernel)
/// and at least as wide as the one Eigen's runs at there (a Haswell kernel, forced by
/// `OPENBLAS_CORETYPE=Haswell`, ran the VAE's products at 89-97 GFLOP/s on an AVX-512 AMD EPYC
/// where Eigen's AVX-512 kernel ran 118-121).
inline bool blas_kernel_fits(std::string_view core, int cpu_bits, int eigen_bits) {
  if (cpu_bits < 256) return true;
  const int kernel = blas_kernel_bits(core);
  return kernel >= 256 && kernel >= std::min(cpu_bits, eigen_bits);
}

#if defined(LATENT_USE_BLAS)
/// The name of the BLAS's kernel, or "" when the BLAS cannot tell.
inline std::string blas_core() {
#if defined(OPENBLAS_VERSION)
  return openblas_get_corename();
#else
  return "";
#endif
}

/// Whether products go to the BLAS: decided once per process, from the CPU and the BLAS's kernel.
inline bool blas_route() {
  static const bool take = blas_kernel_fits(blas_core(), cpu_vector_bits(), eigen_vector_bits());
  return take;
}
#endif

/// Which kernel the BLAS route leaves products on: "OpenBLAS (SkylakeX kernel)", "Eigen (OpenBLAS
/// declined: its Prescott kernel is generic on this AVX2 CPU)", "Eigen (OpenBLAS declined: its
/// Haswell kernel is 256-bit, Eigen's 512-bit on this CPU)" or "Eigen".
inline std::string blas_backend() {
#if defined(LATENT_USE_BLAS)
  const std::string core = blas_core();
  if (blas_route()) return "OpenBLAS (" + (core.empty() ? std::string("unknown") : core) + " kernel)";
  const int kernel = blas_kernel_bits(core);
  const int eigen = std::min(cpu_vector_bits(), eigen_vector_bits());
  if (kernel == 0) return "Eigen (OpenBLAS declined: its " + core + " kernel is generic on this AVX2 CPU)";
  return "Eigen (OpenBLAS declined: its " + core + " kernel is " + std::to_string(kernel) + "-bit, Eigen's " +
         std::to_string(eigen) + "-bit on this CPU)";
#else
  return "Eigen";
#endif
}

}  // namespace latent::inline v0::detail

#if defined(LATENT_USE_BLAS)

namespace latent::inline v0::detail {

/// Products with fewer multiply-adds (m n k) stay on Eigen's kernel: OpenBLAS's AVX-512
/// small-matrix kernels, which it picks below about 100^3, call malloc on every product, and at
/// those sizes the two kernels are equally fast.
inline constexpr double blas_min_volume = 2e6;

/// Throws `ShapeError` if a product of these sizes cannot go through the BLAS's `int`
/// dimensions. Called before the product is split over threads, where an exception could not
/// leave the parallel region.
inline void require_blas_sizes(Index m, Index n, Index k, Index lda, Index ldb) {
  if (std::max({m, n, k, lda, ldb}) > INT_MAX) throw ShapeError("gemm", "a dimension exceeds the BLAS's int range");
}

/// C (m x n, leading dimension ldc) (+)= op(A) op(B) through the BLAS, with A and B column-major
/// with leading dimensions lda and ldb, each used as is or transposed; `+=` when `accumulate`.
template <class S>
void blas_gemm(bool a_transposed, bool b_transposed, Index m, Index n, Index k, const S* a, Index lda, const S* b,
               Index ldb, S* c, Index ldc, bool accumulate) {
#if defined(OPENBLAS_VERSION)
  static const bool single_threaded = (openblas_set_num_threads(1), true);
  (void)single_threaded;
#endif
  const auto ta = a_transposed ? CblasTrans : CblasNoTrans, tb = b_transposed ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<S, float>)
    cblas_sgemm(CblasColMajor, ta, tb, int(m), int(n), int(k), 1.0f, a, int(lda), b, int(ldb), accumulate ? 1.0f : 0.0f,
                c, int(ldc));
  else
    cblas_dgemm(CblasColMajor, ta, tb, int(m), int(n), int(k), 1.0, a, int(lda), b, int(ldb), accumulate ? 1.0 : 0.0, c,
                int(ldc));
}

}  // namespace latent::inline v0::detail

#endif
