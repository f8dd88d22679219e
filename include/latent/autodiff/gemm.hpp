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
#include <new>

#include <Eigen/Core>

#include "latent/autodiff/blas.hpp"
#include "latent/core/parallel.hpp"
#include "latent/core/scalar.hpp"
#include "latent/core/threads.hpp"

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
      this->m_blockA = static_cast<S*>(::operator new(size_a_ * sizeof(S), std::align_val_t{64}));
      this->m_blockB = static_cast<S*>(::operator new(size_b_ * sizeof(S), std::align_val_t{64}));
    }
  }

 private:
  void release() {
    if (this->m_blockA) ::operator delete(this->m_blockA, std::align_val_t{64});
    if (this->m_blockB) ::operator delete(this->m_blockB, std::align_val_t{64});
    this->m_blockA = nullptr;
    this->m_blockB = nullptr;
  }
  std::size_t size_a_ = 0, size_b_ = 0;
};

template <class S>
PackingBuffers<S>& packing_buffers() {
  thread_local PackingBuffers<S> buffers;
  return buffers;
}

// C[rows r0.., cols c0..] (+)= op(A)[r0.., :] op(B)[:, c0..] on the calling thread.
template <class S, int LhsOrder, int RhsOrder>
void gemm_block(const GemmOperand<S>& a, const GemmOperand<S>& b, S* c, Index ldc, Index r0, Index m, Index c0, Index n,
                bool accumulate) {
  const Index k = a.op_cols();
  // op(A)[r0, 0]: row r0 of A, or column r0 of the stored A when transposed.
  const S* a0 = a.transposed ? a.data + r0 * a.rows : a.data + r0;
  const S* b0 = b.transposed ? b.data + c0 : b.data + c0 * b.rows;
#if defined(LATENT_USE_BLAS)
  if (double(m) * double(n) * double(k) >= blas_min_volume) {
    blas_gemm(a.transposed, b.transposed, m, n, k, a0, a.rows, b0, b.rows, c + r0 + c0 * ldc, ldc, accumulate);
    return;
  }
#endif
  // The kernel only adds; the slab is zeroed here, by the thread that computes it.
  if (!accumulate) Eigen::Map<Matrix<S>, 0, Eigen::OuterStride<>>(c + r0 + c0 * ldc, m, n, Eigen::OuterStride<>(ldc)).setZero();
  using Kernel = Eigen::internal::general_matrix_matrix_product<Index, S, LhsOrder, false, S, RhsOrder, false,
                                                                 Eigen::ColMajor, 1>;
  PackingBuffers<S>& buffers = packing_buffers<S>();
  buffers.prepare(m, n, k);
  Kernel::run(m, n, k, a0, a.rows, b0, b.rows, c + r0 + c0 * ldc, 1, ldc, S(1), buffers, nullptr);
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
  on_threads(threads, [&](int t) {
    const Index start = std::min(total, t * slab), len = t + 1 == threads ? total - start : std::min(total - start, slab);
    if (len == 0) return;
    if (by_cols)
      gemm_block<S, LhsOrder, RhsOrder>(a, b, c, m, 0, m, start, len, accumulate);
    else
      gemm_block<S, LhsOrder, RhsOrder>(a, b, c, m, start, len, 0, n, accumulate);
  });
}

/// Partial sums of `gemv_by_columns`, one column per extra thread; grown on demand, kept.
template <class S>
Matrix<S>& gemv_partials() {
  thread_local Matrix<S> partials;
  return partials;
}

