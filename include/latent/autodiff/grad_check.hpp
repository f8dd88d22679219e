#pragma once
/// @file
/// `grad_check`: compares the tape's gradients with finite differences, in double.

#include <algorithm>
#include <cmath>
#include <functional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "latent/autodiff/ops/elementwise.hpp"
#include "latent/autodiff/ops/reduce.hpp"
#include "latent/autodiff/tape.hpp"
#include "latent/core/rng.hpp"

namespace latent::inline v0 {

/// Settings of `grad_check`.
struct GradCheckOptions {
  double step = 1e-3;      ///< h of the five-point stencil (truncation error O(h^4))
  double floor = 1e-5;     ///< eps in |a - n| / max(|a| + |n|, eps): gradients below it are compared
                           ///< absolutely (to 1e-11 at the 1e-6 bar), below the stencil's rounding noise
  std::uint64_t seed = 0;  ///< seed of the random projection of a non-scalar output
};

/// The outcome of `grad_check`: the worst entry over all inputs.
struct GradCheckResult {
  double max_rel_error = 0;  ///< |a - n| / max(|a| + |n|, eps) at the worst entry
  std::string op;            ///< the op that produced the checked output
  std::size_t input = 0;     ///< which input holds the worst entry
  /// Row and column of the worst entry in that input.
  ///@{
  Index row = 0, col = 0;
  ///@}
  double analytic = 0;  ///< the tape's derivative there
  double numeric = 0;   ///< the finite-difference derivative there

  /// "op: worst relative error E at input I (r, c): analytic A vs numeric N".
  [[nodiscard]] std::string message() const {
    std::ostringstream s;
    s.precision(10);
    s << op << ": worst relative error " << max_rel_error << " at input " << input << " (" << row << ", " << col
      << "): analytic " << analytic << " vs numeric " << numeric;
    return s.str();
  }
};

namespace detail {

// Compares `analytic[k]` with five-point central differences of `projected()` with respect to
// every entry of `*xs[k]`, which it perturbs in place and restores; the worst entry goes into
// `result`.
inline void compare_with_finite_differences(const std::vector<Matrix<double>*>& xs,
                                            const std::vector<Matrix<double>>& analytic,
                                            const std::function<double()>& projected, const GradCheckOptions& options,
                                            GradCheckResult& result) {
  const double h = options.step;
  const double offsets[4] = {2 * h, h, -h, -2 * h};
  for (std::size_t k = 0; k < xs.size(); ++k) {
    Matrix<double>& x = *xs[k];
    for (Index j = 0; j < x.cols(); ++j) {
      for (Index i = 0; i < x.rows(); ++i) {
        const double x0 = x(i, j);
        double fx[4];
        for (int o = 0; o < 4; ++o) {
          x(i, j) = x0 + offsets[o];
          fx[o] = projected();
        }
        x(i, j) = x0;
        const double numeric = (-fx[0] + 8 * fx[1] - 8 * fx[2] + fx[3]) / (12 * h);
        const double a = analytic[k](i, j);
        double err = std::abs(a - numeric) / std::max(std::abs(a) + std::abs(numeric), options.floor);
        if (!std::isfinite(err)) err = INFINITY;
        if (err > result.max_rel_error || (err == INFINITY && result.max_rel_error != INFINITY)) {
          result.max_rel_error = err;
          result.input = k;
          result.row = i;
          result.col = j;
          result.analytic = a;
          result.numeric = numeric;
        }
      }
    }
  }
}

// The fixed random weights R that turn an output Y into the scalar sum(Y .* R); ones for 1x1.
inline Matrix<double> projection(Index rows, Index cols, std::uint64_t seed) {
  Matrix<double> r(rows, cols);
  Rng(seed).fill_normal(r);
  if (rows == 1 && cols == 1) r.setOnes();
  return r;
}

}  // namespace detail

/// Checks the gradient of `f` with respect to every entry of every input.
///
/// `f(Tape<double>&, std::span<const Var<double>>) -> Var<double>` records a computation on the
/// given Vars (one per entry of `inputs`). Any output shape works: a non-scalar output Y is
/// projected to `sum(Y .* R)` with a fixed random R, which checks every output entry at once.
/// The numeric derivative is the five-point central difference
/// `(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h`. Keep inputs at least 2h away from kinks
/// (relu, abs at 0).
template <class F>
GradCheckResult grad_check(F&& f, const std::vector<Matrix<double>>& inputs, const GradCheckOptions& options = {}) {
  Tape<double> tape;
  std::vector<Var<double>> vars;
  const auto run = [&](const std::vector<Matrix<double>>& xs, bool as_variables) {
    tape.clear();
    vars.clear();
    for (const auto& x : xs) vars.push_back(as_variables ? tape.variable(x) : tape.constant(x));
    return f(tape, std::span<const Var<double>>(vars));
  };

  const Var<double> y = run(inputs, true);
  GradCheckResult result;
  result.op = tape.name(y);
  const Matrix<double> r = detail::projection(y.rows(), y.cols(), options.seed);
  tape.backward(sum(mul(y, tape.constant(r))));
  std::vector<Matrix<double>> analytic;
  for (const auto& v : vars) analytic.emplace_back(v.grad());

  std::vector<Matrix<double>> xs = inputs;
  std::vector<Matrix<double>*> pointers;
  for (auto& x : xs) pointers.push_back(&x);
  detail::compare_with_finite_differences(
      pointers, analytic, [&] { return run(xs, false).value().cwiseProduct(r).sum(); }, options, result);
  return result;
}

/// Checks the gradient of `f(Tape<double>&) -> Var<double>` with respect to named parameters
/// (`module.named_parameters()` of a double module: pairs of a name and a pointer to something
/// with `.value`, `.grad()` and `.zero_grad()`). The forward must be deterministic (fixed noise). The result names
/// the parameter holding the worst entry (in `op`) and its position in the list (`input`).
template <class F, class P>
GradCheckResult grad_check_parameters(F&& f, const std::vector<std::pair<std::string, P*>>& parameters,
                                      const GradCheckOptions& options = {}) {
  Tape<double> tape;
  for (auto& [name, p] : parameters) p->zero_grad();
  const Var<double> y = f(tape);
  const Matrix<double> r = detail::projection(y.rows(), y.cols(), options.seed);
  tape.backward(sum(mul(y, tape.constant(r))));
  std::vector<Matrix<double>> analytic;
  std::vector<Matrix<double>*> values;
  for (auto& [name, p] : parameters) {
    analytic.push_back(p->grad());
    values.push_back(&p->value);
  }
  GradCheckResult result;
  detail::compare_with_finite_differences(
      values, analytic,
      [&] {
        tape.clear();
        return f(tape).value().cwiseProduct(r).sum();
      },
      options, result);
  if (!parameters.empty()) result.op = parameters[result.input].first;
  return result;
}

}  // namespace latent::inline v0
