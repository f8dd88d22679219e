// detail::gemm against Eigen's product in double, for every transpose combination and every
// route inside it (matrix-vector, outer and tiny products, the blocked kernel or the BLAS when
// LATENT_USE_BLAS is defined, oneDNN's for float when LATENT_USE_DNNL is), on one and two threads.

#include <catch2/catch.hpp>

#include <latent/core/rng.hpp>
#include <latent/kernels/gemm.hpp>

#include <cmath>
#include <limits>

namespace {

using latent::Index;

template <class S>
using M = latent::Matrix<S>;

struct Shape {
  Index m, n, k;
};

// m x n x k: matrix-vector products (op(A) x; the second large enough for threads to split its
// 517 columns unevenly), outer products and vector-matrix products (x^T op(B)), each small and
// large enough for two threads, a tiny one, an odd-sized one, one whose 129 columns do not split
// evenly over two threads, one of the reference VAE's layers at batch 128, and a tall one split
// by its 300 columns (a weight gradient's shape). Every vector length has a tail after whole
// SIMD packets.
constexpr Shape shapes[] = {{37, 1, 53}, {301, 1, 517}, {29, 31, 1},    {500, 301, 1},   {1, 43, 17},    {1, 701, 299},
                            {3, 4, 5},   {67, 45, 83},  {40, 129, 400}, {400, 128, 784}, {784, 300, 131}};

// The stored operand for op(X) of op_rows x op_cols: op_cols x op_rows when used transposed.
template <class S>
M<S> stored(Index op_rows, Index op_cols, bool transposed, latent::Rng& rng) {
  M<S> x(transposed ? op_cols : op_rows, transposed ? op_rows : op_cols);
  rng.fill_uniform(x);
  x.array() -= S(0.5);
  return x;
}

template <class S>
void check_all_products(int threads) {
  latent::set_num_threads(threads);
  latent::Rng rng(17);
  for (const Shape& s : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool accumulate : {false, true}) {
          const M<S> a = stored<S>(s.m, s.k, ta, rng), b = stored<S>(s.k, s.n, tb, rng);
          M<S> c = stored<S>(s.m, s.n, false, rng);
          const M<S> c0 = c;
          latent::detail::gemm<S>({a.data(), a.rows(), a.cols(), ta}, {b.data(), b.rows(), b.cols(), tb}, c.data(),
                                  accumulate);

          const Eigen::MatrixXd ad = a.template cast<double>(), bd = b.template cast<double>();
          const Eigen::MatrixXd opa = ta ? Eigen::MatrixXd(ad.transpose()) : ad;
          const Eigen::MatrixXd opb = tb ? Eigen::MatrixXd(bd.transpose()) : bd;
          Eigen::MatrixXd want = opa * opb;
          if (accumulate) want += c0.template cast<double>();
          // Rounding grows like sqrt(k) eps with entries of size 1/2.
          const double tol = 8 * std::sqrt(double(s.k)) * double(std::numeric_limits<S>::epsilon());
          const double err = (c.template cast<double>() - want).cwiseAbs().maxCoeff();
          INFO((sizeof(S) == 4 ? "float " : "double ")
               << s.m << "x" << s.n << "x" << s.k << (ta ? " A^T" : " A") << (tb ? " B^T" : " B")
               << (accumulate ? " +=" : " =") << " on " << threads << " threads: max error " << err);
          CHECK(err <= tol);

          // The same call again gives the same bits: the split depends only on shape and threads.
          M<S> again = c0;
          latent::detail::gemm<S>({a.data(), a.rows(), a.cols(), ta}, {b.data(), b.rows(), b.cols(), tb}, again.data(),
                                  accumulate);
          CHECK(again == c);
        }
  latent::set_num_threads(1);
}

}  // namespace

TEST_CASE("gemm matches Eigen's product on every route, float and double, 1 and 2 threads", "[kernels][gemm]") {
  for (int threads : {1, 2}) {
    check_all_products<float>(threads);
    check_all_products<double>(threads);
  }
}

