#pragma once
/// @file
/// `Rng`: the one source of randomness in latent. Counter-based (SplitMix64 over a counter), so
/// the n-th number depends only on the seed and n, never on threads or call interleaving.

#include <cmath>
#include <cstdint>
#include <numbers>

#include <Eigen/Core>

#include "latent/core/scalar.hpp"

namespace latent::inline v0 {

/// A seeded, counter-based random number generator: same seed, same numbers on every machine
/// and thread count. Cheap to copy; `split(k)` gives independent streams for workers.
class Rng {
 public:
  /// Where a generator is in its stream; saved in checkpoints to resume bit-identically.
  struct State {
    std::uint64_t key;      ///< derived from the seed; fixes the stream
    std::uint64_t counter;  ///< how many 64-bit words were drawn so far
    /// Equal keys and counters: the two generators will draw the same numbers.
    friend bool operator==(const State&, const State&) = default;
  };

  /// A generator whose stream is fixed by `seed`.
  explicit Rng(std::uint64_t seed = 0) noexcept : state_{mix(seed ^ 0x6a09e667f3bcc908ULL), 0} {}

  /// A generator resumed from a saved `state()`.
  static Rng from_state(State s) noexcept {
    Rng r;
    r.state_ = s;
    return r;
  }

  /// The current position in the stream.
  [[nodiscard]] State state() const noexcept { return state_; }

  /// A generator with a stream of its own, derived from this one's key and `stream`; this one
  /// does not advance.
  [[nodiscard]] Rng split(std::uint64_t stream) const noexcept {
    return from_state({mix(state_.key ^ mix(stream + 0x3c6ef372fe94f82bULL)), 0});
  }

  /// The next uniformly distributed 64-bit word.
  std::uint64_t next_u64() noexcept { return word(state_.counter++); }

  /// Uniform on [0, 1) with 53 random bits.
  double uniform() noexcept { return to_unit(next_u64()); }

  /// Uniform on [lo, hi).
  double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [0, n) (Lemire's multiply-shift; bias below 2^-64 * n).
  std::uint64_t below(std::uint64_t n) noexcept {
    __extension__ using U128 = unsigned __int128;  // GCC/Clang; __extension__ keeps -Wpedantic quiet
    return static_cast<std::uint64_t>((static_cast<U128>(next_u64()) * n) >> 64);
  }

  /// A standard normal draw (Box-Muller from two words).
  double normal() noexcept {
    const double a = to_unit_open(next_u64());
    const double b = to_unit(next_u64());
    return std::sqrt(-2.0 * std::log(a)) * std::cos(2.0 * std::numbers::pi * b);
  }

  /// Fills `m` with independent N(0, 1) draws; entry i depends only on the state and i.
  template <class Derived>
  void fill_normal(Eigen::DenseBase<Derived>& m) noexcept {
    using S = typename Derived::Scalar;
    const Index n = m.size();
    const std::uint64_t base = state_.counter;
    // Box-Muller yields two normals per pair of words: entries 2k and 2k+1 share words 2k, 2k+1.
    for (Index i = 0; i < n; i += 2) {
      const double r = std::sqrt(-2.0 * std::log(to_unit_open(word(base + std::uint64_t(i)))));
      const double t = 2.0 * std::numbers::pi * to_unit(word(base + std::uint64_t(i) + 1));
      m.derived().coeffRef(i) = static_cast<S>(r * std::cos(t));
      if (i + 1 < n) m.derived().coeffRef(i + 1) = static_cast<S>(r * std::sin(t));
    }
    state_.counter += std::uint64_t(n + (n & 1));
  }

  /// Fills `m` with independent draws, uniform on [lo, hi).
  template <class Derived>
  void fill_uniform(Eigen::DenseBase<Derived>& m, double lo = 0.0, double hi = 1.0) noexcept {
    using S = typename Derived::Scalar;
    for (Index i = 0; i < m.size(); ++i) m.derived().coeffRef(i) = static_cast<S>(uniform(lo, hi));
  }

  /// Rvalue overloads, so `rng.fill_normal(m.col(0))` works on temporaries of block type.
  template <class Derived>
  void fill_normal(Eigen::DenseBase<Derived>&& m) noexcept {
    fill_normal(m);
  }
  /// Rvalue overload of `fill_uniform`, for temporaries of block type such as `m.col(0)`.
  template <class Derived>
  void fill_uniform(Eigen::DenseBase<Derived>&& m, double lo = 0.0, double hi = 1.0) noexcept {
    fill_uniform(m, lo, hi);
  }

 private:
  // SplitMix64's output function (Steele, Lea, Flood 2014): a bijective avalanche mix.
  static constexpr std::uint64_t mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  [[nodiscard]] std::uint64_t word(std::uint64_t n) const noexcept {
    return mix(state_.key + (n + 1) * 0x9e3779b97f4a7c15ULL);
  }
  static double to_unit(std::uint64_t w) noexcept { return double(w >> 11) * 0x1.0p-53; }
  // (0, 1]: safe to take the log of.
  static double to_unit_open(std::uint64_t w) noexcept { return (double(w >> 11) + 1.0) * 0x1.0p-53; }

  State state_;
};

}  // namespace latent::inline v0
