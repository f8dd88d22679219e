// Proves that a warm training step (clear, forward, backward) performs no heap allocation. This
// binary replaces malloc and friends with counting versions, which sees operator new (it calls
// malloc), Eigen's own aligned_malloc and the OpenMP runtime alike. Its own binary, so the
// replacement does not touch other tests.

#include <latent/latent.hpp>
#include <latent/train.hpp>

#include <catch2/catch.hpp>

#include "support/skip.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> allocations{0};
std::atomic<bool> counting{false};
}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer owns malloc and operator new: replacing them would break its bookkeeping, so
// under ASan these tests only say so (the default preset runs them).
constexpr bool counting_available = false;
#else
constexpr bool counting_available = true;
namespace {
void note() {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  note();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* memalign(std::size_t align, std::size_t n) {
  note();
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) { return memalign(align, n); }
int posix_memalign(void** p, std::size_t align, std::size_t n) {
  *p = memalign(align, n);
  return *p ? 0 : ENOMEM;
}
void free(void* p) { __libc_free(p); }
}
#endif

namespace {

// One training step of the MLP 784-400-20-400-784 (ReLU, BCE from logits) at the given batch.
struct MlpStep {
  using M = Eigen::MatrixXf;
  std::vector<M> w, b, gw, gb;
  M x;
  latent::Tape<float> tape;

  explicit MlpStep(Eigen::Index batch) : x(784, batch) {
    const int sizes[] = {784, 400, 20, 400, 784};
    latent::Rng rng(1);
    for (int l = 0; l < 4; ++l) {
      w.emplace_back(sizes[l + 1], sizes[l]);
      rng.fill_normal(w.back());
      w.back() *= 0.05f;
      b.push_back(M::Zero(sizes[l + 1], 1));
      gw.push_back(M::Zero(sizes[l + 1], sizes[l]));
      gb.push_back(M::Zero(sizes[l + 1], 1));
    }
    rng.fill_uniform(x);
  }

  float run() {
    tape.clear();
    auto h = tape.constant(x);
    for (std::size_t l = 0; l < 4; ++l) {
      h = linear(tape.parameter(w[l], gw[l]), h, tape.parameter(b[l], gb[l]));
      if (l < 3) h = relu(h);
    }
    const auto loss = latent::mean(latent::Bernoulli<float>::nll(h, tape.constant(x)));
    tape.backward(loss);
    return loss.item();
  }
};

// False where allocations cannot be counted; the tests then skip (ctest: Skipped, not Passed).
bool can_count() { return counting_available; }

long allocations_during(const std::function<void()>& f) {
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations.load();
}

}  // namespace

TEST_CASE("the allocation counter sees allocations", "[autodiff][alloc]") {
  if (!can_count()) LATENT_SKIP("allocation counting is off under AddressSanitizer; the default preset runs it");
  static int* volatile sink = nullptr;  // volatile: the compiler may not elide this new
  CHECK(allocations_during([] { sink = new int(3); }) >= 1);
  delete sink;
  CHECK(allocations_during([] {
          Eigen::MatrixXf m(300, 300);
          m.setZero();
        }) >= 1);
}

TEST_CASE("a warm training step performs zero heap allocations", "[autodiff][alloc]") {
  if (!can_count()) LATENT_SKIP("allocation counting is off under AddressSanitizer; the default preset runs it");
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    for (Eigen::Index batch : {1, 32, 128}) {
      MlpStep step(batch);
      const long first = allocations_during([&] { step.run(); });
      step.run();  // the second step may still coalesce the arena
      float a = 0, b = 0;
      const long warm = allocations_during([&] {
        a = step.run();
        b = step.run();
      });
      INFO("threads " << threads << ", batch " << batch << ": first step " << first << " allocations");
      CHECK(first > 0);
      CHECK(warm == 0);
      CHECK(a == b);  // same inputs, same parameters: the same loss
    }
  }
  latent::set_num_threads(1);
}

