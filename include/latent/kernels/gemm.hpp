#pragma once
/// @file
/// `detail::gemm`: C (+)= op(A) op(B) through Eigen's GEMM kernel, with packing buffers that are
/// kept per thread instead of allocated per call, and a deterministic split over threads.
///
/// Why not `C.noalias() += A * B`: for shapes beyond Eigen's 128 KiB stack limit every product
/// heap-allocates its packing buffers, and the parallel path allocates on every call too. A
/// training step does ~10 GEMMs, so that is ~10 mallocs a step. Here each thread packs into
/// buffers it keeps, and threads split C into column slabs (row slabs when C has few columns),
/// so the summation order depends only on the shapes and the thread count.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "latent/core/parallel.hpp"
#include "latent/core/scalar.hpp"
#include "latent/core/threads.hpp"
#include "latent/kernels/blas.hpp"
#include "latent/kernels/dnnl.hpp"
#include "latent/kernels/map_entries.hpp"
#include "latent/kernels/packet.hpp"

namespace latent::inline v0::detail {

/// A column-major operand as the kernel sees it: data, leading dimension and whether it is
/// used transposed.
template <class S>
struct GemmOperand {
  const S* data;
  Index rows, cols;  // of the stored matrix, before any transpose
  bool transposed;
  [[nodiscard]] Index op_rows() const { return transposed ? cols : rows; }
  [[nodiscard]] Index op_cols() const { return transposed ? rows : cols; }
};

template <class Derived>
GemmOperand<typename Derived::Scalar> gemm_operand(const Eigen::MapBase<Derived>& m) {
  return {m.data(), m.rows(), m.cols(), false};
}
template <class Derived>
GemmOperand<typename Derived::Scalar> gemm_operand(const Eigen::Transpose<Derived>& m) {
  const auto& inner = m.nestedExpression();
  return {inner.data(), inner.rows(), inner.cols(), true};
}

/// op(A) as an Eigen map, of one type whether A is transposed or not (the strides swap), for
/// code that copies an operand.
template <class S>
Eigen::Map<const Matrix<S>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>> operand_view(const GemmOperand<S>& a) {
  using Strides = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;  // (between columns, between rows)
  return {a.data, a.op_rows(), a.op_cols(), a.transposed ? Strides(1, a.rows) : Strides(a.rows, 1)};
}

/// Packing buffers Eigen's kernel reads from; grown on demand, never shrunk.
template <class S>
class PackingBuffers : public Eigen::internal::level3_blocking<S, S> {
 public:
  PackingBuffers() = default;
  PackingBuffers(const PackingBuffers&) = delete;
  PackingBuffers& operator=(const PackingBuffers&) = delete;
  ~PackingBuffers() { release(); }

  /// Chooses cache blocks for an m x n x k product on one thread and makes room for them.
  void prepare(Index m, Index n, Index k) {
    this->m_kc = k;
    this->m_mc = m;
    this->m_nc = n;
    Eigen::internal::computeProductBlockingSizes<S, S>(this->m_kc, this->m_mc, this->m_nc, Index(1));
    const auto need_a = std::size_t(this->m_kc * this->m_mc), need_b = std::size_t(this->m_kc * this->m_nc);
    if (need_a > size_a_ || need_b > size_b_) {
      release();
      size_a_ = std::max(need_a, size_a_);
      size_b_ = std::max(need_b, size_b_);
      this->m_blockA = static_cast<S*>(::operator new (size_a_ * sizeof(S), std::align_val_t{64}));
      this->m_blockB = static_cast<S*>(::operator new (size_b_ * sizeof(S), std::align_val_t{64}));
    }
  }

