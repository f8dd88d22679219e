#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>

#include <latent/autodiff/arena.hpp>

using latent::Arena;

namespace {

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % Arena::alignment == 0; }

// Resident pages of this process, in bytes (Linux), or -1 where /proc is absent.
long long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long long size = 0, resident = -1;
  if (!(statm >> size >> resident)) return -1;
  return resident * 4096;
}

}  // namespace

TEST_CASE("Arena hands out aligned, disjoint memory from heap and mapped blocks alike", "[arena]") {
  Arena arena;
  // Small pieces (the first, 1 MB heap block), then ones larger than map_bytes (mapped blocks).
  unsigned char* small = arena.allocate_array<unsigned char>(100);
  unsigned char* large = arena.allocate_array<unsigned char>(3 * Arena::map_bytes);
  unsigned char* larger = arena.allocate_array<unsigned char>(5 * Arena::map_bytes);
  for (const void* p :
       {static_cast<const void*>(small), static_cast<const void*>(large), static_cast<const void*>(larger)})
    CHECK(aligned(p));
  std::memset(small, 1, 100);
  std::memset(large, 2, 3 * Arena::map_bytes);
  std::memset(larger, 3, 5 * Arena::map_bytes);
  CHECK(small[99] == 1);
  CHECK(large[0] == 2);
  CHECK(large[3 * Arena::map_bytes - 1] == 2);
  CHECK(larger[5 * Arena::map_bytes - 1] == 3);
  CHECK(arena.used() == 64 * 2 + 8 * Arena::map_bytes);  // 100 bytes round up to two cache lines

  // The pass took three blocks; rewinding coalesces them into one (mapped) block, so the same
  // pass again fits without growing.
  const std::size_t capacity = arena.capacity();
  arena.rewind();
  CHECK(arena.used() == 0);
  CHECK(arena.capacity() == capacity);
  void* again = arena.allocate(100);
  CHECK(aligned(again));
  arena.allocate(3 * Arena::map_bytes);
  arena.allocate(5 * Arena::map_bytes);
  CHECK(arena.capacity() == capacity);
}

TEST_CASE("A dropped Arena gives its large blocks back to the operating system", "[arena]") {
  if (resident_bytes() < 0) return;  // no /proc: nothing to read resident memory from
  // glibc raises its mmap threshold to the size of a freed large block, after which blocks of
  // up to that size come from its heap and often stay resident after they are freed: the
  // 10-epoch conv VAE run kept 230 MB that way. Free a 16 MB block first to put it there.
  {
    std::unique_ptr<char[]> raise(new char[std::size_t(16) << 20]);
    raise[0] = 1;
  }
  const long long before = resident_bytes(), mb = 1 << 20;
  {
    Arena arena;
    const std::size_t bytes = std::size_t(12) << 20;
    std::memset(arena.allocate(bytes), 1, bytes);  // every page resident
    CHECK(resident_bytes() - before > 10 * mb);
  }
  CHECK(resident_bytes() - before < 3 * mb);
}
