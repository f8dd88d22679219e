#pragma once
/// @file
/// `detail::DnnlConv`: the optional route of float convolutions to oneDNN's direct convolution
/// kernels, on with `LATENT_USE_DNNL` as the matmul route (kernels/dnnl.hpp).
///
/// Why: the im2col route (kernels/conv.hpp) copies every input entry about (k / s)^2 times into
/// a patch matrix before its product and adds the copies back one by one in col2im; in the conv
/// VAE those two loops took as long as half its products. oneDNN's jit kernels read the images
/// themselves, in a channel-blocked layout (nChw16c on AVX-512), and run at the speed of its
/// products: per thread, forward, backward-data and backward-weights of the VAE's 32 -> 64
/// channel layer at 187-198 GFLOP/s on Zen 5, where with plain layouts oneDNN falls back to its
/// own im2col (83-91 GFLOP/s).
///
/// Which convolutions: float ones whose channel counts (in and out) are multiples of 16, the
/// block the AVX-512 kernels work in. With one input channel, for one, oneDNN's backward-data
/// kernel ran at 12 GFLOP/s (the image padded to 16 channels); those stay on the im2col route.
/// A transposed convolution runs as the adjoint of the convolution it transposes: its forward is
/// that convolution's backward-data step and its input gradient that convolution's forward.
///
/// How it fits latent, as the matmul route: latent's threads split the batch into shares and
/// each runs oneDNN single-threaded on its images; a weight gradient is one partial sum per
/// share, added in share order, so results depend only on the thread count. Images move between
/// latent's layout (`(C H W) x batch`, oneDNN's nchw) and the blocked one by oneDNN reorders,
/// which took 0.73 s beside the kernels' 6.45 s in a conv VAE epoch (both threads, Zen 5). With
/// channels a multiple of 16 a blocked image has the size of the plain one, so a share's blocked
/// images sit at the offsets of its plain ones.

#include "latent/core/error.hpp"
#include "latent/core/parallel.hpp"
#include "latent/kernels/conv.hpp"
#include "latent/kernels/dnnl.hpp"

#if defined(LATENT_USE_DNNL)
#include <atomic>
#include <initializer_list>
#include <string>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace latent::inline v0::detail {

#if defined(LATENT_USE_DNNL)

/// One share of a convolution: its geometry, its output channels and the share's image count.
struct DnnlConvShape {
  ConvGeometry geometry;
  Index out_channels = 0;
  Index images = 0;
  bool operator==(const DnnlConvShape&) const = default;
};

/// Whether a convolution's channel counts suit oneDNN's blocked kernels (see the file comment).
inline bool dnnl_conv_channels_fit(const ConvGeometry& g, Index out_channels) {
  return g.channels % 16 == 0 && out_channels % 16 == 0;
}

/// The three convolution kernels of one share shape, the reorders between latent's layouts and
/// oneDNN's, and the share's blocked scratch images. Names follow the convolution: "in" is its
/// input image (C x H x W), "out" its output (Cout x Ho x Wo), W is `Cout x (C k k)` column-major.
/// The pointers the operations take are the share's own (its first image, its weight column).
class DnnlConv {
 public:
  /// Builds the kernels; `ready()` is false if oneDNN offers no jit kernel for one of them, or
  /// its blocked layouts would differ between them or from the plain image size.
  explicit DnnlConv(const DnnlConvShape& shape) : shape_(shape) {
    const OneOpenMpThread single;
    try {
      build();
    } catch (const dnnl::error&) {
      ready_ = false;
    }
  }

  [[nodiscard]] const DnnlConvShape& shape() const { return shape_; }
  [[nodiscard]] bool ready() const { return ready_; }

  /// y = conv(x, W); x is kept in oneDNN's layout in `kept` (shaped as x) for `conv_backward`.
  /// Each operation returns false if oneDNN failed to run one of its steps.
  [[nodiscard]] bool conv_forward(const float* x, const float* w, float* kept, float* y) const {
    return run(weights_to_forward_, {{DNNL_ARG_FROM, plain_weights_, w}, {DNNL_ARG_TO, weights_for_forward_}}) &&
           run(in_to_blocked_, {{DNNL_ARG_FROM, plain_in_, x}, {DNNL_ARG_TO, blocked_in_, kept}}) &&
           run(forward_,
               {{DNNL_ARG_SRC, blocked_in_, kept}, {DNNL_ARG_WEIGHTS, weights_for_forward_}, {DNNL_ARG_DST, out_}}) &&
           run(out_to_plain_, {{DNNL_ARG_FROM, out_}, {DNNL_ARG_TO, plain_out_, y}});
  }