// y (+)= A x for a column-major A (not transposed) and a vector x, threads splitting the
// columns of A and summing their partial products in thread order. Why columns: optimizers
// update parameters by the same column shares, so each thread reads the weights it just wrote
// and still has in its own cache; split by rows, half of every column came from the other
// core, which made the batch-1 forward pass no faster on 2 threads than on 1.
template <class S, class Out>
void gemv_by_columns(const GemmOperand<S>& a, const GemmOperand<S>& b, Out y, bool accumulate) {
  const Index m = a.rows, k = a.cols;
  const int threads = threads_for(m * k, k);
  Matrix<S>& partials = gemv_partials<S>();
  if (partials.rows() < m || partials.cols() < threads - 1) partials.resize(std::max(partials.rows(), m), std::max<Index>(partials.cols(), threads - 1));
  const Eigen::Map<const Matrix<S>> A(a.data, m, k), x(b.data, k, 1);
  on_threads(threads, [&](int t) {
    const auto [first, last] = share_of(k, t, threads);
    const auto part = A.middleCols(first, last - first) * x.col(0).segment(first, last - first);
    if (t > 0)
      partials.col(t - 1).head(m).noalias() = part;
    else
      assign_or_add(y, part, accumulate);
  });
  for (int t = 1; t < threads; ++t) y += partials.col(t - 1).head(m);
}

// Calls f(op(A), op(B)) with the two operands as Eigen expressions (maps, transposed or not).
template <class S, class F>
void with_operand_expressions(const GemmOperand<S>& a, const GemmOperand<S>& b, F&& f) {
  using L = Eigen::Map<const Matrix<S>>;
  const L am(a.data, a.rows, a.cols), bm(b.data, b.rows, b.cols);
  if (a.transposed && b.transposed) f(am.transpose(), bm.transpose());
  else if (a.transposed) f(am.transpose(), bm);
  else if (b.transposed) f(am, bm.transpose());
  else f(am, bm);
}

/// C = op(A) op(B), or C += op(A) op(B) when `accumulate`. C is a contiguous column-major m x n
/// buffer; A and B are contiguous column-major matrices used as is or transposed.
template <class S>
void gemm(const GemmOperand<S>& a, const GemmOperand<S>& b, S* c, bool accumulate) {
  const Index m = a.op_rows(), n = b.op_cols(), k = a.op_cols();
  Eigen::Map<Matrix<S>> out(c, m, n);
  if (k == 0 && !accumulate) out.setZero();
  if (m == 0 || n == 0 || k == 0) return;
  // Batch 1 and other thin shapes: a matrix-vector product (n == 1) split by the columns of A
  // (gemv_by_columns), or by output rows when A is used transposed, an outer product (k == 1)
  // or vector-matrix product (m == 1) split by output columns, and tiny products as coefficient
  // loops. None of these allocates, and a GEMM kernel would spend more on packing than on
  // arithmetic.
  if (n == 1 && !a.transposed) {
    gemv_by_columns(a, b, out.col(0), accumulate);
    return;
  }
  if (n == 1) {
    // op(B) is one contiguous column whether B is used transposed or not (a 1 x k row of a
    // column-major matrix is contiguous too): one matrix-vector kernel, not one per transpose
    // combination, which cost a second of compile time in every translation unit.
    const Eigen::Map<const Matrix<S>> stored_a(a.data, a.rows, a.cols);
    const Eigen::Map<const Vector<S>> x(b.data, k);
    for_each_column_block(k, m, [&](Index r, Index len) {
      assign_or_add(out.col(0).segment(r, len), stored_a.middleCols(r, len).transpose() * x, accumulate);
    });
    return;
  }
  if (m == 1 || k == 1 || m + n + k < 20) {
    with_operand_expressions(a, b, [&](const auto& x, const auto& y) {
      for_each_column_block(std::max(m, k), n,
                            [&](Index c0, Index len) { assign_or_add(out.middleCols(c0, len), x.lazyProduct(y.middleCols(c0, len)), accumulate); });
    });
    return;
  }
#if defined(LATENT_USE_BLAS)
  require_blas_sizes(m, n, k, a.rows, b.rows);
#endif
  constexpr int N = Eigen::ColMajor, T = Eigen::RowMajor;
  if (a.transposed && b.transposed) gemm_dispatch<S, T, T>(a, b, c, m, n, accumulate);
  else if (a.transposed) gemm_dispatch<S, T, N>(a, b, c, m, n, accumulate);
  else if (b.transposed) gemm_dispatch<S, N, T>(a, b, c, m, n, accumulate);
  else gemm_dispatch<S, N, N>(a, b, c, m, n, accumulate);
}

}  // namespace latent::inline v0::detail