 private:
  void release() {
    if (this->m_blockA) ::operator delete (this->m_blockA, std::align_val_t{64});
    if (this->m_blockB) ::operator delete (this->m_blockB, std::align_val_t{64});
    this->m_blockA = nullptr;
    this->m_blockB = nullptr;
  }
  std::size_t size_a_ = 0, size_b_ = 0;
};

/// Packing buffers for the `shares` shares of a product started by the calling thread, one set
/// per share, not per thread: any thread may run any share (`ThreadPool` hands a busy thread's
/// share to a free one), and a share's slab has the same shape every step, so buffers kept by
/// share stop growing after the first step, whoever runs them.
template <class S>
std::vector<std::unique_ptr<PackingBuffers<S>>>& share_buffers(int shares) {
  thread_local std::vector<std::unique_ptr<PackingBuffers<S>>> buffers;
  while (int(buffers.size()) < shares) buffers.push_back(std::make_unique<PackingBuffers<S>>());
  return buffers;
}

// C[rows r0.., cols c0..] (+)= op(A)[r0.., :] op(B)[:, c0..] on the calling thread.
template <class S, int LhsOrder, int RhsOrder>
void gemm_block(const GemmOperand<S>& a, const GemmOperand<S>& b, S* c, Index ldc, Index r0, Index m, Index c0, Index n,
                bool accumulate, PackingBuffers<S>& buffers) {
  const Index k = a.op_cols();
  // op(A)[r0, 0]: row r0 of A, or column r0 of the stored A when transposed.
  const S* a0 = a.transposed ? a.data + r0 * a.rows : a.data + r0;
  const S* b0 = b.transposed ? b.data + c0 : b.data + c0 * b.rows;
  S* slab = c + r0 + c0 * ldc;
  [[maybe_unused]] const double volume = double(m) * double(n) * double(k);  // multiply-adds
#if defined(LATENT_USE_DNNL)
  if constexpr (std::is_same_v<S, float>)
    if (volume >= dnnl_min_volume &&
        dnnl_gemm(a.transposed, b.transposed, m, n, k, a0, a.rows, b0, b.rows, slab, ldc, accumulate))
      return;
#endif
#if defined(LATENT_USE_BLAS)
  if (volume >= blas_min_volume && blas_route()) {
    blas_gemm(a.transposed, b.transposed, m, n, k, a0, a.rows, b0, b.rows, slab, ldc, accumulate);
    return;
  }
#endif
  // The kernel only adds; the slab is zeroed here, by the thread that computes it.
  if (!accumulate) Eigen::Map<Matrix<S>, 0, Eigen::OuterStride<>>(slab, m, n, Eigen::OuterStride<>(ldc)).setZero();
  using Kernel =
      Eigen::internal::general_matrix_matrix_product<Index, S, LhsOrder, false, S, RhsOrder, false, Eigen::ColMajor, 1>;
  buffers.prepare(m, n, k);
  Kernel::run(m, n, k, a0, a.rows, b0, b.rows, slab, 1, ldc, S(1), buffers, nullptr);
}

// Calls `f.template operator()<LhsOrder, RhsOrder>()` with the Eigen storage orders in which
// the kernel reads op(A) and op(B) (a transposed column-major operand is read row-major).
template <class S, class F>
void with_storage_orders(const GemmOperand<S>& a, const GemmOperand<S>& b, F&& f) {
  constexpr int N = Eigen::ColMajor, T = Eigen::RowMajor;
  if (a.transposed && b.transposed)
    f.template operator()<T, T>();
  else if (a.transposed)
    f.template operator()<T, N>();
  else if (b.transposed)
    f.template operator()<N, T>();
  else
    f.template operator()<N, N>();
}

template <class S, int LhsOrder, int RhsOrder>
void gemm_dispatch(const GemmOperand<S>& a, const GemmOperand<S>& b, S* c, Index m, Index n, bool accumulate) {
  const int threads = std::min<int>(num_threads(), int(std::max(m, n) / 32) + 1);
  // Slabs along the longer side of C, or along its columns whenever there are 256 or more: a
  // weight gradient (out x in) is then split the way optimizers own it, by columns, so Adam
  // reads the part its own thread wrote (by rows, the 784 x 400 output layer's gradient crossed
  // cores; 5% of a batch-128 step when cross-core traffic is slow, see docs/performance.md).
  // Slabs are multiples of 8 rows / 4 columns so the kernels' register blocks stay mostly full,
  // yet halves of the layer widths (400, 784) split evenly.
  const bool by_cols = n >= m || n >= 256;
  const Index total = by_cols ? n : m, unit = by_cols ? 4 : 8;
  const Index slab = (total / threads + unit - 1) / unit * unit;
  auto& buffers = share_buffers<S>(threads);
  on_threads(threads, [&](int t) {
    const Index start = std::min(total, t * slab),
                len = t + 1 == threads ? total - start : std::min(total - start, slab);
    if (len == 0) return;
    if (by_cols)
      gemm_block<S, LhsOrder, RhsOrder>(a, b, c, m, 0, m, start, len, accumulate, *buffers[std::size_t(t)]);
    else
      gemm_block<S, LhsOrder, RhsOrder>(a, b, c, m, start, len, 0, n, accumulate, *buffers[std::size_t(t)]);
  });
}

/// Rows [r0, r0 + m) of C (+)= the same rows of op(A) times op(B), on the calling thread with the
/// given packing buffers: for callers that split a product over their own threads by blocks of
/// rows and do more work on each block while it is in cache (a conv layer's image chunks). C is
/// column-major with op(A)'s row count as its leading dimension. Call `check_gemm_sizes` before
/// the region: nothing here may throw inside one.
template <class S>
void gemm_rows(const GemmOperand<S>& a, const GemmOperand<S>& b, S* c, Index r0, Index m, bool accumulate,
               PackingBuffers<S>& buffers) {
  with_storage_orders(a, b, [&]<int LhsOrder, int RhsOrder>() {
    gemm_block<S, LhsOrder, RhsOrder>(a, b, c, a.op_rows(), r0, m, 0, b.op_cols(), accumulate, buffers);
  });
}

/// Throws `ShapeError` if op(A) op(B) cannot go through the product route (a BLAS's `int`
/// dimensions); what `gemm` checks before it splits a product over threads.
template <class S>
void check_gemm_sizes([[maybe_unused]] const GemmOperand<S>& a, [[maybe_unused]] const GemmOperand<S>& b) {
#if defined(LATENT_USE_BLAS)
  require_blas_sizes(a.op_rows(), b.op_cols(), a.op_cols(), a.rows, b.rows);
#endif
}

/// Partial sums of `gemv`, one column per extra thread; grown on demand, kept.
template <class S>
Matrix<S>& gemv_partials() {
  thread_local Matrix<S> partials;
  return partials;
}

// y[0, R w) (+)= A[0, R w) x on the calling thread, w the width of P, for A column-major (rows
// x cols, columns `lda` apart): R accumulators stay in registers across the columns, so y is
// read and written once.
template <int R, class P, class S>
void gemv_rows(const S* a, Index lda, Index cols, const S* x, S* y, bool accumulate) {
  using namespace Eigen::internal;
  constexpr Index width = sizeof(P) / sizeof(S);
  P sums[R];
  for (P& sum : sums) sum = pset1<P>(S(0));
  for (Index j = 0; j < cols; ++j) {
    const P xj = pset1<P>(x[j]);
    for (int r = 0; r < R; ++r) sums[r] = pmadd(ploadu<P>(a + j * lda + r * width), xj, sums[r]);
  }
  for (int r = 0; r < R; ++r) write_entry(y, r * width, accumulate, sums[r]);
}

/// The SIMD packet half as wide as P (P itself if there is none).
template <class P>
using HalfPacket = typename Eigen::internal::unpacket_traits<P>::half;

// Eigen's packet types carry GCC's may_alias attribute, which a template argument drops: harmless
// here, where only Eigen's load and store functions touch memory.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
// The rows of y (+)= A x in packets of P, then the rest in packets half as wide (AVX-512 has 8-
// and 4-float ones) and finally one by one: a 20-row layer is one packet of 16 and one of 4, where
// four single rows would be four chains of dependent multiply-adds as long as the row.
template <int R, class P, class S>
void gemv_packets(const S* a, Index lda, Index rows, Index cols, const S* x, S* y, bool accumulate) {
  constexpr Index width = sizeof(P) / sizeof(S);
  Index i = 0;
  for (; i + R * width <= rows; i += R * width) gemv_rows<R, P>(a + i, lda, cols, x, y + i, accumulate);
  if constexpr (R > 1)
    for (; i + width <= rows; i += width) gemv_rows<1, P>(a + i, lda, cols, x, y + i, accumulate);
  if constexpr (!std::is_same_v<HalfPacket<P>, P>)
    gemv_packets<1, HalfPacket<P>>(a + i, lda, rows - i, cols, x, y + i, accumulate);
  else
    for (; i < rows; ++i) gemv_rows<1, S>(a + i, lda, cols, x, y + i, accumulate);
}
#pragma GCC diagnostic pop

// y (+)= A x, in blocks of 16 columns, each read as 16 contiguous streams.
template <class S>
void gemv_columns(const S* a, Index lda, Index rows, Index cols, const S* x, S* y, bool accumulate) {
  constexpr Index block = 16;
  if (cols == 0 && !accumulate) std::fill_n(y, rows, S(0));
  for (Index j = 0; j < cols; j += block)
    gemv_packets<4, Packet<S>>(a + j * lda, lda, rows, std::min(block, cols - j), x + j, y, accumulate || j > 0);
}

// y[c] (+)= A.col(c) . x for N consecutive columns of A (rows x cols, columns `lda` apart) on the
// calling thread: each packet of x is loaded once for N dot products.
template <int N, class S>
void dot_columns(const S* a, Index lda, Index rows, const S* x, S* y, bool accumulate) {
  using namespace Eigen::internal;
  using P = Packet<S>;
  constexpr Index width = packet_traits<S>::size;
  P sums[N];
  for (P& sum : sums) sum = pset1<P>(S(0));
  Index i = 0;
  for (; i + width <= rows; i += width) {
    const P xi = ploadu<P>(x + i);
    for (int c = 0; c < N; ++c) sums[c] = pmadd(ploadu<P>(a + c * lda + i), xi, sums[c]);
  }
  for (int c = 0; c < N; ++c) {
    S dot = predux(sums[c]);
    for (Index r = i; r < rows; ++r) dot += a[c * lda + r] * x[r];
    write_entry(y, c, accumulate, dot);
  }
}
template <class S>
void gemv_dots(const S* a, Index lda, Index rows, Index cols, const S* x, S* y, bool accumulate) {
  Index j = 0;
  for (; j + 4 <= cols; j += 4) dot_columns<4>(a + j * lda, lda, rows, x, y + j, accumulate);
  for (; j < cols; ++j) dot_columns<1>(a + j * lda, lda, rows, x, y + j, accumulate);
}

// y (+)= op(A) x for a contiguous x and y. Why our own kernels instead of Eigen's matrix-vector
// product: these two are as fast at our shapes and cost a tenth of its compile time (Eigen's
// took 1.7 s in every translation unit that trains a model). Threads split A by columns either
// way. Not transposed, each sums its columns' share of y into its own partial sum, added in
// thread order: optimizers update parameters by the same column shares, so each thread reads
// the weights it just wrote and still has in its own cache (split by rows, half of every
// column came from the other core, which made the batch-1 forward pass no faster on 2 threads
// than on 1). Transposed, a column of A is one entry of y, and the threads' entries are disjoint.
template <class S>
void gemv(const GemmOperand<S>& a, const S* x, S* y, bool accumulate) {
  if (a.transposed) {
    for_each_column_block(a.rows, a.cols, [&](Index c, Index n) {
      gemv_dots(a.data + c * a.rows, a.rows, a.rows, n, x, y + c, accumulate);
    });
    return;
  }
  const Index m = a.rows, k = a.cols;
  const int threads = threads_for(m * k, k);
  Matrix<S>& partials = gemv_partials<S>();
  if (partials.rows() < m || partials.cols() < threads - 1)
    partials.resize(std::max(partials.rows(), m), std::max<Index>(partials.cols(), threads - 1));
  on_threads(threads, [&](int t) {
    const auto [first, last] = share_of(k, t, threads);
    S* out = t > 0 ? partials.col(t - 1).data() : y;
    gemv_columns(a.data + first * m, m, m, last - first, x + first, out, t == 0 && accumulate);
  });
  for (int t = 1; t < threads; ++t) Eigen::Map<Vector<S>>(y, m) += partials.col(t - 1).head(m);
}

// C (+)= u v^T for C column-major m x n, u of m entries and v of n; threads split the columns.
template <class S>
void outer_product(const S* u, const S* v, S* c, Index m, Index n, bool accumulate) {
  map_column_entries(
      c, m, n, accumulate, [v]<class P>(Index j, const P& ui) { return ui * P(v[j]); }, BroadcastColumn<S>{u});
}

/// C = op(A) op(B), or C += op(A) op(B) when `accumulate`. C is a contiguous column-major m x n
/// buffer; A and B are contiguous column-major matrices used as is or transposed.
template <class S>
void gemm(const GemmOperand<S>& a, const GemmOperand<S>& b, S* c, bool accumulate) {
  const Index m = a.op_rows(), n = b.op_cols(), k = a.op_cols();
  if (k == 0 && !accumulate) std::fill_n(c, m * n, S(0));
  if (m == 0 || n == 0 || k == 0) return;
  // Batch 1 and other thin shapes, where a GEMM kernel would spend more on packing than on
  // arithmetic. A column of op(B) or a row of op(A) is contiguous whether transposed or not, so
  // n == 1 is the matrix-vector product op(A) x, m == 1 the product op(B)^T x that gives C's one
  // row, and k == 1 an outer product. None of them allocates.
  if (n == 1) {
    gemv(a, b.data, c, accumulate);
    return;
  }
  if (m == 1) {
    gemv<S>({b.data, b.rows, b.cols, !b.transposed}, a.data, c, accumulate);
    return;
  }
  if (k == 1) {
    outer_product(a.data, b.data, c, m, n, accumulate);
    return;
  }
  check_gemm_sizes(a, b);
  with_storage_orders(a, b, [&]<int LhsOrder, int RhsOrder>() {
    gemm_dispatch<S, LhsOrder, RhsOrder>(a, b, c, m, n, accumulate);
  });
}

}  // namespace latent::inline v0::detail

namespace latent::inline v0 {

/// Which kernel latent's large matrix products run on, for the first line of a log: the BLAS
/// route's answer (`detail::blas_backend`), or with the oneDNN route "oneDNN (brg:avx512_core
/// kernel), double on Eigen", since oneDNN takes the float products only.
inline std::string gemm_backend() {
#if defined(LATENT_USE_DNNL)
  if (const std::string kernel = detail::dnnl_kernel(); !kernel.empty())
    return "oneDNN (" + kernel + " kernel), double on " + detail::blas_backend();
  return detail::blas_backend() + " (oneDNN declined: it offers only its reference kernel here)";
#else
  return detail::blas_backend();
#endif
}

}  // namespace latent::inline v0
