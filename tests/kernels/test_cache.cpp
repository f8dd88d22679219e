// Eviction from the caches (kernels/cache.hpp) is a hint: it must change no value and touch no
// memory outside its range, and optimizers that evict (several threads, AMD CPUs) must stay
// bit-identical to one thread. Built with the other kernel tests at -march=native, where
// CLFLUSHOPT is compiled in.

#include <latent/kernels/cache.hpp>
#include <latent/latent.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

using latent::Index;

TEST_CASE("evicting a range changes no value and touches nothing past its end", "[kernels]") {
  const auto page = std::size_t(sysconf(_SC_PAGESIZE));
  // Two pages, the second one inaccessible: flushing any line of it would fault.
  void* const mapped = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mapped != MAP_FAILED);
  REQUIRE(mprotect(static_cast<std::byte*>(mapped) + page, page, PROT_NONE) == 0);
  float* const x = static_cast<float*>(mapped);
  const std::size_t n = page / sizeof(float);
  for (std::size_t i = 0; i < n; ++i) x[i] = 0.5f * float(i) - 3.0f;
  for (const std::size_t first : {0, 1, 15, 16, 17, 100}) {
    latent::detail::evict_from_caches(x + first, sizeof(float) * (n - first));  // up to the guard page
    latent::detail::evict_from_caches(x + first, 0);
    latent::detail::evict_from_caches(x + first, 3);  // part of one float
  }
  std::size_t changed = 0;
  for (std::size_t i = 0; i < n; ++i) changed += x[i] != 0.5f * float(i) - 3.0f;
  CHECK(changed == 0);
  munmap(mapped, 2 * page);
}

namespace {
// Adam's parameters after three steps of the reference VAE's layer shapes, with the weights read
// by every thread before each step (as the products of a training step read them).
std::vector<latent::Matrix<float>> adam_steps(int threads) {
  latent::set_num_threads(threads);
  latent::Rng rng(7);
  std::vector<latent::Parameter<float>> params;
  for (const auto& [rows, cols] : std::vector<std::pair<Index, Index>>{{400, 784}, {400, 1}, {40, 400}, {784, 400}})
    params.emplace_back("p", rows, cols);
  std::vector<latent::Parameter<float>*> pointers;
  for (auto& p : params) {
    rng.fill_normal(p.value);
    pointers.push_back(&p);
  }
  latent::Adam<float> adam(pointers, {.lr = 0.01});
  for (int step = 0; step < 3; ++step) {
    std::vector<float> seen(static_cast<std::size_t>(threads));
    latent::detail::on_threads(threads, [&](int t) {
      for (const auto& p : params) seen[std::size_t(t)] += p.value.sum();
    });
    adam.zero_grad();
    for (auto& p : params) rng.fill_normal(p.grad());
    adam.step();
  }
  latent::set_num_threads(1);
  std::vector<latent::Matrix<float>> values;
  for (const auto& p : params) values.push_back(p.value);
  return values;
}
}  // namespace

TEST_CASE("Adam on 2 threads, evicting the weights where that pays, is bit-identical to 1 thread", "[kernels][optim]") {
  const auto one = adam_steps(1), two = adam_steps(2);
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("parameter " << i << ": " << (one[i].array() != two[i].array()).count() << " entries differ");
    CHECK((one[i].array() == two[i].array()).all());
  }
}
