#pragma once
/// @file
/// `Batcher`: mini-batches of a dataset in a fresh random order each epoch, converted to the
/// training scalar type, copied into buffers that are allocated once.

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/core/rng.hpp"
#include "latent/core/scalar.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/shuffle.hpp"

namespace latent::inline v0 {

/// What to do with the last batch of an epoch when `batch_size` does not divide N.
enum class LastBatch {
  keep,  ///< yield it, with fewer columns
  drop,  ///< skip it (every batch has exactly `batch_size` columns)
};

/// How a `Batcher` cuts an epoch.
struct BatcherOptions {
  Index batch_size = 128;            ///< examples per batch
  LastBatch last = LastBatch::keep;  ///< policy for the last, partial batch
  int part = 0;   ///< which slice of every batch this batcher yields (data-parallel training), 0 .. parts-1
  int parts = 1;  ///< slices per batch: a batch of b examples yields columns [b part / parts, b (part + 1) / parts)
  Index skip = 0;  ///< examples at the start of every epoch's order not yielded (evaluation that took them apart)
};

/// Yields the examples of a `Dataset<T>` as `features x B` matrices of `S`, each example once
/// per epoch. uint8 pixels are scaled to [0, 1] (x / 255) while copying; other types are cast.
/// The dataset is referenced, not copied: it must outlive the batcher. Two buffers (a full batch
/// and, when N % B != 0 under `keep`, the tail batch) are allocated in the constructor, so no
/// batch allocates. With `parts` > 1 every process shuffles alike and yields only its `part` of
/// each batch (possibly empty for a short tail); `batch_cols()` is the whole batch's size.
///
///     Batcher<float> batches(train, {.batch_size = 128});
///     batches.start_epoch(rng);                  // Fisher-Yates shuffle
///     while (batches.next()) use(batches.features(), batches.labels());
template <Scalar S>
class Batcher {
 public:
  /// Batches of `data`. Throws `ShapeError` if `batch_size` < 1, `data` is empty (no examples
  /// or no features), or has a label count different from its example count.
  template <DatasetElement T>
  Batcher(const Dataset<T>& data, BatcherOptions opts)
      : source_(&data), gather_(&gather<T>), n_(data.size()), opts_(opts), order_(std::size_t(n_)) {
    if (opts.batch_size < 1)
      throw ShapeError("Batcher", "batch_size must be at least 1, got " + std::to_string(opts.batch_size));
    if (opts.parts < 1 || opts.part < 0 || opts.part >= opts.parts)
      throw ShapeError("Batcher", "part " + std::to_string(opts.part) + " of " + std::to_string(opts.parts) +
                                      " parts: need 0 <= part < parts");
    if (data.size() == 0 || data.dim() == 0)
      throw ShapeError("Batcher", "the dataset is " + detail::shape_str(data.dim(), data.size()) +
                                      ": no examples to train on (is the file empty?)");
    data.check("Batcher");
    if (opts.skip < 0 || opts.skip >= n_)
      throw ShapeError("Batcher", "skip must be in [0, " + std::to_string(n_) + "), got " + std::to_string(opts.skip));
    const Index m = n_ - opts.skip;  // examples yielded per epoch
    const Index full_batch = std::min(opts.batch_size, m);
    const Index tail = opts.last == LastBatch::keep ? m % opts.batch_size : 0;
    const Index full_part = part_of(full_batch).second, tail_part = part_of(tail).second;
    full_.resize(data.dim(), full_part, data.has_labels());
    if (tail != 0 && tail_part != full_part) tail_.resize(data.dim(), tail_part, data.has_labels());
    std::iota(order_.begin(), order_.end(), Index{0});
    rewind();
  }
  /// A batcher would dangle on a temporary dataset.
  template <DatasetElement T>
  Batcher(const Dataset<T>&&, BatcherOptions) = delete;

  /// Starts an epoch in a new random order (`random_permutation`, so the order depends only
  /// on the state of `rng`).
  void start_epoch(Rng& rng) {
    random_permutation(order_, rng);
    rewind();
  }

  /// Starts an epoch in the dataset's own order (for evaluation).
  void start_epoch_in_order() {
    std::iota(order_.begin(), order_.end(), Index{0});
    rewind();
  }

  /// Continues an epoch that was cut off (a resumed training run): the epoch's order, as
  /// `order()` gave it, and the number of batches already taken from it. Throws `ShapeError`
  /// unless `order` is a permutation of 0 .. N-1 and `batches_done` is within the epoch.
  void resume_epoch(std::span<const Index> order, Index batches_done) {
    if (Index(order.size()) != n_)
      throw ShapeError("Batcher::resume_epoch", "the order has " + std::to_string(order.size()) + " entries for " +
                                                    std::to_string(n_) + " examples");
    if (batches_done < 0 || batches_done > batches_per_epoch())
      throw ShapeError("Batcher::resume_epoch", std::to_string(batches_done) + " batches done of an epoch of " +
                                                    std::to_string(batches_per_epoch()));
    std::vector<bool> seen(order.size(), false);
    for (const Index i : order) {
      if (i < 0 || i >= n_ || seen[std::size_t(i)])
        throw ShapeError("Batcher::resume_epoch", "the order is not a permutation of 0.." + std::to_string(n_ - 1));
      seen[std::size_t(i)] = true;
    }
    std::copy(order.begin(), order.end(), order_.begin());
    pos_ = std::min(n_, opts_.skip + batches_done * opts_.batch_size);
    batch_ = batches_done;
    batch_cols_ = 0;
  }

