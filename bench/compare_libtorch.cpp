// The reference VAE (784-400-20, ReLU, Bernoulli from logits, Adam 1e-3) trained side by side in
// LibTorch and latent, in one process: a training step at batch 128 and at batch 1, a whole
// Fashion-MNIST epoch at batch 128, and encoding one image. Each metric is the median of
// --repeats runs, the sides taking turns; prints `metric=... latent=... libtorch=... ratio=...`
// (ratio = latent / libtorch, lower is better) with min and max beside each median. Measured in
// the same turns, the baselines the other targets of issue 8 are ratios to: the epoch's matrix
// products alone in Eigen's GEMM (`gemm_floor`, floor_share = floor / latent's epoch) and the
// batch-128 step on 1 thread against N, for latent and for those products alone.
//
// `--model conv` compares the convolutional VAE instead (latent::conv_vae, 258,025 parameters, and
// the same net in torch::nn): the batch-128 step, encoding one image and the epoch, each step and
// epoch also against its 17 matrix products alone (conv_vae_gemms.hpp, the conv floor), with
// `--only latent|libtorch|gemms --epochs N` for one side's peak RSS; `--epoch-repeats 0` skips the
// epochs (LibTorch's take many minutes where its BLAS kernel is generic).
//
// LibTorch runs in its best configuration (issue 8): at::set_num_threads(threads),
// OPENBLAS_NUM_THREADS=1 and OPENBLAS_CORETYPE unset, or `--openblas-coretype NAME` on a CPU
// OpenBLAS does not know (SkylakeX, as a LibTorch user there would set it). OpenBLAS reads these
// when it loads, so the program re-executes itself with them set. Built only when CMake finds
// Torch (Debian's libtorch-dev); not part of CI.

#include <torch/torch.h>

#include <latent/latent.hpp>

#include "conv_vae_gemms.hpp"
#include "vae_gemms.hpp"

#include <unistd.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median, min, max;
};

Stats stats(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}

