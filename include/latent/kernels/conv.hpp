#pragma once
/// @file
/// The loops behind convolutions: `im2col` (the patches of a batch of images as the columns of a
/// GEMM operand), its adjoint `col2im`, and the two reorderings between latent's one-image-per-
/// column layout and the "channels as columns" layout a batched GEMM produces.
///
/// Layouts. An image batch is `(C H W) x B`, one image per column, channel-major then
/// row-major: entry (c, i, j) of image b sits at row `(c H + i) W + j` of column b. A convolution
/// with P = Ho Wo output positions, K = C kh kw taps and B images is one GEMM over the patch
/// matrix X (P B rows, K columns, column-major): X(p + b P, k) is the input entry that tap k of
/// output position p reads (0 in the padding), k = (c kh + ki) kw + kj. Then `X W^T` (P B x Cout)
/// holds each output channel as a column; `to_images` moves it into the image layout. The
/// products run over chunks of several images (`for_each_image_chunk`), not one image at a time:
/// P alone is 49 for a 7x7 map, too few rows to keep Eigen's kernel fed.

#include <algorithm>
#include <cstddef>

#include "latent/core/parallel.hpp"
#include "latent/core/scalar.hpp"
#include "latent/kernels/gemm.hpp"

namespace latent::inline v0::detail {

/// The geometry of one 2-d convolution (square kernel, equal stride, padding and dilation on both
/// axes): its input `channels x height x width`, its output positions `out_height x out_width`.
struct ConvGeometry {
  Index channels = 0, height = 0, width = 0;  // input image
  Index out_height = 0, out_width = 0;        // output positions
  Index kernel = 1, stride = 1, padding = 0, dilation = 1;