namespace {
// Allocations of two warm Adam steps on `model` (two steps first to warm it), the loss of a step
// being `loss(tape, x, rng)` on a 784 x batch input in [0, 1].
template <class S, class Model, class Loss>
long warm_step_allocations(Model& model, Eigen::Index batch, Loss loss) {
  latent::Rng rng(1);
  latent::Adam<S> opt(model.parameters(), {.lr = 1e-3});
  latent::Matrix<S> x(784, batch);
  rng.fill_uniform(x);
  latent::Tape<S> tape;
  const auto step = [&] {
    tape.clear();
    opt.zero_grad();
    tape.backward(loss(tape, tape.constant(x), rng));
    opt.step();
  };
  step();
  step();
  return allocations_during([&] {
    step();
    step();
  });
}

template <class S>
long warm_vae_step_allocations(Eigen::Index batch) {
  latent::Rng rng(1);
  auto vae = latent::Vae<S>::mlp({}, rng);
  return warm_step_allocations<S>(vae, batch, [&](latent::Tape<S>& t, latent::Var<S> x, latent::Rng& r) {
    return vae.elbo(t, x, r, {.samples = 2}).total;
  });
}

template <class S>
long warm_conv_vae_step_allocations(Eigen::Index batch) {
  latent::Rng rng(1);
  auto vae = latent::conv_vae<S>({}, rng);
  return warm_step_allocations<S>(
      vae, batch, [&](latent::Tape<S>& t, latent::Var<S> x, latent::Rng& r) { return vae.elbo(t, x, r).total; });
}

template <class S>
long warm_autoencoder_step_allocations(Eigen::Index batch, const latent::AutoencoderOptions& options) {
  latent::Rng rng(1);
  auto ae = latent::Autoencoder<S>::mlp(options, rng);
  return warm_step_allocations<S>(
      ae, batch, [&](latent::Tape<S>& t, latent::Var<S> x, latent::Rng& r) { return ae.loss(t, x, r).total; });
}
}  // namespace

TEST_CASE("a warm VAE training step with Adam performs zero heap allocations", "[models][alloc]") {
  if (!can_count()) LATENT_SKIP("allocation counting is off under AddressSanitizer; the default preset runs it");
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    // Batch 1 keeps the weight gradients as factors (latent::Gradient), batch 64 densely.
    for (Eigen::Index batch : {1, 64}) {
      INFO("threads " << threads << ", batch " << batch);
      CHECK(warm_vae_step_allocations<float>(batch) == 0);
      CHECK(warm_vae_step_allocations<double>(batch) == 0);
    }
  }
  latent::set_num_threads(1);
}

TEST_CASE("a warm conv VAE training step with Adam performs zero heap allocations", "[models][alloc]") {
  if (!can_count()) LATENT_SKIP("allocation counting is off under AddressSanitizer; the default preset runs it");
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    // Batch 1 keeps the linear layers' weight gradients as factors (latent::Gradient).
    for (Eigen::Index batch : {1, 32}) {
      INFO("threads " << threads << ", batch " << batch);
      CHECK(warm_conv_vae_step_allocations<float>(batch) == 0);
    }
  }
  latent::set_num_threads(1);
}

TEST_CASE("a warm autoencoder training step with Adam performs zero heap allocations", "[models][alloc]") {
  if (!can_count()) LATENT_SKIP("allocation counting is off under AddressSanitizer; the default preset runs it");
  // Plain (its loss has no penalty term: the zero term must not come from the heap), sparse and
  // denoising (a fresh corruption every step, into a reused buffer).
  const std::vector<latent::AutoencoderOptions> variants = {
      {},
      {.code_activation = latent::Activation::sigmoid, .penalty = latent::CodePenalty::kl_sparsity, .lambda = 0.1},
      {.corruption = {.type = latent::Noise::masking, .level = 0.3}},
  };
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    for (std::size_t v = 0; v < variants.size(); ++v)
      for (Eigen::Index batch : {1, 64}) {
        INFO("threads " << threads << ", variant " << v << ", batch " << batch);
        CHECK(warm_autoencoder_step_allocations<float>(batch, variants[v]) == 0);
      }
  }
  latent::set_num_threads(1);
}