// Times each of `sides` in turn, `repeats` rounds: on a shared machine whose speed drifts for
// minutes at a time, all sides then sample the same minutes.
std::vector<Stats> measure(int repeats, const std::vector<std::function<void()>>& sides) {
  std::vector<std::vector<double>> times(sides.size());
  for (int r = 0; r < repeats; ++r) {
    for (std::size_t i = 0; i < sides.size(); ++i) {
      // Each side starts with the other's threads parked: LibTorch's OpenMP workers spin for
      // milliseconds after its last region (libgomp's default), and a spinning thread took a
      // core from latent's batch-1 turn (50 steps, ~10 ms): 282-373 us per step beside it,
      // 180 us with OMP_WAIT_POLICY=passive (AMD EPYC, 2026-12-01).
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const auto t0 = Clock::now();
      sides[i]();
      times[i].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  std::vector<Stats> result;
  for (auto& t : times) result.push_back(stats(std::move(t)));
  return result;
}

// --- LibTorch -----------------------------------------------------------------------------
struct TorchVae : torch::nn::Module {
  torch::nn::Linear fc1{784, 400}, fc21{400, 20}, fc22{400, 20}, fc3{20, 400}, fc4{400, 784};
  TorchVae() {
    register_module("fc1", fc1);
    register_module("fc21", fc21);
    register_module("fc22", fc22);
    register_module("fc3", fc3);
    register_module("fc4", fc4);
  }
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& x) {
    const auto h = torch::relu(fc1(x));
    return {fc21(h), fc22(h)};
  }
  torch::Tensor loss(const torch::Tensor& x) {
    auto [mu, logvar] = encode(x);
    const auto z = mu + torch::randn_like(mu) * torch::exp(0.5 * logvar);
    const auto logits = fc4(torch::relu(fc3(z)));
    const auto bce = torch::binary_cross_entropy_with_logits(logits, x, {}, {}, at::Reduction::Sum);
    const auto kld = -0.5 * torch::sum(1 + logvar - mu.pow(2) - logvar.exp());
    return (bce + kld) / x.size(0);
  }
};

// The conv VAE of issue 19: Conv2d(1,32,k4,s2,p1)+ReLU, Conv2d(32,64,k4,s2,p1)+ReLU, flatten 3136,
// Linear(3136, 2 x 20); Linear(20, 3136)+ReLU, 64x7x7, ConvTranspose2d(64,32,k4,s2,p1)+ReLU,
// ConvTranspose2d(32,1,k4,s2,p1) = Bernoulli logits. 258,025 parameters, as latent::conv_vae.
struct TorchConvVae : torch::nn::Module {
  torch::nn::Conv2d conv1{torch::nn::Conv2dOptions(1, 32, 4).stride(2).padding(1)},
      conv2{torch::nn::Conv2dOptions(32, 64, 4).stride(2).padding(1)};
  torch::nn::Linear head{3136, 40}, fc{20, 3136};
  torch::nn::ConvTranspose2d deconv1{torch::nn::ConvTranspose2dOptions(64, 32, 4).stride(2).padding(1)},
      deconv2{torch::nn::ConvTranspose2dOptions(32, 1, 4).stride(2).padding(1)};
  TorchConvVae() {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    register_module("head", head);
    register_module("fc", fc);
    register_module("deconv1", deconv1);
    register_module("deconv2", deconv2);
  }
  std::vector<torch::Tensor> encode(const torch::Tensor& x) {
    const auto h = torch::relu(conv2(torch::relu(conv1(x.view({x.size(0), 1, 28, 28})))));
    return head(h.view({x.size(0), 3136})).chunk(2, 1);
  }
  torch::Tensor loss(const torch::Tensor& x) {
    const auto q = encode(x);
    const auto& mu = q[0];
    const auto& logvar = q[1];
    const auto z = mu + torch::randn_like(mu) * torch::exp(0.5 * logvar);
    const auto d = torch::relu(fc(z)).view({x.size(0), 64, 7, 7});
    const auto logits = deconv2(torch::relu(deconv1(d))).view({x.size(0), 784});
    const auto bce = torch::binary_cross_entropy_with_logits(logits, x, {}, {}, at::Reduction::Sum);
    const auto kld = -0.5 * torch::sum(1 + logvar - mu.pow(2) - logvar.exp());
    return (bce + kld) / x.size(0);
  }
};

// --- the same in latent -------------------------------------------------------------------
struct LatentVae {
  latent::Rng rng{1};
  latent::Vae<float> vae = latent::Vae<float>::mlp({}, rng);
  latent::Adam<float> opt{vae.parameters(), {.lr = 1e-3}};
  latent::Tape<float> tape;
  void step(const latent::Matrix<float>& x) {
    tape.clear();
    opt.zero_grad();
    tape.backward(vae.elbo(tape, tape.constant(x), rng).total);
    opt.step();
  }
};

struct LatentConvVae {
  latent::Rng rng{1};
  latent::Vae<float> vae = latent::conv_vae<float>({}, rng);
  latent::Adam<float> opt{vae.parameters(), {.lr = 1e-3}};
  latent::Tape<float> tape;
  void step(const latent::Matrix<float>& x) {
    tape.clear();
    opt.zero_grad();
    tape.backward(vae.elbo(tape, tape.constant(x), rng).total);
    opt.step();
  }
};

struct Side {
  const char* name;
  Stats time;
};

// One line per metric: both medians, `ratio_name`=`ratio`, and the min and max beside them.
void report(const std::string& metric, const char* unit, double scale, Side a, Side b, const char* ratio_name,
            double ratio) {
  std::cout << std::fixed << std::setprecision(3) << "metric=" << metric << " unit=" << unit << " " << a.name << "="
            << a.time.median * scale << " " << b.name << "=" << b.time.median * scale << " " << ratio_name << "="
            << ratio << "  (" << a.name << " min " << a.time.min * scale << " max " << a.time.max * scale << "; "
            << b.name << " min " << b.time.min * scale << " max " << b.time.max * scale << ")" << std::endl;
}

// latent against LibTorch: ratio = latent / libtorch, lower is better.
void report_vs_torch(const std::string& metric, const char* unit, double scale, Stats l, Stats t) {
  report(metric, unit, scale, {"latent", l}, {"libtorch", t}, "ratio", l.median / t.median);
}

}  // namespace

