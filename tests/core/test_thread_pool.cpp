// The worker pool behind run_on_threads: every share runs exactly once per region, whoever takes
// it; a region inside a region, or one started while another thread's runs, runs in order on
// its caller; many regions in a row (the ~30 of a training step) each see their own function.

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include <latent/core/parallel.hpp>

namespace detail = latent::detail;

TEST_CASE("run_on_threads runs every share of every region exactly once", "[core][threads]") {
  for (int shares : {1, 2, 3, 8}) {
    INFO(shares << " shares");
    for (int region = 0; region < 2000; ++region) {
      std::vector<std::atomic<int>> runs(static_cast<std::size_t>(shares));
      detail::on_threads(shares, [&](int t) { runs[std::size_t(t)].fetch_add(1); });
      int once = 0;
      for (const auto& r : runs) once += r.load() == 1;
      REQUIRE(once == shares);
    }
  }
}

TEST_CASE("a region inside a share runs in order on the thread that runs the share", "[core][threads]") {
  std::vector<std::atomic<int>> inner(4);
  detail::on_threads(2, [&](int t) {
    const auto me = std::this_thread::get_id();
    detail::on_threads(2, [&](int u) {
      CHECK(std::this_thread::get_id() == me);
      inner[std::size_t(2 * t + u)].fetch_add(1);
    });
  });
  for (const auto& i : inner) CHECK(i.load() == 1);
}

TEST_CASE("regions started from two threads at once both complete, each share once", "[core][threads]") {
  std::atomic<long> total{0};
  const auto caller = [&] {
    for (int region = 0; region < 500; ++region) detail::on_threads(3, [&](int t) { total.fetch_add(t + 1); });
  };
  std::thread other(caller);
  caller();
  other.join();
  CHECK(total.load() == 2 * 500 * (1 + 2 + 3));
}