TEST_CASE("warm Sgd, RmsProp, clip_grad_norm, schedules and Batcher::next perform zero heap allocations",
          "[optim][data][alloc]") {
  if (!can_count()) LATENT_SKIP("allocation counting is off under AddressSanitizer; the default preset runs it");
  // docs/optim.md and docs/data.md claim these allocate nothing once warm; only Adam's step and
  // the batch buffers' addresses were checked. Counted here with the real malloc.
  latent::Rng rng(2);
  latent::Parameter<float> w("w", 300, 250), b("b", 300, 1);  // 75000 entries: split on 2 threads
  rng.fill_normal(w.value);
  const auto fill_grads = [&] {
    rng.fill_normal(w.grad());
    rng.fill_normal(b.grad());
  };
  latent::Sgd<float> sgd({&w, &b}, {.lr = 0.01, .momentum = 0.9, .nesterov = true});
  latent::RmsProp<float> rms({&w, &b}, {.lr = 0.01});
  const latent::LinearWarmup<latent::CosineAnnealing> warm_cosine(3, latent::CosineAnnealing(0.1, 20));
  const latent::StepDecay decay(0.1, 5, 0.5);
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    for (latent::Optimizer<float>* opt : std::initializer_list<latent::Optimizer<float>*>{&sgd, &rms}) {
      INFO("threads " << threads << ", " << opt->kind());
      const auto step = [&](std::size_t t) {
        opt->zero_grad();
        fill_grads();
        latent::clip_grad_norm(opt->parameters(), 1.0);
        warm_cosine.apply(*opt, t);
        decay.apply(*opt, t);
        opt->step();
      };
      step(0);  // creates the momentum / running-average slots
      step(1);
      CHECK(allocations_during([&] {
              for (std::size_t t = 2; t < 8; ++t) step(t);
            }) == 0);
    }
  }
  latent::set_num_threads(1);

  latent::Dataset<float> data;
  data.features.resize(20, 23);
  rng.fill_uniform(data.features);
  data.labels.assign(23, 1);
  latent::Batcher<float> batches(data, {.batch_size = 5});  // 4 full batches and a tail of 3
  batches.start_epoch(rng);
  while (batches.next()) {
  }
  CHECK(allocations_during([&] {
          for (int epoch = 0; epoch < 2; ++epoch) {
            batches.start_epoch(rng);
            while (batches.next()) {
            }
            batches.start_epoch_in_order();
            while (batches.next()) {
            }
          }
        }) == 0);
}

namespace {
// Allocations in the warm steps of a `fit` run (from the end of one step to the end of the next,
// so the batch gather, the schedules, the guard and the hooks are counted), with every per-step
// option on: lr and beta schedules, clipping, the divergence guard, signal handling.
// With `comm`, the data-parallel step: noise keyed by example, the gradient summed through it.
long warm_fit_step_allocations(Eigen::Index examples, latent::Index classes, latent::Communicator* comm = nullptr) {
  latent::Rng rng(1);
  auto vae = latent::Vae<float>::mlp({.hidden = {64}, .latent = 8, .classes = classes}, rng);
  latent::Adam<float> adam(vae.parameters());
  latent::Dataset<float> data;
  data.features.resize(784, examples);
  rng.fill_uniform(data.features);
  if (classes > 0)
    for (Eigen::Index j = 0; j < examples; ++j) data.labels.push_back(int(j % classes));
  long counted = 0, steps = 0;
  latent::Callback<float> count;
  count.on_step_end = [&](latent::FitState<float>& s) {
    if (counting) {
      counting = false;
      counted += allocations.load();
      ++steps;
    }
    if (s.epoch >= 2 && s.batch < s.batches) {
      allocations = 0;
      counting = true;
    }
  };
  latent::FitOptions<float> options{.epochs = 3,
                                    .batch_size = 64,
                                    .lr = latent::ValueSchedule::per_step(latent::CosineAnnealing(1e-3, 100)),
                                    .beta = latent::ValueSchedule::linear_warmup(1.0, 10),
                                    .clip_grad_norm = 10,
                                    .rng = &rng};
  options.callbacks.push_back(count);
  options.communicator = comm;
  latent::fit(vae, adam, data, options);
  counting = false;
  CHECK(steps > 4);
  return counted;
}
}  // namespace

TEST_CASE("the warm steps of fit perform zero heap allocations", "[train][alloc]") {
  if (!can_count()) LATENT_SKIP("allocation counting is off under AddressSanitizer; the default preset runs it");
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    INFO("threads " << threads);
    CHECK(warm_fit_step_allocations(250, 0) == 0);   // 4 batches, the last of 58
    CHECK(warm_fit_step_allocations(250, 10) == 0);  // a conditional VAE: one-hot labels each step
    latent::LocalCommunicator local;
    CHECK(warm_fit_step_allocations(250, 0, &local) == 0);  // the data-parallel step, one process
  }
  latent::set_num_threads(1);
}