  /// With G = `gy`: this share's dW = the weight gradient (assigned, in W's layout) unless `dw` is
  /// null, and dx (+)= the input gradient unless `dx` is null (`+=` when `add`).
  [[nodiscard]] bool conv_backward(const float* kept, const float* gy, const float* w, float* dw, float* dx,
                                   bool add) const {
    if (!run(out_to_blocked_, {{DNNL_ARG_FROM, plain_out_, gy}, {DNNL_ARG_TO, out_}})) return false;
    if (dw && !weight_gradient({DNNL_ARG_SRC, blocked_in_, kept}, {DNNL_ARG_DIFF_DST, out_}, dw)) return false;
    return !dx ||
           (run(weights_to_backward_, {{DNNL_ARG_FROM, plain_weights_, w}, {DNNL_ARG_TO, weights_for_backward_}}) &&
            run(backward_data_,
                {{DNNL_ARG_DIFF_DST, out_}, {DNNL_ARG_WEIGHTS, weights_for_backward_}, {DNNL_ARG_DIFF_SRC, in_}}) &&
            run(add ? in_add_to_plain_ : in_to_plain_, {{DNNL_ARG_FROM, in_}, {DNNL_ARG_TO, plain_in_, dx}}));
  }

  /// y = conv^T(x, W), the transposed convolution (x on the out side, y on the in side); x is
  /// kept in oneDNN's layout in `kept` (shaped as x) for `transpose_backward`.
  [[nodiscard]] bool transpose_forward(const float* x, const float* w, float* kept, float* y) const {
    return run(weights_to_backward_, {{DNNL_ARG_FROM, plain_weights_, w}, {DNNL_ARG_TO, weights_for_backward_}}) &&
           run(out_to_blocked_, {{DNNL_ARG_FROM, plain_out_, x}, {DNNL_ARG_TO, blocked_out_, kept}}) &&
           run(backward_data_, {{DNNL_ARG_DIFF_DST, blocked_out_, kept},
                                {DNNL_ARG_WEIGHTS, weights_for_backward_},
                                {DNNL_ARG_DIFF_SRC, in_}}) &&
           run(in_to_plain_, {{DNNL_ARG_FROM, in_}, {DNNL_ARG_TO, plain_in_, y}});
  }

  /// With G = `gy` (on the in side): this share's dW (assigned) unless `dw` is null, and
  /// dx (+)= conv(G, W) unless `dx` is null (`+=` when `add`).
  [[nodiscard]] bool transpose_backward(const float* kept, const float* gy, const float* w, float* dw, float* dx,
                                        bool add) const {
    if (!run(in_to_blocked_, {{DNNL_ARG_FROM, plain_in_, gy}, {DNNL_ARG_TO, in_}})) return false;
    if (dw && !weight_gradient({DNNL_ARG_SRC, in_}, {DNNL_ARG_DIFF_DST, blocked_out_, kept}, dw)) return false;
    return !dx ||
           (run(weights_to_forward_, {{DNNL_ARG_FROM, plain_weights_, w}, {DNNL_ARG_TO, weights_for_forward_}}) &&
            run(forward_, {{DNNL_ARG_SRC, in_}, {DNNL_ARG_WEIGHTS, weights_for_forward_}, {DNNL_ARG_DST, out_}}) &&
            run(add ? out_add_to_plain_ : out_to_plain_, {{DNNL_ARG_FROM, out_}, {DNNL_ARG_TO, plain_out_, dx}}));
  }

 private:
  // One argument of a kernel: its memory object and, unless null, the data it is pointed at.
  struct Arg {
    int role;
    const dnnl::memory& memory;
    const float* data = nullptr;
  };
  // A kernel or reorder and the memory object of its scratchpad (pointed at `scratchpad_`).
  struct Step {
    dnnl::primitive primitive;
    dnnl::memory scratchpad;
  };