  /// The order of the current epoch: dataset columns in the sequence the batches take them.
  [[nodiscard]] std::span<const Index> order() const noexcept { return order_; }

  /// Fills the next batch; returns false (and leaves the buffers alone) when the epoch is over.
  bool next() {
    const Index left = n_ - pos_;
    const Index b = std::min(opts_.batch_size, left);
    if (b == 0 || (b < opts_.batch_size && opts_.last == LastBatch::drop)) return false;
    const auto [first, count] = part_of(b);
    on_tail_ = count != full_.x.cols();
    indices_ = std::span<const Index>(order_).subspan(std::size_t(pos_ + first), std::size_t(count));
    gather_(source_, indices_, current());
    batch_cols_ = b;
    part_offset_ = first;
    pos_ += b;
    ++batch_;
    return true;
  }

  /// The current batch, `features x B`. Yours to modify in place (e.g. `binarize`) until `next()`.
  [[nodiscard]] Matrix<S>& features() noexcept { return current().x; }
  /// The current batch, `features x B`.
  [[nodiscard]] const Matrix<S>& features() const noexcept { return current().x; }
  /// The labels of the current batch (empty when the dataset has none).
  [[nodiscard]] const std::vector<int>& labels() const noexcept { return current().y; }
  /// Which dataset columns the current batch holds, in batch order.
  [[nodiscard]] std::span<const Index> indices() const noexcept { return indices_; }
  /// Examples in the whole current batch (all parts; `features().cols()` with one part).
  [[nodiscard]] Index batch_cols() const noexcept { return batch_cols_; }
  /// Where this part's first column sits in the whole current batch (0 with one part).
  [[nodiscard]] Index part_offset() const noexcept { return part_offset_; }
  /// Where the current batch starts in the epoch's order (its examples are `order()[start ...]`).
  [[nodiscard]] Index batch_start() const noexcept { return pos_ - batch_cols_; }
  /// 1-based number of the current batch within the epoch (0 before the first `next()`).
  [[nodiscard]] Index batch_index() const noexcept { return batch_; }
  /// Batches per epoch under the last-batch policy.
  [[nodiscard]] Index batches_per_epoch() const noexcept {
    const Index m = n_ - opts_.skip;
    return opts_.last == LastBatch::keep ? (m + opts_.batch_size - 1) / opts_.batch_size : m / opts_.batch_size;
  }
  /// Examples in the dataset.
  [[nodiscard]] Index size() const noexcept { return n_; }

 private:
  struct Buffer {
    Matrix<S> x;
    std::vector<int> y;
    void resize(Index dim, Index cols, bool labelled) {
      x.resize(dim, cols);
      y.resize(labelled ? std::size_t(cols) : 0);
    }
  };

  // Copies the chosen columns of a Dataset<T>; `source` is that dataset (type erased so that
  // `Batcher<float>` serves uint8, float and double data alike).
  template <DatasetElement T>
  static void gather(const void* source, std::span<const Index> idx, Buffer& out) {
    const auto& d = *static_cast<const Dataset<T>*>(source);
    for (std::size_t j = 0; j < idx.size(); ++j) {
      if constexpr (std::is_same_v<T, std::uint8_t>)
        out.x.col(Index(j)) = d.features.col(idx[j]).template cast<S>() / S(255);
      else
        out.x.col(Index(j)) = d.features.col(idx[j]).template cast<S>();
      if (!out.y.empty()) out.y[j] = d.labels[std::size_t(idx[j])];
    }
  }

  Buffer& current() noexcept { return on_tail_ ? tail_ : full_; }
  const Buffer& current() const noexcept { return on_tail_ ? tail_ : full_; }

  void rewind() noexcept {
    pos_ = opts_.skip;
    batch_ = 0;
    batch_cols_ = 0;
  }

  // This part's first column and column count in a batch of b.
  [[nodiscard]] std::pair<Index, Index> part_of(Index b) const noexcept {
    const Index lo = b * opts_.part / opts_.parts, hi = b * (opts_.part + 1) / opts_.parts;
    return {lo, hi - lo};
  }

  const void* source_;
  void (*gather_)(const void*, std::span<const Index>, Buffer&);
  Index n_;
  BatcherOptions opts_;
  std::vector<Index> order_;
  Buffer full_, tail_;
  bool on_tail_ = false;
  std::span<const Index> indices_;
  Index pos_ = 0;
  Index batch_ = 0;
  Index batch_cols_ = 0;
  Index part_offset_ = 0;
};

}  // namespace latent::inline v0
