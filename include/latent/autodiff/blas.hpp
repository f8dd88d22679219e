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
/// Why offer it: on AVX-512 machines OpenBLAS's SGEMM kernels run about 15% faster than Eigen's
/// at the shapes of an MLP step (docs/performance.md has the numbers).

#if defined(LATENT_USE_BLAS)

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <type_traits>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"

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
    cblas_sgemm(CblasColMajor, ta, tb, int(m), int(n), int(k), 1.0f, a, int(lda), b, int(ldb), accumulate ? 1.0f : 0.0f, c, int(ldc));
  else
    cblas_dgemm(CblasColMajor, ta, tb, int(m), int(n), int(k), 1.0, a, int(lda), b, int(ldb), accumulate ? 1.0 : 0.0, c, int(ldc));
}

}  // namespace latent::inline v0::detail

#endif
