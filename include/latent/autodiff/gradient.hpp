#pragma once
/// @file
/// `Gradient`: a parameter's gradient as `Tape::backward` builds it, cleared without writing and,
/// at small batch, kept as low-rank factors instead of a dense matrix.

#include <array>
#include <cstddef>

#include <Eigen/Core>

#include "latent/core/scalar.hpp"
#include "latent/kernels/gemm.hpp"
#include "latent/kernels/lanes.hpp"

namespace latent::inline v0 {

template <class S>
class Tape;

/// The gradient of one `rows x cols` parameter: G = D + U V^T, with D a dense matrix and U V^T a
/// sum of at most `max_rank` outer products.
///
/// Why not a plain matrix: at batch B the gradient of a weight is a product G X^T of rank <= B.
/// At batch 1 writing it densely, zeroing it before each step and reading it back in the
/// optimizer moved 8 MB per step of the reference VAE, a third of its batch-1 step. Here
/// `zero()` only forgets (the first dense contribution assigns), a product with at most
/// `max_rank` inner columns is stored as its factors, and the optimizer forms the entries from
/// the factors as it goes (`for_each_column`, in registers).
/// `matrix()` gives the dense gradient whenever a reader wants it.
template <class S>
class Gradient {
 public:
  /// Products with at most this many inner columns (batch size) are kept as factors. The
  /// expansion costs `max_rank` multiply-adds per entry in the optimizer, so beyond a few it
  /// costs more than the dense write it saves.
  static constexpr Index max_rank = 4;

  Gradient() = default;
  /// The zero gradient of a `rows x cols` parameter.
  Gradient(Index rows, Index cols) : dense_(rows, cols) {}

  /// Rows of the parameter.
  [[nodiscard]] Index rows() const noexcept { return dense_.rows(); }
  /// Columns of the parameter.
  [[nodiscard]] Index cols() const noexcept { return dense_.cols(); }

  /// Makes the gradient zero without writing it.
  void zero() noexcept {
    dense_ready_ = false;
    rank_ = 0;
  }

  /// The gradient as a dense matrix: folds pending factors into it first. The reference stays
  /// valid and may be written (the written matrix is then the gradient) until the next `zero()`
  /// or backward pass.
  Matrix<S>& matrix() {
    if (rank_ > 0)
      detail::gemm(factor(u_), factor_transposed(v_), dense_.data(), dense_ready_);
    else if (!dense_ready_)
      dense_.setZero();
    dense_ready_ = true;
    rank_ = 0;
    return dense_;
  }

  /// Calls `f(k, column)` for k = 0 .. count - 1, where `column.template load<P>(i)` gives the
  /// packet (P = `detail::Packet<S>`, or S for one entry) at row i of gradient column first + k.
  /// How fused kernels (`Adam`) read the gradient with no dense copy: a factor column is formed
  /// in registers. `column` is of one of three types (a dense column; one outer product, the
  /// gradient at batch 1; the general sum), so `f` is compiled for each and tests nothing per
  /// entry.
  template <class F>
  void for_each_column(Index first, Index count, F&& f) const {
    for (Index k = 0; k < count; ++k) {
      const Index j = first + k;
      if (rank_ == 0 && dense_ready_) {
        f(k, DenseColumn{dense_.data() + j * rows()});
      } else if (rank_ == 1 && !dense_ready_) {
        f(k, OuterProductColumn{u_.data(), v_(j, 0)});
      } else {
        SumColumn sum{dense_ready_ ? dense_.data() + j * rows() : nullptr, u_.data(), rows(), rank_, {}};
        for (Index r = 0; r < rank_; ++r) sum.coefficient[std::size_t(r)] = v_(j, r);
        f(k, sum);
      }
    }
  }

 private:
  friend class Tape<S>;

  // Adds op(A) op(B) as factors if its inner size fits in the free rank; false (nothing done)
  // if it does not, and the tape then adds the product to the dense part.
  bool add_factors(const detail::GemmOperand<S>& a, const detail::GemmOperand<S>& b) {
    const Index k = a.op_cols();
    if (k > max_rank - rank_) return false;
    if (u_.size() == 0) {
      u_.resize(rows(), max_rank);
      v_.resize(cols(), max_rank);
    }
    u_.middleCols(rank_, k) = detail::operand_view(a);
    v_.middleCols(rank_, k) = detail::operand_view(b).transpose();
    rank_ += k;
    return true;
  }

  // The three forms of a gradient column for `for_each_column`; the general one adds the
  // products to the dense part (or to the first product) in the order `matrix()` would.
  struct DenseColumn {
    const S* dense;
    template <class P>
    P load(Index i) const {
      return detail::load<P>(dense + i);
    }
  };
  struct OuterProductColumn {
    const S* u;
    S coefficient;
    template <class P>
    P load(Index i) const {
      return detail::load<P>(u + i) * P(coefficient);
    }
  };
  struct SumColumn {
    const S* dense;  // null if the dense part is zero
    const S* u;
    Index rows, rank;
    std::array<S, max_rank> coefficient;
    template <class P>
    P load(Index i) const {
      Index r = 0;
      P g = dense != nullptr ? detail::load<P>(dense + i)
            : rank > 0       ? detail::load<P>(u + i) * P(coefficient[std::size_t(r++)])
                             : P(S(0));
      for (; r < rank; ++r) g = g + detail::load<P>(u + r * rows + i) * P(coefficient[std::size_t(r)]);
      return g;
    }
  };

  detail::GemmOperand<S> factor(const Matrix<S>& f) const { return {f.data(), f.rows(), rank_, false}; }
  detail::GemmOperand<S> factor_transposed(const Matrix<S>& f) const { return {f.data(), f.rows(), rank_, true}; }

  Matrix<S> dense_;  // D, meaningful only when dense_ready_
  Matrix<S> u_, v_;  // rows x max_rank and cols x max_rank; the first rank_ columns count
  Index rank_ = 0;
  bool dense_ready_ = false;  // false: D is zero, whatever dense_ holds
};

}  // namespace latent::inline v0
