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

/// Calls `body.template operator()<P>(i)` for i = 0, w, 2w, ... with P = `Packet<S>` (w entries)
/// while a whole packet fits in [0, n), then with P = S (one entry) for the rest. Why: a kernel
/// with several outputs (an optimizer writes value and two moments from one read of each) cannot
/// be one Eigen expression; written as a template lambda over P with Eigen's `p*` functions,
/// which take scalars too, the body and its tail are one formula.
template <class S, class Body>
void for_each_packet(Index n, Body&& body) {
  constexpr Index width = Eigen::internal::packet_traits<S>::size;
  Index i = 0;
  if constexpr (width > 1)
    for (; i + width <= n; i += width) body.template operator()<Packet<S>>(i);
  for (; i < n; ++i) body.template operator()<S>(i);
}

/// sqrt(x), correctly rounded, for a scalar or a packet. Why not `Eigen::internal::psqrt`: under
/// Eigen's default EIGEN_FAST_MATH the float packets (and AVX-512 double) take an rsqrt estimate
/// and Newton steps, 1-2 bits off and about 8 instructions; the hardware square root is exact,
/// as PyTorch's, and next to a division it made Adam 25% faster on the AVX-512 cores we measured
/// (docs/performance.md). The overloads below take the packets where the two differ.
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

/// `exact_sqrt` as an Eigen functor, for `x.unaryExpr(ExactSqrt<S>{})` in expressions.
template <class S>
struct ExactSqrt {
  S operator()(S x) const { return exact_sqrt(x); }
  template <class P>
  P packetOp(const P& x) const { return exact_sqrt(x); }
};

}  // namespace latent::inline v0::detail

namespace Eigen::internal {
/// Tells Eigen that `ExactSqrt` has a packet form (and what it costs).
template <class S>
struct functor_traits<latent::detail::ExactSqrt<S>> {
  enum { Cost = functor_traits<scalar_sqrt_op<S>>::Cost, PacketAccess = packet_traits<S>::HasSqrt };
};
}  // namespace Eigen::internal