// `--only latent|libtorch|gemms --epochs N`: that side's epoch (`epochs`, in that order) N times,
// each printed, so `/usr/bin/time -v` reads one library's peak RSS alone.
static int run_alone(const char* label, const std::string& only, int train_epochs,
                     const std::array<std::function<void()>, 3>& epochs) {
  const std::function<void()>& epoch = epochs[only == "latent" ? 0 : only == "libtorch" ? 1 : 2];
  for (int e = 0; e < train_epochs; ++e) {
    const auto t0 = Clock::now();
    epoch();
    std::cout << std::fixed << std::setprecision(3) << label << "only=" << only << " epoch=" << e + 1
              << " seconds=" << std::chrono::duration<double>(Clock::now() - t0).count() << std::endl;
  }
  return 0;
}

// The CPU's model name from /proc/cpuinfo ("Intel(R) Xeon(R) Processor"), for the log: every
// figure must name its CPU.
static std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// The conv VAE side by side: step at batch 128, encoding one image, the epoch; or one side alone.
int compare_conv(const latent::Matrix<float>& all, const torch::Tensor& all_t, const latent::Uint8Dataset& train,
                 int threads, int repeats, int epochs_repeats, const std::string& only, int train_epochs) {
  TorchConvVae tv;
  torch::optim::Adam topt(tv.parameters(), torch::optim::AdamOptions(1e-3));
  LatentConvVae lv;
  std::cout << "model=conv parameters latent=" << lv.vae.num_parameters() << " libtorch=" << [&] {
    long n = 0;
    for (const auto& p : tv.parameters()) n += p.numel();
    return n;
  }() << std::endl;
  const auto torch_step = [&](const torch::Tensor& x) {
    topt.zero_grad();
    tv.loss(x).backward();
    topt.step();
  };
  latent::Batcher<float> batches(train, {.batch_size = 128});
  latent::Rng order(3);
  const auto latent_epoch = [&] {
    for (batches.start_epoch(order); batches.next();) lv.step(batches.features());
  };
  const auto torch_epoch = [&] {
    const auto perm = torch::randperm(all_t.size(0), torch::kLong);
    for (long s = 0; s < all_t.size(0); s += 128)
      torch_step(all_t.index_select(0, perm.narrow(0, s, std::min<long>(128, all_t.size(0) - s))));
  };
  // The same step's and epoch's 17 matrix products alone, in Eigen's own GEMM: the floor.
  latent_bench::ConvVaeGemms<float> gemms(128);
  const auto gemm_epoch = [&] { gemms.epoch(all.cols(), 128); };
  if (!only.empty()) return run_alone("model=conv ", only, train_epochs, {latent_epoch, torch_epoch, gemm_epoch});
  const int steps = 10;
  {
    const latent::Matrix<float> x = all.leftCols(128);
    const torch::Tensor xt = all_t.narrow(0, 0, 128);
    for (int w = 0; w < 3; ++w) {
      lv.step(x);
      torch_step(xt);
    }
    const auto s = measure(repeats, {[&] {
                                       for (int i = 0; i < steps; ++i) lv.step(x);
                                     },
                                     [&] {
                                       for (int i = 0; i < steps; ++i) torch_step(xt);
                                     }});
    report_vs_torch("conv_train_step_batch128", "ms", 1e3 / steps, s[0], s[1]);
    // The step against its own products (target: <= 1.6x), in turns.
    const auto f = measure(repeats, {[&] {
                                       for (int i = 0; i < steps; ++i) lv.step(x);
                                     },
                                     [&] {
                                       for (int i = 0; i < steps; ++i) gemms.step(128);
                                     }});
    report("conv_products_batch128", "ms", 1e3 / steps, {"latent", f[0]}, {"eigen_gemms", f[1]}, "step_over_products",
           f[0].median / f[1].median);
  }
  {
    const latent::Matrix<float> x = all.leftCols(1);
    const torch::Tensor xt = all_t.narrow(0, 0, 1);
    const int n = 500;
    torch::NoGradGuard no_grad;
    const auto s = measure(repeats, {[&] {
                                       for (int i = 0; i < n; ++i) lv.vae.encode(x);
                                     },
                                     [&] {
                                       for (int i = 0; i < n; ++i) tv.encode(xt);
                                     }});
    report_vs_torch("conv_encode_batch1", "us", 1e6 / n, s[0], s[1]);
  }
  (void)threads;
  if (epochs_repeats == 0) return 0;  // a LibTorch conv epoch on a generic BLAS kernel takes many minutes
  const auto s = measure(epochs_repeats, {latent_epoch, torch_epoch, gemm_epoch});
  report_vs_torch("conv_epoch", "s", 1.0, s[0], s[1]);
  report("conv_products_epoch", "s", 1.0, {"latent", s[0]}, {"eigen_gemms", s[2]}, "epoch_over_products",
         s[0].median / s[2].median);
  return 0;
}

