#include <latent/models/autoencoder.hpp>
#include <latent/models/pca.hpp>
#include <latent/optim/adam.hpp>

#include <catch2/catch.hpp>

#include <Eigen/QR>
#include <Eigen/SVD>

#include <numbers>

using namespace latent;
using Md = Eigen::MatrixXd;
using Catch::Matchers::Contains;

namespace {

// Sample covariance 1/(N-1) sum (x - m)(x - m)^T.
Md covariance(const Md& x) {
  const Md centred = x.colwise() - x.rowwise().mean();
  return centred * centred.transpose() / double(x.cols() - 1);
}

// The largest principal angle between the column spaces of a and b (radians): with orthonormal
// bases Q_a, Q_b from QR, the singular values of Q_a^T Q_b are the cosines of the angles.
double largest_principal_angle(const Md& a, const Md& b) {
  const Md qa = Eigen::HouseholderQR<Md>(a).householderQ() * Md::Identity(a.rows(), a.cols());
  const Md qb = Eigen::HouseholderQR<Md>(b).householderQ() * Md::Identity(b.rows(), b.cols());
  const Eigen::JacobiSVD<Md> svd(qa.transpose() * qb);
  return std::acos(std::clamp(svd.singularValues().minCoeff(), -1.0, 1.0));
}

// N points x = A diag(s) n + m, n ~ N(0, I), with A a random rotation: covariance A diag(s^2) A^T.
Md correlated_gaussian(const Eigen::VectorXd& s, Index n, Rng& rng) {
  const Index f = s.size();
  Md g(f, f), noise(f, n), m(f, 1);
  rng.fill_normal(g);
  rng.fill_normal(noise);
  rng.fill_normal(m);
  const Md rotation = Eigen::HouseholderQR<Md>(g).householderQ();
  return (rotation * s.asDiagonal() * noise).colwise() + m.col(0);
}

}  // namespace

TEST_CASE("PCA in two dimensions matches the closed-form eigen decomposition", "[models][pca]") {
  Rng rng(1);
  Md x(2, 500);
  rng.fill_normal(x);
  x.row(1) = 0.6 * x.row(0) + 0.5 * x.row(1);  // correlated
  x.row(0).array() += 3;
  const Md c = covariance(x);
  // Eigenvalues of [[a, b], [b, d]]: (a + d)/2 +- sqrt(((a - d)/2)^2 + b^2); the top eigenvector
  // is at angle theta = atan2(2b, a - d) / 2.
  const double a = c(0, 0), b = c(0, 1), d = c(1, 1);
  const double mid = (a + d) / 2, radius = std::hypot((a - d) / 2, b);
  const double theta = std::atan2(2 * b, a - d) / 2;

  const Pca<double> pca(x, 2);
  CHECK(pca.explained_variance()(0) == Approx(mid + radius).epsilon(1e-12));
  CHECK(pca.explained_variance()(1) == Approx(mid - radius).epsilon(1e-12));
  CHECK(pca.total_variance() == Approx(a + d).epsilon(1e-12));
  CHECK(std::abs(pca.components()(0, 0) * std::cos(theta) + pca.components()(1, 0) * std::sin(theta)) ==
        Approx(1).epsilon(1e-12));
  CHECK((pca.components().transpose() * pca.components()).isIdentity(1e-12));
  CHECK(pca.mean().isApprox(x.rowwise().mean()));
  // k = F keeps everything; k = 1 loses exactly the smaller eigenvalue (times (N - 1)/N).
  CHECK(pca.reconstruct(x).isApprox(x, 1e-12));
  const Pca<double> one(x, 1);
  CHECK(one.reconstruction_error(x) == Approx((mid - radius) * 499.0 / 500.0).epsilon(1e-10));
  CHECK(one.encode(x).rows() == 1);
}

TEST_CASE("PCA misuse is refused", "[models][pca]") {
  const Md x = Md::Random(3, 10);
  CHECK_THROWS_WITH(Pca<double>(x, 4), Contains("k must be in 1..3"));
  CHECK_THROWS_WITH(Pca<double>(Md(x.leftCols(1)), 1), Contains("at least 2 examples"));
  const Pca<double> pca(x, 2);
  CHECK_THROWS_AS(pca.encode(Md::Zero(4, 1)), ShapeError);
  CHECK_THROWS_WITH(pca.decode(Md::Zero(3, 1)), Contains("z has 3 rows but 2 are expected"));
}

TEST_CASE("a linear autoencoder trained with squared error spans the principal subspace",
          "[models][pca][autoencoder]") {
  // Baldi & Hornik (1989): the optimum of a linear AE with D = k is a basis of the top-k
  // principal subspace (not necessarily the eigenvectors themselves).
  Rng rng(3);
  const Eigen::VectorXd s = (Eigen::VectorXd(8) << 3, 2.5, 2, 0.6, 0.5, 0.4, 0.3, 0.2).finished();
  const Md x = correlated_gaussian(s, 2000, rng);
  const Index k = 3;

  const Eigen::SelfAdjointEigenSolver<Md> eig(covariance(x));
  const Md principal = eig.eigenvectors().rightCols(k);
  const Pca<double> pca(x, k);
  CHECK(largest_principal_angle(pca.components(), principal) < 1e-6);  // acos resolves ~1e-8 near 0

  auto ae = Autoencoder<double>::mlp(
      {.input = 8, .hidden = {}, .latent = k, .activation = Activation::identity, .likelihood = Likelihood::gaussian},
      rng);
  Adam<double> opt(ae.parameters(), {.lr = 1e-2});
  Tape<double> tape;
  for (int step = 0; step < 3000; ++step) {
    if (step == 2000) opt.set_lr(1e-3);
    tape.clear();
    opt.zero_grad();
    tape.backward(ae.loss(tape, tape.constant(x), rng).total);
    opt.step();
  }
  const double angle =
      largest_principal_angle(dynamic_cast<Mlp<double>&>(ae.decoder()).layer(0).weight().value, principal);
  INFO("largest principal angle " << angle << " rad; AE error " << (ae.reconstruct(x) - x).squaredNorm() / 2000
                                  << " vs PCA " << pca.reconstruction_error(x));
  CHECK(angle < 0.01);
  CHECK((ae.reconstruct(x) - x).squaredNorm() / 2000 == Approx(pca.reconstruction_error(x)).epsilon(1e-3));
}
