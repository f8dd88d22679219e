// The reference VAE (784-400-20, ReLU, Bernoulli from logits, Adam 1e-3) trained side by side in
// LibTorch and latent, in one process: a training step at batch 128 and at batch 1, a whole
// Fashion-MNIST epoch at batch 128, and encoding one image. Each metric is the median of
// --repeats runs, the two libraries taking turns; prints `metric=... latent=... libtorch=...
// ratio=...` (ratio = latent / libtorch, lower is better) with min and max beside each median.
//
// LibTorch runs in its best configuration (issue 8): at::set_num_threads(threads),
// OPENBLAS_NUM_THREADS=1 and OPENBLAS_CORETYPE unset; OpenBLAS reads these when it loads, so the
// program re-executes itself with them set. Built only when CMake finds Torch (Debian's
// libtorch-dev); not part of CI.

#include <torch/torch.h>

#include <latent/latent.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <string>
#include <unistd.h>
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

// Times `a` and `b` alternately, `repeats` times each: on a shared machine whose speed drifts
// for minutes at a time, both sides then sample the same minutes.
std::pair<Stats, Stats> measure(int repeats, const std::function<void()>& a, const std::function<void()>& b) {
  std::vector<double> ta, tb;
  const auto time = [](const std::function<void()>& f) {
    const auto t0 = Clock::now();
    f();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  for (int r = 0; r < repeats; ++r) {
    ta.push_back(time(a));
    tb.push_back(time(b));
  }
  return {stats(ta), stats(tb)};
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

// --- the same in latent -------------------------------------------------------------------
struct LatentVae {
  latent::Rng rng{1};
  latent::Vae<float> vae{{}, rng};
  latent::Adam<float> opt{vae.parameters(), {.lr = 1e-3}};
  latent::Tape<float> tape;
  void step(const latent::Matrix<float>& x) {
    tape.clear();
    opt.zero_grad();
    tape.backward(vae.elbo(tape, tape.constant(x), rng).total);
    opt.step();
  }
};

void report(const std::string& metric, const char* unit, double scale, Stats l, Stats t) {
  std::cout << std::fixed << std::setprecision(3) << "metric=" << metric << " unit=" << unit << " latent=" << l.median * scale
            << " libtorch=" << t.median * scale << " ratio=" << l.median / t.median << "  (latent min " << l.min * scale
            << " max " << l.max * scale << "; libtorch min " << t.min * scale << " max " << t.max * scale << ")" << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS reads its environment when the library loads: set it, then start again.
  if (const char* v = std::getenv("OPENBLAS_NUM_THREADS"); v == nullptr || std::string(v) != "1") {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    unsetenv("OPENBLAS_CORETYPE");
    execv("/proc/self/exe", argv);
    std::perror("compare_libtorch: re-exec");
    return 1;
  }
  int threads = 2, repeats = 5, epochs_repeats = 5, train_epochs = 0;
  std::string only;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = i + 1 < argc ? argv[i] : "";  // every flag takes a value
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    else if (flag == "--repeats") repeats = std::atoi(argv[i + 1]);
    else if (flag == "--epoch-repeats") epochs_repeats = std::atoi(argv[i + 1]);
    else if (flag == "--only") only = argv[i + 1];
    else if (flag == "--epochs") train_epochs = std::atoi(argv[i + 1]);
    else {
      std::cerr << "usage: compare_libtorch [--threads N] [--repeats R] [--epoch-repeats E]\n"
                   "       compare_libtorch --only latent|libtorch --epochs N   (train one side only, for peak RSS)\n";
      return 2;
    }
  }
  if (!only.empty() && only != "latent" && only != "libtorch") {
    std::cerr << "compare_libtorch: --only takes latent or libtorch, not '" << only << "'\n";
    return 2;
  }
  at::set_num_threads(threads);
  latent::set_num_threads(threads);
  torch::manual_seed(1);
  std::cout << "threads=" << threads << " repeats=" << repeats << " epoch_repeats=" << epochs_repeats << std::endl;

  const auto train = latent::fashion_mnist(latent::Split::train);
  const latent::Matrix<float> all = latent::to_unit<float>(train).features;  // 784 x 60000
  // Row-major N x 784 in torch is the same memory as column-major 784 x N in latent.
  const torch::Tensor all_t = torch::from_blob(const_cast<float*>(all.data()), {all.cols(), 784}, torch::kFloat);

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

  // One side alone for N epochs, so `/usr/bin/time -v` reads that library's peak RSS (the data,
  // 784 x 60000 floats = 188 MB, is loaded by both and counted in both).
  if (!only.empty()) {
    for (int e = 0; e < train_epochs; ++e) {
      if (only == "latent") latent_epoch();
      else torch_epoch();
      std::cout << "only=" << only << " epoch=" << e + 1 << std::endl;
    }
    return 0;
  }

  const int steps = 50;  // per timed repeat of the step metrics
  for (long batch : {128L, 1L}) {
    const latent::Matrix<float> x = all.leftCols(batch);
    const torch::Tensor xt = all_t.narrow(0, 0, batch);
    for (int w = 0; w < 5; ++w) {  // warm both up: allocator pools, arena, thread pools
      lv.step(x);
      torch_step(xt);
    }
    const auto [l, t] = measure(repeats, [&] { for (int s = 0; s < steps; ++s) lv.step(x); },
                                [&] { for (int s = 0; s < steps; ++s) torch_step(xt); });
    const double per_step = 1.0 / steps;
    report("train_step_batch" + std::to_string(batch), batch == 1 ? "us" : "ms", (batch == 1 ? 1e6 : 1e3) * per_step, l, t);
  }

  {
    const latent::Matrix<float> x = all.leftCols(1);
    const torch::Tensor xt = all_t.narrow(0, 0, 1);
    const int n = 2000;
    torch::NoGradGuard no_grad;
    const auto [l, t] = measure(repeats, [&] { for (int s = 0; s < n; ++s) lv.vae.encode(x); },
                                [&] { for (int s = 0; s < n; ++s) tv.encode(xt); });
    report("encode_batch1", "us", 1e6 / n, l, t);
  }

  const auto [l, t] = measure(epochs_repeats, latent_epoch, torch_epoch);
  report("epoch", "s", 1.0, l, t);
  return 0;
}