int main(int argc, char** argv) {
  // OpenBLAS reads its environment when the library loads: set it, then start again.
  // `--openblas-coretype NAME` (e.g. SkylakeX where OpenBLAS names the CPU Prescott) forces the
  // kernel of the process's one OpenBLAS: LibTorch's, and latent's too where its route takes it.
  std::string coretype;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--openblas-coretype") coretype = argv[i + 1];
  const char* v = std::getenv("OPENBLAS_NUM_THREADS");
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  if (v == nullptr || std::string(v) != "1" || std::string(core ? core : "") != coretype) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    if (coretype.empty())
      unsetenv("OPENBLAS_CORETYPE");
    else
      setenv("OPENBLAS_CORETYPE", coretype.c_str(), 1);
    execv("/proc/self/exe", argv);
    std::perror("compare_libtorch: re-exec");
    return 1;
  }
  int threads = 2, repeats = 5, epochs_repeats = 5, train_epochs = 0;
  std::string only, model = "mlp";
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = i + 1 < argc ? argv[i] : "";  // every flag takes a value
    if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--repeats")
      repeats = std::atoi(argv[i + 1]);
    else if (flag == "--epoch-repeats")
      epochs_repeats = std::atoi(argv[i + 1]);
    else if (flag == "--only")
      only = argv[i + 1];
    else if (flag == "--model")
      model = argv[i + 1];
    else if (flag == "--epochs")
      train_epochs = std::atoi(argv[i + 1]);
    else if (flag == "--openblas-coretype")
      continue;  // read before the re-exec above
    else {
      std::cerr << "usage: compare_libtorch [--model mlp|conv] [--threads N] [--repeats R] [--epoch-repeats E]\n"
                   "                        [--openblas-coretype NAME]\n"
                   "       compare_libtorch --only latent|libtorch|gemms --epochs N   (one side alone: peak RSS, "
                   "seconds per epoch)\n";
      return 2;
    }
  }
  if (!only.empty() && only != "latent" && only != "libtorch" && only != "gemms") {
    std::cerr << "compare_libtorch: --only takes latent, libtorch or gemms, not '" << only << "'\n";
    return 2;
  }
  if (model != "mlp" && model != "conv") {
    std::cerr << "compare_libtorch: --model takes mlp or conv, not '" << model << "'\n";
    return 2;
  }
  at::set_num_threads(threads);
  latent::set_num_threads(threads);
  torch::manual_seed(1);
  std::cout << "threads=" << threads << " repeats=" << repeats << " epoch_repeats=" << epochs_repeats << std::endl;
  // Both libraries share the process's one OpenBLAS, so its kernel is LibTorch's too.
  std::cout << "cpu=\"" << cpu_model() << "\" latent_products=\"" << latent::gemm_backend()
            << "\" libtorch_blas_core=\""
#if defined(LATENT_USE_BLAS)
            << latent::detail::blas_core()
#else
            << "unknown (latent built without OpenBLAS)"
