#pragma once
/// @file
/// Fused elementwise kernels on Eigen's SIMD packets: a loop that runs one body on whole packets
/// and on the scalar tail, and a correctly rounded square root for both.

#include <cmath>
#include <type_traits>

#include <Eigen/Core>

#include "latent/core/scalar.hpp"

namespace latent::inline v0::detail {

/// Eigen's SIMD register type for S (16 floats with AVX-512), or S itself without SIMD.
template <class S>
using Packet = typename Eigen::internal::packet_traits<S>::type;

/// `body.template operator()<S>(i)`: one entry of a loop's tail, out of line. Why: inlined, the
/// tail loop of every kernel was vectorized again by the compiler (with its own tails), a fifth of
/// a training program's machine code and of its compile time; the tail is at most one packet's
/// worth of entries, so the call costs nothing measurable.
template <class S, class Body>
[[gnu::noinline]] void one_entry(Index i, Body& body) {
  body.template operator()<S>(i);
}

/// Calls `body.template operator()<P>(i)` for i = first, first + w, ... with P = `Packet<S>`
/// (w entries) while a whole packet fits in [first, last), then with P = S (one entry) for the
/// rest. Why: a kernel with several outputs (an optimizer writes value and two moments from one
/// read of each) cannot be one Eigen expression, and one that is costs the compiler far more (an
/// evaluator per node, per destination); written as a template lambda over P with Eigen's `p*`
/// functions, which take scalars too, the body and its tail are one formula.
template <class S, class Body>
void for_each_packet(Index first, Index last, Body&& body) {
  constexpr Index width = Eigen::internal::packet_traits<S>::size;
  if constexpr (width > 1) {
    Index i = first;
    for (; i + width <= last; i += width) body.template operator()<Packet<S>>(i);
    for (; i < last; ++i) one_entry<S>(i, body);
  } else {
    for (Index i = first; i < last; ++i) body.template operator()<S>(i);
  }
}
/// `for_each_packet` on [0, n).
template <class S, class Body>
void for_each_packet(Index n, Body&& body) {
  for_each_packet<S>(0, n, body);
}

/// sqrt(x), correctly rounded, for a scalar or a packet. Why not `Eigen::internal::psqrt`: under
/// Eigen's default EIGEN_FAST_MATH the float packets (and AVX-512 double) take an rsqrt estimate
/// and Newton steps, 1-2 bits off and about 8 instructions; the hardware square root is exact,
/// as PyTorch's, and next to a division it made Adam faster on the AVX-512 cores we measured
/// (figures in docs/performance.md). The overloads below take the packets where the two differ.
template <class P>
P exact_sqrt(const P& x) {
  if constexpr (std::is_arithmetic_v<P>)
    return std::sqrt(x);
  else
    return Eigen::internal::psqrt(x);  // the hardware instruction for the other packets
}
#if defined(EIGEN_VECTORIZE_AVX512)
inline Eigen::internal::Packet16f exact_sqrt(const Eigen::internal::Packet16f& x) { return _mm512_sqrt_ps(x); }
inline Eigen::internal::Packet8d exact_sqrt(const Eigen::internal::Packet8d& x) { return _mm512_sqrt_pd(x); }
#endif
#if defined(EIGEN_VECTORIZE_AVX)
inline Eigen::internal::Packet8f exact_sqrt(const Eigen::internal::Packet8f& x) { return _mm256_sqrt_ps(x); }
#endif
#if defined(EIGEN_VECTORIZE_SSE2)
inline Eigen::internal::Packet4f exact_sqrt(const Eigen::internal::Packet4f& x) { return _mm_sqrt_ps(x); }
#endif

/// The scalar type of a packet P (P itself for a scalar).
template <class P>
using scalar_of = typename Eigen::internal::unpacket_traits<P>::type;

/// `packet_fn(x)` if Eigen has a packet form of the function for P (`vectorized`), else
/// `scalar_fn` on each lane of x: tanh and log1p have no double packets in Eigen 3.4, whose own
/// expressions then go lane by lane too, so both give the same bits.
template <bool vectorized, class P, class PacketFn, class ScalarFn>
P packet_or_lanes(const P& x, PacketFn packet_fn, ScalarFn scalar_fn) {
  if constexpr (std::is_arithmetic_v<P>) {
    return scalar_fn(x);
  } else if constexpr (vectorized) {
    return packet_fn(x);
  } else {
    constexpr int n = Eigen::internal::unpacket_traits<P>::size;
    alignas(P) scalar_of<P> lanes[n];
    Eigen::internal::pstoreu(lanes, x);
    for (auto& lane : lanes) lane = scalar_fn(lane);
    return Eigen::internal::ploadu<P>(lanes);
  }
}

/// e^x of a packet or a scalar, as Eigen's `.exp()` computes it.
template <class P>
P packet_exp(const P& x) {
  return packet_or_lanes<Eigen::internal::packet_traits<scalar_of<P>>::HasExp>(
      x, [](const auto& v) { return Eigen::internal::pexp(v); }, [](auto v) { return std::exp(v); });
}
/// e^x - 1 of a packet or a scalar, as Eigen's `.expm1()` computes it.
template <class P>
P packet_expm1(const P& x) {
  return packet_or_lanes<Eigen::internal::packet_traits<scalar_of<P>>::HasExpm1>(
      x, [](const auto& v) { return Eigen::internal::pexpm1(v); }, [](auto v) { return std::expm1(v); });
}
/// log x of a packet or a scalar, as Eigen's `.log()` computes it.
template <class P>
P packet_log(const P& x) {
  return packet_or_lanes<Eigen::internal::packet_traits<scalar_of<P>>::HasLog>(
      x, [](const auto& v) { return Eigen::internal::plog(v); }, [](auto v) { return std::log(v); });
}
/// log(1 + x) of a packet or a scalar, as Eigen's `.log1p()` computes it.
template <class P>
P packet_log1p(const P& x) {
  return packet_or_lanes<Eigen::internal::packet_traits<scalar_of<P>>::HasLog1p>(
      x, [](const auto& v) { return Eigen::internal::plog1p(v); }, [](auto v) { return std::log1p(v); });
}
/// tanh x of a packet or a scalar, as Eigen's `.tanh()` computes it.
template <class P>
P packet_tanh(const P& x) {
  return packet_or_lanes<Eigen::internal::packet_traits<scalar_of<P>>::HasTanh>(
      x, [](const auto& v) { return Eigen::internal::ptanh(v); }, [](auto v) { return std::tanh(v); });
}

}  // namespace latent::inline v0::detail
