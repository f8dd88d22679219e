#pragma once
/// @file
/// Layer normalisation: each example (column) standardised over its features, then scaled and
/// shifted per feature.

#include <cmath>
#include <string>

#include "latent/autodiff/ops/checks.hpp"

namespace latent::inline v0 {

/// Layer normalisation (Ba et al. 2016; PyTorch's `layer_norm` over all features): for each
/// column x of `x` (F features), `y = gamma .* (x - mu) / sqrt(var + eps) + beta` with mu and var
/// the mean and the biased variance of the F entries. gamma and beta are `F x 1`. Throws
/// `ShapeError` naming the op and the shapes unless gamma and beta have x's rows and one column.
template <class S>
Var<S> layer_norm(Var<S> x, Var<S> gamma, Var<S> beta, double eps = 1e-5) {
  for (Var<S> p : {gamma, beta})
    if (p.rows() != x.rows() || p.cols() != 1)
      throw ShapeError("layer_norm", "x is " + detail::shape_of(x) + " but gamma is " + detail::shape_of(gamma) +
                                         " and beta " + detail::shape_of(beta) + " (both must be " +
                                         detail::shape_str(x.rows(), 1) + ")");
  if (!(eps > 0)) throw NumericError("layer_norm", "eps must be positive, got " + std::to_string(eps));
  Tape<S>& t = x.tape();
  const Index F = x.rows(), B = x.cols();
  // xhat = (x - mu) r with r = 1 / sqrt(var + eps), and r itself, saved for the backward pass.
  const Var<S> xhat = t.record("layer_norm_standardised", F, B);
  const Var<S> inv_sd = t.record("layer_norm_inverse_sd", 1, B);
  // With D = G .* gamma (per column):  dx += r (D - mean(D) - xhat mean(D .* xhat)),
  // dgamma += sum over columns of G .* xhat,  dbeta += sum over columns of G.
  const Var<S> y = t.record("layer_norm", F, B, {x, gamma, beta}, [x, gamma, beta, xhat, inv_sd](Tape<S>& t, Var<S> y) {
    const auto g = t.adjoint_of(y);
    const auto h = xhat.value();
    if (t.needs_grad(gamma)) t.adjoint(gamma) += (g.array() * h.array()).rowwise().sum().matrix();
    if (t.needs_grad(beta)) t.adjoint(beta) += g.rowwise().sum();
    if (!t.needs_grad(x)) return;
    auto dx = t.adjoint(x);
    const auto r = inv_sd.value();
    const auto gm = gamma.value();
    detail::for_each_column_block(g.rows() * 4, g.cols(), [&](Index first, Index count) {
      for (Index j = first; j < first + count; ++j) {
        const auto d = g.col(j).cwiseProduct(gm);
        const S mean_d = d.mean(), mean_dh = d.cwiseProduct(h.col(j)).mean();
        dx.col(j).array() += r(0, j) * (d.array() - mean_d - h.col(j).array() * mean_dh);
      }
    });
  });
  auto hv = t.value_of(xhat);
  auto rv = t.value_of(inv_sd);
  auto yv = t.value_of(y);
  const auto xv = x.value();
  const auto gm = gamma.value(), bt = beta.value();
  detail::for_each_column_block(F * 4, B, [&](Index first, Index count) {
    for (Index j = first; j < first + count; ++j) {
      const S mu = xv.col(j).mean();
      const S var = (xv.col(j).array() - mu).square().mean();
      const S r = S(1) / std::sqrt(var + S(eps));
      rv(0, j) = r;
      hv.col(j) = (xv.col(j).array() - mu) * r;
      yv.col(j) = hv.col(j).cwiseProduct(gm) + bt;
    }
  });
  t.finish(y);
  return y;
}

}  // namespace latent::inline v0