  // Runs one step; false if oneDNN refused. Never throws: it runs inside a region of the pool.
  bool run(const Step& step, std::initializer_list<Arg> args) const {
    const OneOpenMpThread single;
    dnnl_exec_arg_t c_args[4];  // at most three arguments and the scratchpad
    int n = 0;
    for (const Arg& a : args) {
      if (a.data && dnnl_memory_set_data_handle(a.memory.get(), const_cast<float*>(a.data)) != dnnl_success)
        return false;
      c_args[n++] = {a.role, a.memory.get()};
    }
    c_args[n++] = {DNNL_ARG_SCRATCHPAD, step.scratchpad.get()};
    return dnnl_primitive_execute(step.primitive.get(), dnnl_thread_stream(), n, c_args) == dnnl_success;
  }

  // This share's dW (assigned, in W's layout) from the blocked input `in` and gradient `out`.
  bool weight_gradient(const Arg& in, const Arg& out, float* dw) const {
    return run(backward_weights_, {in, out, {DNNL_ARG_DIFF_WEIGHTS, dw_}}) &&
           run(weights_to_plain_, {{DNNL_ARG_FROM, dw_}, {DNNL_ARG_TO, plain_weights_, dw}});
  }

  void build();

  DnnlConvShape shape_;
  bool ready_ = false;
  Step forward_, backward_data_, backward_weights_;
  Step in_to_blocked_, in_to_plain_, in_add_to_plain_, out_to_blocked_, out_to_plain_, out_add_to_plain_;
  Step weights_to_forward_, weights_to_backward_, weights_to_plain_;
  // Pointed at the caller's data on each call: latent's images and weights, kept blocked images.
  dnnl::memory plain_in_, plain_out_, plain_weights_, blocked_in_, blocked_out_;
  // Owned: the share's blocked scratch images, the kernels' weights and weight gradient.
  dnnl::memory in_, out_, weights_for_forward_, weights_for_backward_, dw_;
  dnnl::memory scratchpad_;
};

inline void DnnlConv::build() {
  using dims = dnnl::memory::dims;
  using desc = dnnl::memory::desc;
  using tag = dnnl::memory::format_tag;
  const auto f32 = dnnl::memory::data_type::f32;
  const dnnl::engine engine(dnnl_cpu_engine(), true);
  const ConvGeometry& g = shape_.geometry;
  const Index n = shape_.images, k = g.kernel, co = shape_.out_channels;
  const dims in_dims{n, g.channels, g.height, g.width}, out_dims{n, co, g.out_height, g.out_width};
  const dims w_dims{co, g.channels, k, k}, w_strides{1, k * k * co, k * co, co};  // Cout x (C k k), column-major
  const dims strides{g.stride, g.stride}, dilation{g.dilation - 1, g.dilation - 1}, pad{g.padding, g.padding};
  const desc in_any(in_dims, f32, tag::any), out_any(out_dims, f32, tag::any), w_any(w_dims, f32, tag::any);
  const desc in_plain(in_dims, f32, tag::nchw), out_plain(out_dims, f32, tag::nchw), w_plain(w_dims, f32, w_strides);

  dnnl::primitive_attr attr, add_attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  add_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops add;  // dst += the reordered source
  add.append_sum(1.0f);
  add_attr.set_post_ops(add);

  const auto alg = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::primitive_desc forward(
      {dnnl::prop_kind::forward_training, alg, in_any, w_any, out_any, strides, dilation, pad, pad}, attr, engine);
  const dnnl::convolution_backward_data::primitive_desc backward_data(
      {alg, in_any, w_any, out_any, strides, dilation, pad, pad}, attr, engine, forward);
  const dnnl::convolution_backward_weights::primitive_desc backward_weights(
      {alg, in_any, w_any, out_any, strides, dilation, pad, pad}, attr, engine, forward);
  const desc in = forward.src_desc(), out = forward.dst_desc();
  const auto jit = [](const auto& pd) { return std::string(pd.impl_info_str()).rfind("jit", 0) == 0; };
  if (!jit(forward) || !jit(backward_data) || !jit(backward_weights) || in != backward_data.diff_src_desc() ||
      in != backward_weights.src_desc() || out != backward_data.diff_dst_desc() ||
      out != backward_weights.diff_dst_desc() || in.get_size() != in_plain.get_size() ||
      out.get_size() != out_plain.get_size())
    return;

  const auto reorder = [&](const desc& from, const desc& to, const dnnl::primitive_attr& a) {
    return dnnl::reorder::primitive_desc(engine, from, engine, to, a);
  };
  const std::pair<Step*, dnnl::primitive_desc_base> steps[] = {
      {&forward_, forward},
      {&backward_data_, backward_data},
      {&backward_weights_, backward_weights},
      {&in_to_blocked_, reorder(in_plain, in, attr)},
      {&in_to_plain_, reorder(in, in_plain, attr)},
      {&in_add_to_plain_, reorder(in, in_plain, add_attr)},
      {&out_to_blocked_, reorder(out_plain, out, attr)},
      {&out_to_plain_, reorder(out, out_plain, attr)},
      {&out_add_to_plain_, reorder(out, out_plain, add_attr)},
      {&weights_to_forward_, reorder(w_plain, forward.weights_desc(), attr)},
      {&weights_to_backward_, reorder(w_plain, backward_data.weights_desc(), attr)},
      {&weights_to_plain_, reorder(backward_weights.diff_weights_desc(), w_plain, attr)}};

  // One scratchpad, as large as the largest any step asks for.
  std::size_t scratch_bytes = 1;
  for (const auto& [step, pd] : steps) scratch_bytes = std::max(scratch_bytes, pd.scratchpad_desc().get_size());
  scratchpad_ = dnnl::memory(desc({dims::value_type(scratch_bytes)}, dnnl::memory::data_type::u8, tag::x), engine);
  for (const auto& [step, pd] : steps)
    *step = {dnnl::primitive(pd.get()), dnnl::memory(pd.scratchpad_desc(), engine, scratchpad_.get_data_handle())};

  plain_in_ = dnnl::memory(in_plain, engine, DNNL_MEMORY_NONE);
  plain_out_ = dnnl::memory(out_plain, engine, DNNL_MEMORY_NONE);
  plain_weights_ = dnnl::memory(w_plain, engine, DNNL_MEMORY_NONE);
  blocked_in_ = dnnl::memory(in, engine, DNNL_MEMORY_NONE);
  blocked_out_ = dnnl::memory(out, engine, DNNL_MEMORY_NONE);
  in_ = dnnl::memory(in, engine);
  out_ = dnnl::memory(out, engine);
  weights_for_forward_ = dnnl::memory(forward.weights_desc(), engine);
  weights_for_backward_ = dnnl::memory(backward_data.weights_desc(), engine);
  dw_ = dnnl::memory(backward_weights.diff_weights_desc(), engine);
  ready_ = true;
}

