#pragma once
/// @file
/// `detail::evict_from_caches`: drops memory from every core's caches before a thread overwrites
/// what other cores have read.
///
/// Why: on the AMD EPYC (Zen 5, 2 vCPUs) we measured, a store to a cache line that another core
/// has read since this core last wrote it costs about 11 ns, 18x a store to a line no other core
/// read (one invalidation at a time; a `prefetchw` ahead did not help, nor the other core having
/// since moved on to 16 MB of other data). Writing back and dropping the lines first
/// (`clflushopt`, many in flight) and then storing costs about 2.6 ns a line.
/// Adam meets this every step with 2 threads: both read all weights in the products, then each
/// overwrites its share (docs/performance.md, "Inside a step"). Where lines are not shared the
/// eviction costs (2.2 against 0.6 ns a line), and on other CPUs it is unmeasured: so it is
/// used only for shared memory and only on AMD CPUs.

#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) && defined(__CLFLUSHOPT__)
#include <immintrin.h>
#endif

namespace latent::inline v0::detail {

/// Whether to `evict_from_caches` before overwriting memory other threads have read: on AMD CPUs
/// when the build has CLFLUSHOPT (`-march` of a CPU with it), never elsewhere. Fixed per process,
/// and eviction never changes a value.
inline bool evict_before_shared_writes() noexcept {
#if defined(__x86_64__) && defined(__CLFLUSHOPT__) && defined(__GNUC__)
  static const bool amd = [] {
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
  }();
  return amd;
#else
  return false;
#endif
}

/// Writes back and drops the cache lines of [begin, begin + bytes) from every core's caches (a
/// no-op without CLFLUSHOPT). Values never change; the next access of a line reads memory.
inline void evict_from_caches([[maybe_unused]] const void* begin, [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(__x86_64__) && defined(__CLFLUSHOPT__)
  constexpr std::uintptr_t line = 64;
  const std::uintptr_t end = reinterpret_cast<std::uintptr_t>(begin) + bytes;
  for (std::uintptr_t a = reinterpret_cast<std::uintptr_t>(begin) & ~(line - 1); a < end; a += line)
    _mm_clflushopt(reinterpret_cast<void*>(a));
#endif
}

}  // namespace latent::inline v0::detail