#endif
            << "\"" << std::endl;

  const auto train = latent::fashion_mnist(latent::Split::train);
  // LibTorch's copy of the data as floats (latent's Batcher converts batch by batch), 784 x 60000:
  // not made when latent runs alone, so its peak RSS is latent's own.
  const latent::Matrix<float> all =
      only == "latent" ? latent::Matrix<float>(784, 0) : latent::to_unit<float>(train).features;
  // Row-major N x 784 in torch is the same memory as column-major 784 x N in latent.
  const torch::Tensor all_t = torch::from_blob(const_cast<float*>(all.data()), {all.cols(), 784}, torch::kFloat);

  if (model == "conv") return compare_conv(all, all_t, train, threads, repeats, epochs_repeats, only, train_epochs);

  TorchVae tv;
  torch::optim::Adam topt(tv.parameters(), torch::optim::AdamOptions(1e-3));
  LatentVae lv;
  const auto torch_step = [&](const torch::Tensor& x) {
    topt.zero_grad();
    tv.loss(x).backward();
    topt.step();
  };

  // A whole Fashion-MNIST epoch at batch 128 in shuffled order.
  latent::Batcher<float> batches(train, {.batch_size = 128});
  latent::Rng order(3);
  const auto latent_epoch = [&] {
    for (batches.start_epoch(order); batches.next();) lv.step(batches.features());
  };
  const auto torch_epoch = [&] {
    const auto perm = torch::randperm(all_t.size(0), torch::kLong);
    for (long s = 0; s < all_t.size(0); s += 128)
      torch_step(all_t.index_select(0, perm.narrow(0, s, std::min<long>(128, all_t.size(0) - s))));
  };

  // The same epoch's matrix products alone, in Eigen's own GEMM: the floor of an epoch.
  latent_bench::VaeGemms<float> gemms(128);
  const auto gemm_epoch = [&] { gemms.epoch(all.cols(), 128); };

  // One side alone for N epochs, so `/usr/bin/time -v` reads that library's peak RSS (both
  // processes load LibTorch's libraries and the uint8 data; LibTorch's float copy of it, 188 MB, is
  // made only for LibTorch and the floor), or so the `vae` example's seconds= can be read against
  // the floor's, run by run.
  if (!only.empty()) return run_alone("", only, train_epochs, {latent_epoch, torch_epoch, gemm_epoch});

  const int steps = 50;  // per timed repeat of the step metrics
  for (long batch : {128L, 1L}) {
    const latent::Matrix<float> x = all.leftCols(batch);
    const torch::Tensor xt = all_t.narrow(0, 0, batch);
    for (int w = 0; w < 5; ++w) {  // warm both up: allocator pools, arena, thread pools
      lv.step(x);
      torch_step(xt);
    }
    const auto s = measure(repeats, {[&] {
                                       for (int i = 0; i < steps; ++i) lv.step(x);
                                     },
                                     [&] {
                                       for (int i = 0; i < steps; ++i) torch_step(xt);
                                     }});
    const double per_step = 1.0 / steps;
    report_vs_torch("train_step_batch" + std::to_string(batch), batch == 1 ? "us" : "ms",
                    (batch == 1 ? 1e6 : 1e3) * per_step, s[0], s[1]);
  }

  // What the second thread buys at batch 128 (target: 1.7x), beside what it buys Eigen's GEMM
  // alone on the same products in the same minutes: the machine's own limit.
  if (threads > 1) {
    const latent::Matrix<float> x = all.leftCols(128);
    const auto on = [&](int n, auto&& f) {
      return [n, &f] {
        latent::set_num_threads(n);
        for (int i = 0; i < steps; ++i) f();
      };
    };
    const auto step = [&] { lv.step(x); };
    const auto gemm_step = [&] { gemms.step(128); };
    const auto s = measure(repeats, {on(1, step), on(threads, step), on(1, gemm_step), on(threads, gemm_step)});
    latent::set_num_threads(threads);
    const double ms = 1e3 / steps;
    report("threads_speedup_batch128", "ms", ms, {"latent_1_thread", s[0]}, {"latent_threads", s[1]}, "speedup",
           s[0].median / s[1].median);
    report("threads_speedup_gemms_batch128", "ms", ms, {"eigen_gemms_1_thread", s[2]}, {"eigen_gemms_threads", s[3]},
           "speedup", s[2].median / s[3].median);
  }

  {
    const latent::Matrix<float> x = all.leftCols(1);
    const torch::Tensor xt = all_t.narrow(0, 0, 1);
    const int n = 2000;
    torch::NoGradGuard no_grad;
    const auto s = measure(repeats, {[&] {
                                       for (int i = 0; i < n; ++i) lv.vae.encode(x);
                                     },
                                     [&] {
                                       for (int i = 0; i < n; ++i) tv.encode(xt);
                                     }});
    report_vs_torch("encode_batch1", "us", 1e6 / n, s[0], s[1]);
  }

  // The epoch against LibTorch's and against its own floor (target: >= 85% of it), all three in turn.
  const auto s = measure(epochs_repeats, {latent_epoch, torch_epoch, gemm_epoch});
  report_vs_torch("epoch", "s", 1.0, s[0], s[1]);
  report("gemm_floor", "s", 1.0, {"latent", s[0]}, {"eigen_gemms", s[2]}, "floor_share", s[2].median / s[0].median);
  return 0;
}
