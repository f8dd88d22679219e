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
///
/// Per-example streams: between `key_examples(stream, first, batch)` and `unkey_examples()`,
/// `fill_normal` and `fill_uniform` draw each column of a matrix from a stream of its own, keyed
/// by (this generator's position, `stream`, the column's example, its replicate, how many fills
/// came before in this keying), and do not advance the shared counter. A fill of `k batch`
/// columns holds k replicates of each example side by side (as `repeat_cols` lays them out):
/// column j is replicate `j mod k` of example `first + j / k`. A model
/// that draws its per-example noise as columns of a batch (the VAE's eps, a denoising
/// autoencoder's corruption) then gets noise that does not depend on how the batch is cut into
/// slices: `fit` keys each step this way when it trains across processes.
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

  /// Keys the fills that follow by example (see the class): `stream` names the draw (e.g. the
  /// training step), `first` is the index of column 0's example in the whole batch, `batch` the
  /// examples in this slice of it.
  void key_examples(std::uint64_t stream, Index first, Index batch) noexcept {
    keys_ = {derive(derive(state_.key, state_.counter), stream), first, batch > 0 ? batch : 1, 0, true};
  }
  /// Back to one shared stream for every draw.
  void unkey_examples() noexcept { keys_.on = false; }
  /// Whether fills are keyed by example.
  [[nodiscard]] bool keyed() const noexcept { return keys_.on; }

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
    if (keys_.on) {
      const std::uint64_t fill = keys_.fills++;
      for (Index j = 0; j < m.cols(); ++j) {
        auto col = m.derived().col(j);
        normals_into(col, column_key(fill, j, m.cols()), 0);
      }
      return;
    }
    const Index n = m.size();
    normals_into(m, state_.key, state_.counter);
    state_.counter += std::uint64_t(n + (n & 1));
  }

  /// Fills `m` with independent draws, uniform on [lo, hi).
  template <class Derived>
  void fill_uniform(Eigen::DenseBase<Derived>& m, double lo = 0.0, double hi = 1.0) noexcept {
    using S = typename Derived::Scalar;
    if (keys_.on) {
      const std::uint64_t fill = keys_.fills++;
      for (Index j = 0; j < m.cols(); ++j) {
        const std::uint64_t key = column_key(fill, j, m.cols());
        for (Index i = 0; i < m.rows(); ++i)
          m.derived().coeffRef(i, j) = static_cast<S>(lo + (hi - lo) * to_unit(word(key, std::uint64_t(i))));
      }
      return;
    }
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
  [[nodiscard]] std::uint64_t word(std::uint64_t n) const noexcept { return word(state_.key, n); }
  static std::uint64_t word(std::uint64_t key, std::uint64_t n) noexcept {
    return mix(key + (n + 1) * 0x9e3779b97f4a7c15ULL);
  }
  // A key of its own for `value` under `key` (as `split` derives a stream).
  static std::uint64_t derive(std::uint64_t key, std::uint64_t value) noexcept {
    return mix(key ^ mix(value + 0x3c6ef372fe94f82bULL));
  }
  // The stream of column j of a keyed fill of `cols` columns: its example, replicate and fill.
  // k = cols / batch replicates per example lie side by side (as `repeat_cols` lays them out).
  [[nodiscard]] std::uint64_t column_key(std::uint64_t fill, Index j, Index cols) const noexcept {
    const Index k = cols % keys_.batch == 0 && cols > 0 ? cols / keys_.batch : 1;
    const auto example = std::uint64_t(keys_.first + j / k), replicate = std::uint64_t(j % k);
    return derive(derive(derive(keys_.key, example), replicate), fill);
  }
  // Entries of `m` (in storage order) from words base, base + 1, ... of stream `key`.
  // Box-Muller yields two normals per pair of words: entries 2k and 2k+1 share words 2k, 2k+1.
  template <class Derived>
  static void normals_into(Eigen::DenseBase<Derived>& m, std::uint64_t key, std::uint64_t base) noexcept {
    using S = typename Derived::Scalar;
    const Index n = m.size();
    for (Index i = 0; i < n; i += 2) {
      const double r = std::sqrt(-2.0 * std::log(to_unit_open(word(key, base + std::uint64_t(i)))));
      const double t = 2.0 * std::numbers::pi * to_unit(word(key, base + std::uint64_t(i) + 1));
      m.derived().coeffRef(i) = static_cast<S>(r * std::cos(t));
      if (i + 1 < n) m.derived().coeffRef(i + 1) = static_cast<S>(r * std::sin(t));
    }
  }
  static double to_unit(std::uint64_t w) noexcept { return double(w >> 11) * 0x1.0p-53; }
  // (0, 1]: safe to take the log of.
  static double to_unit_open(std::uint64_t w) noexcept { return (double(w >> 11) + 1.0) * 0x1.0p-53; }

  // The per-example keying of `key_examples` (off by default; not part of `State`).
  struct ExampleKeys {
    std::uint64_t key = 0;    // from the position, the stream
    Index first = 0;          // example of column 0
    Index batch = 1;          // examples in the slice
    std::uint64_t fills = 0;  // keyed fills so far
    bool on = false;
  };

  State state_;
  ExampleKeys keys_{};
};

}  // namespace latent::inline v0
