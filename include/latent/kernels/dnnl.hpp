#pragma once
/// @file
/// `detail::dnnl_gemm`: the optional route of latent's float products to oneDNN's matmul.
///
/// Off unless the translation unit defines `LATENT_USE_DNNL` and links oneDNN and the OpenMP
/// runtime it was built with (Debian's libdnnl-dev: `-ldnnl -lgomp`). Float only: oneDNN has no
/// double matmul, so double products stay on Eigen's kernel (or the BLAS route).
///
/// Why offer it: on AVX-512 CPUs oneDNN's brgemm kernels run the VAE's and the conv VAE's
/// products 1.4-1.7x faster than Eigen's kernel (docs/performance.md has the numbers).
///
/// How it fits latent: latent still splits every product over its own threads, and each thread
/// runs oneDNN single-threaded on its slab (the OpenMP thread count is set to 1 around each call
/// and restored), so results stay bit-identical per thread count and no OpenMP team spins beside
/// latent's pool. Each thread keeps the primitives it built, one per product shape, so a warm
/// step builds nothing. oneDNN picks its kernel by the CPU's features; a shape for which it
/// offers only its reference implementation stays on Eigen's kernel.
///
/// What it costs: oneDNN 2.6's `dnnl_primitive_execute` builds a map of its arguments on every
/// call, 6-7 small heap allocations per product. The default route allocates nothing in a warm
/// step; this one does, inside oneDNN. Products below `dnnl_min_volume` and every matrix-vector
/// product (batch 1) never reach it.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "latent/core/scalar.hpp"

#if defined(LATENT_USE_DNNL)
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#endif

namespace latent::inline v0::detail {

#if defined(LATENT_USE_DNNL)

/// Products with fewer multiply-adds (m n k) stay on Eigen's kernel, where a call's fixed cost
/// (the argument map, the kernel's setup) is a visible part of the product.
inline constexpr double dnnl_min_volume = 2e6;

/// oneDNN's CPU engine, created once per process.
inline dnnl_engine_t dnnl_cpu_engine() {
  static const dnnl_engine_t engine = [] {
    dnnl_engine_t e = nullptr;
    return dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success ? e : nullptr;
  }();
  return engine;
}

/// While alive, OpenMP's thread count for the calling thread is 1, so oneDNN builds and runs its
/// kernels single-threaded there; the caller's count comes back when it dies.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : before_(omp_get_max_threads()) { omp_set_num_threads(1); }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;
  ~OneOpenMpThread() { omp_set_num_threads(before_); }

 private:
  int before_;
};

/// The shape of one product as oneDNN sees it: C (m x n, column-major, leading dimension ldc)
/// (+)= op(A) op(B), A and B column-major with leading dimensions lda and ldb.
struct DnnlProductShape {
  Index m, n, k, lda, ldb, ldc;
  bool a_transposed, b_transposed, accumulate;
  bool operator==(const DnnlProductShape&) const = default;
};

/// One matmul primitive with its memory objects (data pointers set per call) and scratchpad.
class DnnlProduct {
 public:
  /// Builds the primitive for `shape`; `ready()` is false if oneDNN offers none but its
  /// reference implementation (or fails), and the product then stays on Eigen's kernel.
  explicit DnnlProduct(const DnnlProductShape& shape) : shape_(shape) {
    const OneOpenMpThread single;
    build();
  }
  DnnlProduct(const DnnlProduct&) = delete;
  DnnlProduct& operator=(const DnnlProduct&) = delete;
  ~DnnlProduct() {
    for (dnnl_memory_t m : {a_, b_, c_, scratch_})
      if (m) dnnl_memory_destroy(m);
    if (primitive_) dnnl_primitive_destroy(primitive_);
  }

  [[nodiscard]] const DnnlProductShape& shape() const { return shape_; }
  [[nodiscard]] bool ready() const { return primitive_ != nullptr; }
  /// oneDNN's name for the kernel it chose, e.g. "brg:avx512_core".
  [[nodiscard]] const std::string& kernel() const { return kernel_; }

  /// Runs the product on `stream`; false if oneDNN refused (C is then untouched).
  bool run(dnnl_stream_t stream, const float* a, const float* b, float* c) const {
    const OneOpenMpThread single;
    if (dnnl_memory_set_data_handle(a_, const_cast<float*>(a)) != dnnl_success ||
        dnnl_memory_set_data_handle(b_, const_cast<float*>(b)) != dnnl_success ||
        dnnl_memory_set_data_handle(c_, c) != dnnl_success)
      return false;
    const dnnl_exec_arg_t args[] = {
        {DNNL_ARG_SRC, b_}, {DNNL_ARG_WEIGHTS, a_}, {DNNL_ARG_DST, c_}, {DNNL_ARG_SCRATCHPAD, scratch_}};
    return dnnl_primitive_execute(primitive_, stream, 4, args) == dnnl_success;
  }

