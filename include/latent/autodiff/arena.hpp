#pragma once
/// @file
/// `Arena`: the bump allocator behind a `Tape`. Rewinding keeps the memory, so a training step
/// that records the same graph as the step before allocates nothing.

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#define LATENT_ARENA_MAPS_PAGES 1
#endif

namespace latent::inline v0 {

/// A bump allocator handing out 64-byte aligned blocks (one cache line, one AVX-512 register).
/// `rewind()` forgets every allocation but keeps the memory; if the last pass needed more than
/// one block, it replaces them with one block of their total size, so the next identical pass
/// runs in a single block without touching the heap.
///
/// Blocks above `map_bytes` are mapped from the operating system (POSIX `mmap`) rather than
/// taken from the heap, so a dropped tape gives its memory back. glibc serves blocks under its
/// mmap threshold (which rises as large blocks are freed, up to 32 MB) from its heap and rarely
/// returns that heap: the 10-epoch conv VAE run, which makes and drops a ~100 MB evaluation tape
/// every epoch, peaked at 523 MB of resident memory for a 293 MB heap peak.
class Arena {
 public:
  /// Alignment of every pointer `allocate` returns, in bytes.
  static constexpr std::size_t alignment = 64;
  /// Blocks larger than this are mapped pages (where the platform has `mmap`); the first block
  /// (1 MB) stays on the heap, so the small tape of a batch-1 call maps nothing.
  static constexpr std::size_t map_bytes = std::size_t(1) << 20;

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() { release(); }

  /// `bytes` of uninitialised memory, 64-byte aligned, valid until the next `rewind()`.
  void* allocate(std::size_t bytes) {
    bytes = round_up(std::max<std::size_t>(bytes, 1));
    used_ += bytes;
    while (current_ < blocks_.size()) {
      Block& b = blocks_[current_];
      if (b.size - offset_ >= bytes) {
        void* p = b.data + offset_;
        offset_ += bytes;
        return p;
      }
      ++current_;
      offset_ = 0;
    }
    const std::size_t last = blocks_.empty() ? 0 : blocks_.back().size;
    add_block(std::max({bytes, 2 * last, std::size_t{1} << 20}));
    offset_ = bytes;
    return blocks_.back().data;
  }

  /// Typed form of `allocate`: room for `n` objects of trivial type `T`.
  template <class T>
  T* allocate_array(std::size_t n) {
    return static_cast<T*>(allocate(n * sizeof(T)));
  }

  /// Forgets all allocations and keeps the capacity (coalesced into one block).
  void rewind() {
    if (current_ > 0) {
      std::size_t total = 0;
      for (const Block& b : blocks_) total += b.size;
      release();
      add_block(total);
    }
    current_ = 0;
    offset_ = 0;
    used_ = 0;
  }

  /// Bytes handed out since the last `rewind()` (what one pass needs).
  [[nodiscard]] std::size_t used() const noexcept { return used_; }

  /// Bytes reserved from the heap.
  [[nodiscard]] std::size_t capacity() const noexcept {
    std::size_t total = 0;
    for (const Block& b : blocks_) total += b.size;
    return total;
  }

 private:
  struct Block {
    std::byte* data;
    std::size_t size;
    bool mapped;
  };
  static constexpr std::size_t round_up(std::size_t n) { return (n + alignment - 1) / alignment * alignment; }
  void add_block(std::size_t size) {
    blocks_.reserve(blocks_.size() + 1);  // so push_back cannot throw and leak the block
#ifdef LATENT_ARENA_MAPS_PAGES
    if (size > map_bytes) {
      void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      blocks_.push_back({static_cast<std::byte*>(p), size, true});  // page-aligned
      return;
    }
#endif
    blocks_.push_back({static_cast<std::byte*>(::operator new (size, std::align_val_t{alignment})), size, false});
  }
  void release() {
    for (const Block& b : blocks_) {
#ifdef LATENT_ARENA_MAPS_PAGES
      if (b.mapped) {
        ::munmap(b.data, b.size);
        continue;
      }
#endif
      ::operator delete (b.data, std::align_val_t{alignment});
    }
    blocks_.clear();
  }

  std::vector<Block> blocks_;
  std::size_t current_ = 0;  // block the next allocation tries first
  std::size_t offset_ = 0;   // bytes used in blocks_[current_]
  std::size_t used_ = 0;     // bytes handed out since the last rewind
};

}  // namespace latent::inline v0