TEST_CASE("the BLAS route is declined where the BLAS would run a generic or narrower kernel", "[kernels][gemm]") {
  using latent::detail::blas_kernel_fits;
  // (kernel, CPU's vector bits, Eigen's as compiled)
  CHECK_FALSE(blas_kernel_fits("Prescott", 512, 512));  // Debian's OpenBLAS 0.3.21 on Xeon family 6 model 207
  CHECK_FALSE(blas_kernel_fits("Prescott", 256, 128));  // generic on an AVX2 CPU even beside an SSE-only Eigen
  CHECK_FALSE(blas_kernel_fits("Nehalem", 256, 256));
  CHECK_FALSE(blas_kernel_fits("Sandybridge", 256, 256));  // AVX without FMA: half the width of Eigen's kernel
  CHECK_FALSE(blas_kernel_fits("", 256, 256));             // a BLAS that cannot name its kernel
  CHECK_FALSE(blas_kernel_fits("Haswell", 512, 512));      // OPENBLAS_CORETYPE=Haswell on an AVX-512 AMD EPYC
  CHECK(blas_kernel_fits("Haswell", 512, 128));            // ... where Eigen was built without -march
  CHECK(blas_kernel_fits("Haswell", 256, 256));
  CHECK(blas_kernel_fits("ZEN", 256, 256));
  CHECK(blas_kernel_fits("SkylakeX", 512, 512));
  CHECK(blas_kernel_fits("Cooperlake", 512, 512));
  CHECK(blas_kernel_fits("Prescott", 128, 128));  // on an SSE-only CPU it is the best there is
  const std::string backend = latent::gemm_backend();
  INFO("products on " << backend);
#if defined(LATENT_USE_BLAS)
  // This machine: whatever OpenBLAS chose, a generic kernel on an AVX2 CPU is never the route.
  const int cpu = latent::detail::cpu_vector_bits();
  const int kernel = latent::detail::blas_kernel_bits(latent::detail::blas_core());
  if (cpu >= 256 && kernel == 0) CHECK_FALSE(latent::detail::blas_route());
  // (With the oneDNN route too, this is what the double products take.)
  const std::string blas = latent::detail::blas_backend();
  if (blas_kernel_fits(latent::detail::blas_core(), cpu, latent::detail::eigen_vector_bits())) {
    CHECK(latent::detail::blas_route());
    CHECK(blas.rfind("OpenBLAS (", 0) == 0);
  } else {
    CHECK_FALSE(latent::detail::blas_route());
    CHECK(blas.rfind("Eigen (OpenBLAS declined", 0) == 0);
  }
#if !defined(LATENT_USE_DNNL)
  CHECK(backend == blas);
#endif
#elif !defined(LATENT_USE_DNNL)
  CHECK(backend == "Eigen");
#endif
}

#if defined(LATENT_USE_DNNL)
TEST_CASE("the oneDNN route takes float products on a CPU with AVX2, and reports its kernel", "[kernels][gemm]") {
  const std::string backend = latent::gemm_backend();
  INFO("products on " << backend);
  if (latent::detail::cpu_vector_bits() < 256) return;  // oneDNN may offer only its reference kernel there
  const std::string kernel = latent::detail::dnnl_kernel();
  CHECK_FALSE(kernel.empty());
  CHECK(kernel.rfind("ref", 0) != 0);
  CHECK(backend.rfind("oneDNN (" + kernel + " kernel), double on ", 0) == 0);

  // A product the route takes, C += A^T B on a strided slab of C, against Eigen's.
  latent::Rng rng(3);
  const M<float> a = stored<float>(96, 300, true, rng), b = stored<float>(300, 70, false, rng);
  M<float> c = stored<float>(120, 70, false, rng);
  const M<float> c0 = c;
  CHECK(latent::detail::dnnl_gemm(true, false, 96, 70, 300, a.data(), a.rows(), b.data(), b.rows(), c.data() + 10,
                                  c.rows(), true));
  M<float> want = c0;
  want.middleRows(10, 96) += a.transpose() * b;
  CHECK((c - want).cwiseAbs().maxCoeff() <= 1e-4f);
  CHECK(c.topRows(10) == c0.topRows(10));  // rows outside the slab untouched
  CHECK(c.bottomRows(14) == c0.bottomRows(14));
}
#endif
