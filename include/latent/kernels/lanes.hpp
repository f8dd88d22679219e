#pragma once
/// @file
/// `Lanes<R>`: one SIMD packet (or the single entry of a loop's tail) as a value with arithmetic
/// operators, so the formulas of the fused ops and optimizers read as maths,
/// `max(z, P(0)) - z * x + log1p(exp(-abs(z)))`, instead of nested `Eigen::internal` calls. Every
/// operator is exactly one of Eigen's packet functions, so a formula gives the same bits as the
/// nested calls it replaces.

#include <type_traits>

#include "latent/kernels/packet.hpp"

namespace latent::inline v0::detail {

/// The lanes of R, an Eigen packet type (16 floats with AVX-512) or a plain float or double for
/// one entry; `P(s)` broadcasts a scalar to every lane. Kernel formulas are template lambdas
/// over P (`[]<class P>(const P& a, const P& b) { return a * b; }`), instantiated once for the
/// packet and once for the tail. Comparisons give masks (all bits set where true) in lanes of
/// the same type, for `select` and `zero_where`.
template <class R>
struct Lanes {
  using Scalar = scalar_of<R>;
  R raw;

  Lanes() = default;
  Lanes(R r) : raw(r) {}  // NOLINT(google-explicit-constructor): a packet is its lanes
  /// Broadcasts `s` to every lane.
  explicit Lanes(Scalar s) requires(!std::is_same_v<R, Scalar>) : raw(Eigen::internal::pset1<R>(s)) {}

  friend Lanes operator+(const Lanes& a, const Lanes& b) { return Eigen::internal::padd(a.raw, b.raw); }
  friend Lanes operator-(const Lanes& a, const Lanes& b) { return Eigen::internal::psub(a.raw, b.raw); }
  friend Lanes operator*(const Lanes& a, const Lanes& b) { return Eigen::internal::pmul(a.raw, b.raw); }
  friend Lanes operator/(const Lanes& a, const Lanes& b) { return Eigen::internal::pdiv(a.raw, b.raw); }
  friend Lanes operator-(const Lanes& a) { return Eigen::internal::pnegate(a.raw); }
  /// Mask of a < b.
  friend Lanes operator<(const Lanes& a, const Lanes& b) { return Eigen::internal::pcmp_lt(a.raw, b.raw); }
  /// Mask of a > b.
  friend Lanes operator>(const Lanes& a, const Lanes& b) { return b < a; }
  /// Bitwise and: with a mask, keeps a value where the mask is set and gives 0 elsewhere.
  friend Lanes operator&(const Lanes& a, const Lanes& b) { return Eigen::internal::pand(a.raw, b.raw); }

  friend Lanes max(const Lanes& a, const Lanes& b) { return Eigen::internal::pmax(a.raw, b.raw); }
  friend Lanes min(const Lanes& a, const Lanes& b) { return Eigen::internal::pmin(a.raw, b.raw); }
  friend Lanes abs(const Lanes& a) { return Eigen::internal::pabs(a.raw); }
  /// e^a, as Eigen's `.exp()` computes it.
  friend Lanes exp(const Lanes& a) { return packet_exp(a.raw); }
  /// e^a - 1, as Eigen's `.expm1()`.
  friend Lanes expm1(const Lanes& a) { return packet_expm1(a.raw); }
  /// log a, as Eigen's `.log()`.
  friend Lanes log(const Lanes& a) { return packet_log(a.raw); }
  /// log(1 + a), as Eigen's `.log1p()`.
  friend Lanes log1p(const Lanes& a) { return packet_log1p(a.raw); }
  /// tanh a, as Eigen's `.tanh()`.
  friend Lanes tanh(const Lanes& a) { return packet_tanh(a.raw); }
  /// sqrt a, correctly rounded (`exact_sqrt`).
  friend Lanes sqrt(const Lanes& a) { return exact_sqrt(a.raw); }
  /// a where `mask` is set, else b.
  friend Lanes select(const Lanes& mask, const Lanes& a, const Lanes& b) {
    return Eigen::internal::pselect(mask.raw, a.raw, b.raw);
  }
  /// 0 where `mask` is set, else a.
  friend Lanes zero_where(const Lanes& mask, const Lanes& a) { return Eigen::internal::pandnot(a.raw, mask.raw); }
};

/// The lanes of the packet (or the one entry) of P's width at `p`, unaligned.
template <class P>
P load(const typename P::Scalar* p) {
  return Eigen::internal::ploadu<decltype(P::raw)>(p);
}

/// Writes the lanes of `v` to `p`, unaligned.
template <class R>
void store(scalar_of<R>* p, const Lanes<R>& v) {
  Eigen::internal::pstoreu(p, v.raw);
}

/// `for_each_packet` whose body takes lanes: `body.template operator()<P>(i)` with P =
/// `Lanes<Packet<S>>` over whole packets, then `Lanes<S>` for the tail.
template <class S, class Body>
void for_each_lanes(Index first, Index last, Body&& body) {
  for_each_packet<S>(first, last, [&]<class R>(Index i) { body.template operator()<Lanes<R>>(i); });
}
/// `for_each_lanes` on [0, n).
template <class S, class Body>
void for_each_lanes(Index n, Body&& body) {
  for_each_lanes<S>(0, n, body);
}

}  // namespace latent::inline v0::detail