  /// Output positions P = Ho Wo.
  [[nodiscard]] Index positions() const noexcept { return out_height * out_width; }
  /// Taps per output position K = C k k.
  [[nodiscard]] Index taps() const noexcept { return channels * kernel * kernel; }
  /// Entries of one input image, C H W.
  [[nodiscard]] Index image_size() const noexcept { return channels * height * width; }
  bool operator==(const ConvGeometry&) const = default;
};

/// The positions o in [0, n_out) whose input o s + offset lies in [0, n_in): [first, last).
inline std::pair<Index, Index> valid_outputs(Index offset, Index stride, Index n_in, Index n_out) {
  // o s + offset >= 0  <=>  o >= ceil(-offset / s);  o s + offset < n_in  <=>  o < ceil((n_in - offset) / s).
  const Index first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const Index limit = n_in - offset;
  const Index last = limit <= 0 ? 0 : (limit + stride - 1) / stride;
  const Index lo = std::min(first, n_out), hi = std::clamp(last, lo, n_out);
  return {lo, hi};
}

/// Which images of a batch a call works on: [first, first + count) of `batch` (the batch fixes
/// the row count P batch of the patch and channels-as-columns matrices).
struct ImageRange {
  Index batch = 0, first = 0, count = 0;
};

/// Rows [first P, (first + count) P) of X = im2col(x), on the calling thread: the patches of
/// images `r` of `x` (`(C H W) x batch`) into `cols` (`(P batch) x K`, see the file comment).
/// The rows and columns of output positions whose input lies in the image are worked out once
/// per tap, so the inner loop is a plain copy; a batch-1 conv layer of 7 x 7 outputs has ~3500
/// such rows of 7 entries, where per-row bounds checks and `memset` calls for the padding cost
/// more than the copying (38% of a batch-1 conv encode).
template <class S>
void im2col(const S* x, const ConvGeometry& g, const ImageRange& r, S* cols) {
  const Index P = g.positions(), rows = P * r.batch, plane = g.height * g.width;
  const Index width = g.width, out_width = g.out_width, stride = g.stride, image_size = g.image_size();
  // Tap k = (c kh + ki) kw + kj, counted up rather than divided out for every k.
  for (Index k = 0, c = 0, ki = 0, kj = 0; k < g.taps(); ++k) {
    const Index di = ki * g.dilation - g.padding, dj = kj * g.dilation - g.padding;
    const auto [top, bottom] = valid_outputs(di, stride, g.height, g.out_height);
    const auto [lo, hi] = valid_outputs(dj, stride, width, out_width);
    // The padding's zeros in one fill of the column's rows (they stay in L1 for the copies
    // after); filled row by row, each short row cost a `memset` call.
    S* col = cols + k * rows;
    std::fill_n(col + r.first * P, r.count * P, S(0));
    for (Index b = r.first; b < r.first + r.count; ++b) {
      const S* image = x + b * image_size + c * plane + dj;
      for (Index oh = top; oh < bottom; ++oh) {
        const S* row = image + (oh * stride + di) * width;
        S* line = col + b * P + oh * out_width;
        if (stride == 1)
          for (Index ow = lo; ow < hi; ++ow) line[ow] = row[ow];
        else
          for (Index ow = lo; ow < hi; ++ow) line[ow] = row[ow * stride];
      }
    }
    if (++kj == g.kernel) {
      kj = 0;
      if (++ki == g.kernel) {
        ki = 0;
        ++c;
      }
    }
  }
}

/// dx (+)= col2im(dX) for images `r`, the adjoint of `im2col`, on the calling thread: every entry
/// of rows [first P, (first + count) P) of `cols` ((P batch) x K) is added into the input entry it
/// was read from; `dx` is `(C H W) x batch`, its images `r` assigned unless `accumulate`.
template <class S>
void col2im(const S* cols, const ConvGeometry& g, const ImageRange& r, S* dx, bool accumulate) {
  const Index P = g.positions(), rows = P * r.batch, plane = g.height * g.width, kk = g.kernel * g.kernel;
  const Index width = g.width, out_width = g.out_width, stride = g.stride, image_size = g.image_size();
  for (Index c = 0; c < g.channels; ++c) {
    if (!accumulate)
      for (Index b = r.first; b < r.first + r.count; ++b) std::fill_n(dx + b * image_size + c * plane, plane, S(0));
    for (Index ki = 0; ki < g.kernel; ++ki) {
      const Index di = ki * g.dilation - g.padding;
      const auto [top, bottom] = valid_outputs(di, stride, g.height, g.out_height);
      for (Index kj = 0; kj < g.kernel; ++kj) {
        const Index dj = kj * g.dilation - g.padding;
        const auto [lo, hi] = valid_outputs(dj, stride, width, out_width);
        const S* col = cols + (c * kk + ki * g.kernel + kj) * rows;
        for (Index b = r.first; b < r.first + r.count; ++b) {
          S* image = dx + b * image_size + c * plane + dj;
          for (Index oh = top; oh < bottom; ++oh) {
            S* row = image + (oh * stride + di) * width;
            const S* line = col + b * P + oh * out_width;
            if (stride == 1)
              for (Index ow = lo; ow < hi; ++ow) row[ow] += line[ow];
            else
              for (Index ow = lo; ow < hi; ++ow) row[ow * stride] += line[ow];
          }
        }
      }
    }
  }
}

/// Images `r` of y (+)= the image layout of `channels_as_cols` (P batch x C, column c holding
/// channel c of every image), plus `bias[c]` on channel c when `bias` is not null: y is
/// `(C P) x batch`. On the calling thread.
template <class S>
void to_images(const S* channels_as_cols, Index positions, Index channels, const ImageRange& r, const S* bias, S* y,
               bool accumulate) {
  const Index rows = positions * r.batch;
  for (Index b = r.first; b < r.first + r.count; ++b)
    for (Index c = 0; c < channels; ++c) {
      const S* in = channels_as_cols + c * rows + b * positions;
      S* out = y + (b * channels + c) * positions;
      const S shift = bias ? bias[c] : S(0);
      if (accumulate)
        for (Index p = 0; p < positions; ++p) out[p] += in[p] + shift;
      else
        for (Index p = 0; p < positions; ++p) out[p] = in[p] + shift;
    }
}

/// The inverse reordering for images `r`: their rows of `channels_as_cols` (P batch x C) = the
/// images `y` ((C P) x batch). On the calling thread.
template <class S>
void from_images(const S* y, Index positions, Index channels, const ImageRange& r, S* channels_as_cols) {
  const Index rows = positions * r.batch;
  for (Index c = 0; c < channels; ++c)
    for (Index b = r.first; b < r.first + r.count; ++b)
      std::copy_n(y + (b * channels + c) * positions, positions, channels_as_cols + c * rows + b * positions);
}

/// Patch bytes a conv layer works on at a time: small enough to stay in a core's L2 cache (1 MB
/// on Zen 5, 2 MB on the Intel Xeons we measured) between the loop that writes them and the
/// product that reads them, large enough that the product's rows fill Eigen's cache blocks.
inline constexpr std::size_t conv_chunk_bytes = std::size_t(512) << 10;

/// Calls `f(range, buffers)` on consecutive chunks of images covering a batch, so each chunk's
/// patches go from the loop that writes them to the product that reads them while in cache:
/// written whole, the patch matrix of a 32-channel 14 x 14 layer at batch 128 is 12.8 MB, and
/// writing it, then reading it back, ran at memory speed (im2col and col2im took 22% of a conv
/// VAE step). Threads split the images (one share each, the split fixed by the batch and the
/// thread count); a share runs its chunks of at most `conv_chunk_bytes` / `bytes_per_image`
/// images in order, with the share's own packing buffers for `gemm_rows`.
template <class S, class F>
void for_each_image_chunk(Index batch, std::size_t bytes_per_image, F&& f) {
  const Index per_chunk = std::max<Index>(1, Index(conv_chunk_bytes / std::max<std::size_t>(1, bytes_per_image)));
  const int threads = threads_for(batch * Index(bytes_per_image / sizeof(S)), batch);
  auto& buffers = share_buffers<S>(threads);
  on_threads(threads, [&](int t) {
    const auto [begin, end] = share_of(batch, t, threads);
    for (Index first = begin; first < end; first += per_chunk)
      f(ImageRange{batch, first, std::min(per_chunk, end - first)}, *buffers[std::size_t(t)]);
  });
}

/// Calls `f(range)` on one range of images per thread, covering a batch: for the reorderings
/// that are a pass of their own.
template <class F>
void for_each_image_share(Index batch, Index entries_per_image, F&& f) {
  for_each_column_block(entries_per_image, batch,
                        [&](Index first, Index count) { f(ImageRange{batch, first, count}); });
}

/// db (+)= the sum of every column of `m` (rows x cols), one entry per column: a bias gradient
/// when the columns are channels.
template <class S>
void column_totals(const S* m, Index rows, Index cols, S* db, bool accumulate) {
  for_each_column_block(rows, cols, [&](Index first, Index count) {
    for (Index c = first; c < first + count; ++c) {
      const S sum = Eigen::Map<const Vector<S>>(m + c * rows, rows).sum();
      db[c] = accumulate ? db[c] + sum : sum;
    }
  });
}

/// db (+)= the sum of each channel of the images `y` ((C P) x batch) over positions and images.
/// Threads split the channels.
template <class S>
void channel_totals(const S* y, Index positions, Index channels, Index batch, S* db, bool accumulate) {
  for_each_column_block(positions * batch, channels, [&](Index first, Index count) {
    for (Index c = first; c < first + count; ++c) {
      S sum = 0;
      for (Index b = 0; b < batch; ++b)
        sum += Eigen::Map<const Vector<S>>(y + (b * channels + c) * positions, positions).sum();
      db[c] = accumulate ? db[c] + sum : sum;
    }
  });
}

/// y += bias[c] on every entry of channel c of images `r` of `y` ((C P) x batch), on the calling
/// thread.
template <class S>
void add_channel_bias(S* y, Index positions, Index channels, const ImageRange& r, const S* bias) {
  for (Index b = r.first; b < r.first + r.count; ++b)
    for (Index c = 0; c < channels; ++c)
      Eigen::Map<Vector<S>>(y + (b * channels + c) * positions, positions).array() += bias[c];
}

/// One image plane of average pooling: y[i, j] = scale * sum of x over the window of output
/// (i, j), zeros outside (`g` with one channel: its kernel, stride and padding are the pool's).
template <class S>
void pool_plane(const S* x, const ConvGeometry& g, S scale, S* y) {
  std::fill_n(y, g.positions(), S(0));
  for (Index ki = 0; ki < g.kernel; ++ki)
    for (Index kj = 0; kj < g.kernel; ++kj) {
      const Index di = ki * g.dilation - g.padding, dj = kj * g.dilation - g.padding;
      const auto [lo, hi] = valid_outputs(dj, g.stride, g.width, g.out_width);
      for (Index oh = 0; oh < g.out_height; ++oh) {
        const Index ih = oh * g.stride + di;
        if (ih < 0 || ih >= g.height) continue;
        const S* row = x + ih * g.width + dj;
        S* out = y + oh * g.out_width;
        for (Index ow = lo; ow < hi; ++ow) out[ow] += row[ow * g.stride];
      }
    }
  for (Index p = 0; p < g.positions(); ++p) y[p] *= scale;
}

/// The adjoint of `pool_plane`: dx += scale * (every entry of gy added into its window).
template <class S>
void pool_plane_adjoint(const S* gy, const ConvGeometry& g, S scale, S* dx) {
  for (Index ki = 0; ki < g.kernel; ++ki)
    for (Index kj = 0; kj < g.kernel; ++kj) {
      const Index di = ki * g.dilation - g.padding, dj = kj * g.dilation - g.padding;
      const auto [lo, hi] = valid_outputs(dj, g.stride, g.width, g.out_width);
      for (Index oh = 0; oh < g.out_height; ++oh) {
        const Index ih = oh * g.stride + di;
        if (ih < 0 || ih >= g.height) continue;
        S* row = dx + ih * g.width + dj;
        const S* in = gy + oh * g.out_width;
        for (Index ow = lo; ow < hi; ++ow) row[ow * g.stride] += scale * in[ow];
      }
    }
}

}  // namespace latent::inline v0::detail
