#pragma once
/// @file
/// `Pca`: principal component analysis, the linear baseline of the lecture's autoencoders. The
/// top-k eigenvectors of the data covariance span the subspace a linear autoencoder with D = k
/// and squared error learns.

#include <string>

#include <Eigen/Eigenvalues>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// PCA fitted on the columns of a `features x N` matrix:
/// `Sigma = 1/(N - 1) sum_n (x_n - m)(x_n - m)^T = U Lambda U^T`; the components are the k
/// eigenvectors of largest eigenvalue. encode: `z = U_k^T (x - m)`; decode: `x^ = U_k z + m`, the
/// orthogonal projection onto the k-dimensional affine subspace that keeps the most variance.
template <class S>
class Pca {
 public:
  /// Fits on x (features x N, N >= 2) with 1 <= k <= features; throws `Error` otherwise. The
  /// covariance is accumulated in double, 4096 columns at a time; the eigenvectors come from
  /// `Eigen::SelfAdjointEigenSolver`. Each component's sign makes its largest-magnitude entry
  /// positive, so fits are reproducible.
  Pca(const Matrix<S>& x, Index k) {
    const Index f = x.rows(), n = x.cols();
    if (n < 2) throw Error("Pca", std::string("needs at least 2 examples, got ") + std::to_string(n));
    if (k < 1 || k > f)
      throw Error("Pca", std::string("k must be in 1..") + std::to_string(f) + " (the number of features), got " +
                             std::to_string(k));
    const Vector<double> mean = x.template cast<double>().rowwise().mean();
    Matrix<double> cov = Matrix<double>::Zero(f, f);
    for (Index j = 0; j < n; j += 4096) {
      const Index m = std::min<Index>(4096, n - j);
      const Matrix<double> centred = x.middleCols(j, m).template cast<double>().colwise() - mean;
      cov.template selfadjointView<Eigen::Lower>().rankUpdate(centred);
    }
    cov /= double(n - 1);
    const Eigen::SelfAdjointEigenSolver<Matrix<double>> eig(cov.template selfadjointView<Eigen::Lower>());
    if (eig.info() != Eigen::Success) throw NumericError("Pca", "the eigen solver did not converge");
    // Eigenvalues come in increasing order: the top k are the last k, reversed.
    components_ = eig.eigenvectors().rightCols(k).rowwise().reverse().template cast<S>();
    for (Index c = 0; c < k; ++c) {
      Index top;
      components_.col(c).cwiseAbs().maxCoeff(&top);
      if (components_(top, c) < 0) components_.col(c) *= S(-1);
    }
    variances_ = eig.eigenvalues().tail(k).reverse();
    total_variance_ = eig.eigenvalues().sum();
    mean_ = mean.template cast<S>();
  }

  /// z = U_k^T (x - m): k x n.
  [[nodiscard]] Matrix<S> encode(const Matrix<S>& x) const {
    check("encode", x.rows(), features(), "x");
    return components_.transpose() * (x.colwise() - mean_);
  }
  /// x^ = U_k z + m: features x n.
  [[nodiscard]] Matrix<S> decode(const Matrix<S>& z) const {
    check("decode", z.rows(), k(), "z");
    return (components_ * z).colwise() + mean_;
  }
  /// decode(encode(x)): the projection of x onto the principal subspace.
  [[nodiscard]] Matrix<S> reconstruct(const Matrix<S>& x) const { return decode(encode(x)); }
  /// Squared reconstruction error per example, `(1/n) sum_n ||x_n - x^_n||^2` (summed over
  /// features, like the autoencoder's Gaussian loss). On the training data it equals
  /// (N - 1)/N times the sum of the discarded eigenvalues.
  [[nodiscard]] double reconstruction_error(const Matrix<S>& x) const {
    return (reconstruct(x) - x).template cast<double>().squaredNorm() / double(x.cols());
  }

  /// U_k, features x k, orthonormal columns by decreasing variance.
  [[nodiscard]] const Matrix<S>& components() const noexcept { return components_; }
  /// m, the mean of the training data.
  [[nodiscard]] const Vector<S>& mean() const noexcept { return mean_; }
  /// lambda_1 >= ... >= lambda_k, the variance along each component.
  [[nodiscard]] const Vector<double>& explained_variance() const noexcept { return variances_; }
  /// trace(Sigma), the total variance: explained_variance().sum() / total_variance() is the
  /// fraction kept.
  [[nodiscard]] double total_variance() const noexcept { return total_variance_; }
  /// Number of features.
  [[nodiscard]] Index features() const noexcept { return components_.rows(); }
  /// Number of components k.
  [[nodiscard]] Index k() const noexcept { return components_.cols(); }

 private:
  static void check(const char* where, Index rows, Index expected, const char* name) {
    if (rows != expected)
      throw ShapeError(std::string("Pca::") + where, std::string(name) + " has " + std::to_string(rows) + " rows but " +
                                                         std::to_string(expected) + " are expected");
  }

  Matrix<S> components_;
  Vector<S> mean_;
  Vector<double> variances_;
  double total_variance_ = 0;
};

}  // namespace latent::inline v0