 private:
  // oneDNN's matmul is row-major, dst (M x N) = src (M x K) weights (K x N). A column-major C is
  // a row-major C^T, so it computes C^T = op(B)^T op(A)^T: src = op(B)^T (n x k), weights =
  // op(A)^T (k x m), dst = C^T (n x m); transposes are strides, nothing is copied.
  void build() {
    const auto& s = shape_;
    const dnnl_dims_t src_dims = {s.n, s.k}, weight_dims = {s.k, s.m}, dst_dims = {s.n, s.m};
    const dnnl_dims_t src_strides = {s.b_transposed ? 1 : s.ldb, s.b_transposed ? s.ldb : 1};
    const dnnl_dims_t weight_strides = {s.a_transposed ? 1 : s.lda, s.a_transposed ? s.lda : 1};
    const dnnl_dims_t dst_strides = {s.ldc, 1};
    dnnl_memory_desc_t src, weights, dst;
    if (dnnl_memory_desc_init_by_strides(&src, 2, src_dims, dnnl_f32, src_strides) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&weights, 2, weight_dims, dnnl_f32, weight_strides) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&dst, 2, dst_dims, dnnl_f32, dst_strides) != dnnl_success)
      return;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &src, &weights, nullptr, &dst) != dnnl_success) return;

    dnnl_primitive_attr_t attr = nullptr;
    dnnl_post_ops_t post_ops = nullptr;
    dnnl_primitive_desc_t pd = nullptr;
    const bool described =
        dnnl_primitive_attr_create(&attr) == dnnl_success &&
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
        (!s.accumulate ||  // C += ...: the sum post-op adds the product to what dst holds
         (dnnl_post_ops_create(&post_ops) == dnnl_success && dnnl_post_ops_append_sum(post_ops, 1.0f) == dnnl_success &&
          dnnl_primitive_attr_set_post_ops(attr, post_ops) == dnnl_success)) &&
        dnnl_primitive_desc_create(&pd, &desc, attr, dnnl_cpu_engine(), nullptr) == dnnl_success;
    if (post_ops) dnnl_post_ops_destroy(post_ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!described) return;

    const char* impl = nullptr;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl) kernel_ = impl;
    const dnnl_memory_desc_t* scratch = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    const bool built =
        kernel_.rfind("ref", 0) != 0 && scratch &&
        dnnl_memory_create(&a_, &weights, dnnl_cpu_engine(), DNNL_MEMORY_NONE) == dnnl_success &&
        dnnl_memory_create(&b_, &src, dnnl_cpu_engine(), DNNL_MEMORY_NONE) == dnnl_success &&
        dnnl_memory_create(&c_, &dst, dnnl_cpu_engine(), DNNL_MEMORY_NONE) == dnnl_success &&
        dnnl_memory_create(&scratch_, scratch, dnnl_cpu_engine(), DNNL_MEMORY_ALLOCATE) == dnnl_success &&
        dnnl_primitive_create(&primitive_, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    if (!built && primitive_) {
      dnnl_primitive_destroy(primitive_);
      primitive_ = nullptr;
    }
  }

  DnnlProductShape shape_;
  dnnl_primitive_t primitive_ = nullptr;
  dnnl_memory_t a_ = nullptr, b_ = nullptr, c_ = nullptr, scratch_ = nullptr;
  std::string kernel_;
};

/// The oneDNN stream of the calling thread, or null if oneDNN offers none (a stream is used by one
/// thread at a time; primitives do not refer to the stream they ran on).
inline dnnl_stream_t dnnl_thread_stream() {
  struct Stream {
    dnnl_stream_t handle = nullptr;
    Stream() {
      if (dnnl_cpu_engine() && dnnl_stream_create(&handle, dnnl_cpu_engine(), dnnl_stream_default_flags) != dnnl_success)
        handle = nullptr;
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream() {
      if (handle) dnnl_stream_destroy(handle);
    }
  };
  thread_local const Stream stream;
  return stream.handle;
}

/// What one thread has built with oneDNN, one `Built` per `Shape` (`Built` constructible from its
/// `Shape`, which it returns from `shape()`). A training loop has a few dozen shapes; past
/// `capacity` the oldest is dropped (one that comes back is built again).
template <class Shape, class Built>
class DnnlBuilt {
 public:
  static constexpr std::size_t capacity = 64;

  /// The `Built` for `shape`, built on first use.
  Built& operator[](const Shape& shape) {
    for (const auto& p : built_)
      if (p->shape() == shape) return *p;
    if (built_.size() == capacity) built_.erase(built_.begin());
    built_.push_back(std::make_unique<Built>(shape));
    return *built_.back();
  }

 private:
  std::vector<std::unique_ptr<Built>> built_;
};

/// C (m x n, leading dimension ldc) (+)= op(A) op(B) through oneDNN on the calling thread, A and
/// B column-major with leading dimensions lda and ldb; `+=` when `accumulate`. False if oneDNN
/// has no kernel for this shape but its reference one: the caller's kernel computes it then.
inline bool dnnl_gemm(bool a_transposed, bool b_transposed, Index m, Index n, Index k, const float* a, Index lda,
                      const float* b, Index ldb, float* c, Index ldc, bool accumulate) {
  thread_local DnnlBuilt<DnnlProductShape, DnnlProduct> products;
  const dnnl_stream_t stream = dnnl_thread_stream();
  if (!stream) return false;
  const DnnlProduct& product = products[{m, n, k, lda, ldb, ldc, a_transposed, b_transposed, accumulate}];
  return product.ready() && product.run(stream, a, b, c);
}

/// The kernel oneDNN picks for a float product of the VAE's size, or "" if it offers none but
/// its reference one: what `gemm_backend()` reports.
inline std::string dnnl_kernel() {
  static const std::string kernel = [] {
    const DnnlProduct probe({400, 128, 784, 400, 784, 400, false, false, false});
    return probe.ready() ? probe.kernel() : std::string();
  }();
  return kernel;
}

#endif

}  // namespace latent::inline v0::detail
