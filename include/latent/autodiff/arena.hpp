#pragma once
/// @file
/// `Arena`: the bump allocator behind a `Tape`. Rewinding keeps the memory, so a training step
/// that records the same graph as the step before allocates nothing.

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace latent::inline v0 {

/// A bump allocator handing out 64-byte aligned blocks (one cache line, one AVX-512 register).
/// `rewind()` forgets every allocation but keeps the memory; if the last pass needed more than
/// one block, it replaces them with one block of their total size, so the next identical pass
/// runs in a single block without touching the heap.
class Arena {
 public:
  /// Alignment of every pointer `allocate` returns, in bytes.
  static constexpr std::size_t alignment = 64;

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
  };
  static constexpr std::size_t round_up(std::size_t n) { return (n + alignment - 1) / alignment * alignment; }
  void add_block(std::size_t size) {
    blocks_.push_back({static_cast<std::byte*>(::operator new (size, std::align_val_t{alignment})), size});
  }
  void release() {
    for (const Block& b : blocks_) ::operator delete (b.data, std::align_val_t{alignment});
    blocks_.clear();
  }

  std::vector<Block> blocks_;
  std::size_t current_ = 0;  // block the next allocation tries first
  std::size_t offset_ = 0;   // bytes used in blocks_[current_]
  std::size_t used_ = 0;     // bytes handed out since the last rewind
};

}  // namespace latent::inline v0
