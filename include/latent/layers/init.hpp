#pragma once
/// @file
/// Initialisation rules for weight matrices, each drawing from an explicit `Rng&`.

#include <cmath>

#include "latent/core/rng.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// How to fill a fresh `fan_out x fan_in` weight matrix (or an `fan_out x 1` bias).
struct Init {
  /// The rule.
  enum class Kind {
    zeros,           ///< all zero
    normal,          ///< N(0, std^2)
    uniform_fan_in,  ///< U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's nn.Linear default
    glorot_uniform,  ///< U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)
    glorot_normal,   ///< N(0, 2 / (fan_in + fan_out))
    he_uniform,      ///< U(-a, a), a = sqrt(6 / fan_in) (He et al. 2015), for ReLU
    he_normal,       ///< N(0, 2 / fan_in)
    lecun_normal,    ///< N(0, 1 / fan_in) (LeCun et al. 1998)
  };
  Kind kind = Kind::uniform_fan_in;  ///< which rule
  double std = 0.01;                 ///< standard deviation for `Kind::normal`

  static constexpr Init zeros() { return {Kind::zeros}; }                    ///< all zero
  static constexpr Init normal(double s) { return {Kind::normal, s}; }       ///< N(0, s^2)
  static constexpr Init uniform_fan_in() { return {Kind::uniform_fan_in}; }  ///< PyTorch default
  static constexpr Init glorot_uniform() { return {Kind::glorot_uniform}; }  ///< Glorot uniform
  static constexpr Init glorot_normal() { return {Kind::glorot_normal}; }    ///< Glorot normal
  static constexpr Init he_uniform() { return {Kind::he_uniform}; }          ///< He uniform
  static constexpr Init he_normal() { return {Kind::he_normal}; }            ///< He normal
  static constexpr Init lecun_normal() { return {Kind::lecun_normal}; }      ///< LeCun normal

  /// Fills `m` by this rule for a layer with the given fans.
  template <class S>
  void apply(Matrix<S>& m, Index fan_in, Index fan_out, Rng& rng) const {
    const double in = double(fan_in), out = double(fan_out);
    const auto uniform = [&](double a) { rng.fill_uniform(m, -a, a); };
    const auto gaussian = [&](double s) {
      rng.fill_normal(m);
      m *= S(s);
    };
    switch (kind) {
      case Kind::zeros:
        m.setZero();
        break;
      case Kind::normal:
        gaussian(std);
        break;
      case Kind::uniform_fan_in:
        uniform(1.0 / std::sqrt(in));
        break;
      case Kind::glorot_uniform:
        uniform(std::sqrt(6.0 / (in + out)));
        break;
      case Kind::glorot_normal:
        gaussian(std::sqrt(2.0 / (in + out)));
        break;
      case Kind::he_uniform:
        uniform(std::sqrt(6.0 / in));
        break;
      case Kind::he_normal:
        gaussian(std::sqrt(2.0 / in));
        break;
      case Kind::lecun_normal:
        gaussian(std::sqrt(1.0 / in));
        break;
    }
  }
};

}  // namespace latent::inline v0