/// The share kernels of `shape` on the calling thread, built on first use.
inline const DnnlConv& dnnl_conv_kernels(const DnnlConvShape& shape) {
  thread_local DnnlBuilt<DnnlConvShape, DnnlConv> built;
  return built[shape];
}

// Share s of `shares` of the convolution `conv` (its `images` the whole batch): its shape, with
// the share's image count, and its first image.
inline std::pair<DnnlConvShape, Index> dnnl_conv_share(const DnnlConvShape& conv, int s, int shares) {
  const auto [first, last] = share_of(conv.images, s, shares);
  DnnlConvShape share = conv;
  share.images = last - first;
  return {share, first};
}

/// Whether a float convolution takes the oneDNN route: `conv` gives its geometry, with `images`
/// the whole batch, split into `shares`. True if its channel counts fit and oneDNN has kernels
/// for every share's image count (built here, on the calling thread, which usually runs a share
/// itself).
inline bool dnnl_conv_route(const DnnlConvShape& conv, int shares) {
  if (!dnnl_thread_stream() || !dnnl_conv_channels_fit(conv.geometry, conv.out_channels)) return false;
  for (int s = 0; s < shares; ++s)
    if (const auto [share, first] = dnnl_conv_share(conv, s, shares);
        share.images > 0 && !dnnl_conv_kernels(share).ready())
      return false;
  return true;
}

/// Calls `f(kernels, s, images)` for every share s of the convolution `conv` (its `images` the
/// whole batch) split into `shares`, on the threads; `f` returns false if oneDNN failed. Throws
/// `Error` naming `where` after the region if a share failed (nothing may throw inside one).
template <class F>
void for_each_dnnl_conv_share(const char* where, const DnnlConvShape& conv, int shares, F&& f) {
  std::atomic<bool> failed{false};
  on_threads(shares, [&](int s) {
    const auto [share, first] = dnnl_conv_share(conv, s, shares);
    if (share.images > 0 && !f(dnnl_conv_kernels(share), s, ImageRange{conv.images, first, share.images}))
      failed.store(true, std::memory_order_relaxed);
  });
  if (failed.load()) throw Error(where, "oneDNN failed to run a convolution kernel");
}

#endif

}  // namespace latent::inline v0::detail
