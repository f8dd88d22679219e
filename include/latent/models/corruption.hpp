#pragma once
/// @file
/// Corruption processes C(x~ | x) of the denoising autoencoder: the encoder reads x~, the loss
/// compares the reconstruction with the clean x.

#include <string>

#include "latent/core/error.hpp"
#include "latent/core/rng.hpp"
#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// The kind of stochastic noise that turns x into x~.
enum class Noise {
  none,             ///< x~ = x
  gaussian,         ///< x~ = x + sigma n, n ~ N(0, I) (additive isotropic Gaussian)
  masking,          ///< each entry set to 0 with probability p, kept otherwise
  salt_and_pepper,  ///< each entry, with probability p, set to 0 or 1 (each with probability 1/2)
};

/// "none", "gaussian", "masking" or "salt_and_pepper".
inline const char* to_string(Noise n) noexcept {
  switch (n) {
    case Noise::none:
      return "none";
    case Noise::gaussian:
      return "gaussian";
    case Noise::masking:
      return "masking";
    case Noise::salt_and_pepper:
      return "salt_and_pepper";
  }
  return "?";
}

/// Parses the name `to_string` gives; throws `Error` naming the unknown value otherwise.
inline Noise parse_noise(const std::string& name) {
  for (Noise n : {Noise::none, Noise::gaussian, Noise::masking, Noise::salt_and_pepper})
    if (name == to_string(n)) return n;
  throw Error("noise", "unknown noise '" + name + "' (expected none, gaussian, masking or salt_and_pepper)");
}

/// A corruption process: the kind of noise and its level (sigma for gaussian, in the units of
/// x; the per-entry probability p for masking and salt-and-pepper).
struct Corruption {
  Noise type = Noise::none;  ///< which noise
  double level = 0.0;        ///< sigma (gaussian) or p in [0, 1] (masking, salt_and_pepper)
};

/// Throws `NumericError` unless `c.level` suits `c.type` (sigma >= 0, p in [0, 1]).
inline void check_corruption(const Corruption& c) {
  const bool probability = c.type == Noise::masking || c.type == Noise::salt_and_pepper;
  if (!(c.level >= 0) || (probability && c.level > 1))
    throw NumericError("corruption", std::string(to_string(c.type)) + " noise needs " +
                                         (probability ? "p in [0, 1]" : "sigma >= 0") + ", got " +
                                         std::to_string(c.level));
}

/// Writes x~ ~ C(x~ | x) into `out`, shaped like x (a buffer of the caller's, such as a tape
/// node, so a training step does not allocate). Every entry draws from `rng`, so each call
/// gives fresh noise; keyed by example (`Rng::key_examples`), column j's noise is example j's. Throws like
/// `check_corruption`, and `ShapeError` for an `out` of another shape.
template <class S, class Out>
void corrupt_into(const Eigen::Ref<const Matrix<S>>& x, Eigen::MatrixBase<Out>& out, const Corruption& c, Rng& rng) {
  check_corruption(c);
  if (out.rows() != x.rows() || out.cols() != x.cols())
    throw ShapeError("corrupt_into", "out is " + detail::shape_str(out.rows(), out.cols()) + " but x is " +
                                         detail::shape_str(x.rows(), x.cols()));
  switch (c.type) {
    case Noise::none:
      out = x;
      break;
    case Noise::gaussian:
      rng.fill_normal(out);
      out = x + S(c.level) * out;
      break;
    case Noise::masking:
    case Noise::salt_and_pepper: {
      // One draw u per entry decides whether it is hit (u < p) and, for salt and pepper, pepper
      // (u < p/2) or salt. Keyed by example (`Rng::key_examples`), the draws come as one fill,
      // a column per example; otherwise one by one, in double.
      const bool keyed = rng.keyed();
      if (keyed) rng.fill_uniform(out);
      for (Index j = 0; j < x.cols(); ++j)
        for (Index i = 0; i < x.rows(); ++i) {
          const double u = keyed ? double(out(i, j)) : rng.uniform();
          const S hit = c.type == Noise::masking || u < 0.5 * c.level ? S(0) : S(1);
          out(i, j) = u < c.level ? hit : x(i, j);
        }
      break;
    }
  }
}

/// x~ ~ C(x~ | x), a new matrix shaped like x; see `corrupt_into`.
template <class S>
Matrix<S> corrupt(const Matrix<S>& x, const Corruption& c, Rng& rng) {
  Matrix<S> out(x.rows(), x.cols());
  corrupt_into<S>(x, out, c, rng);
  return out;
}

}  // namespace latent::inline v0
