#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "latent/train/progress.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;

namespace {

long count(const std::string& s, const std::string& what) {
  long n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("into a non-terminal stream: plain lines at each 25% and one at the end", "[train]") {
  std::ostringstream out;
  latent::Progress p(out, {.epochs = 3, .batches = 8});
  CHECK_FALSE(p.in_place());
  p.start_epoch(2);
  for (int b = 0; b < 8; ++b) p.step(b < 4 ? 2.0 : 4.0, 10);
  CHECK(p.mean_loss() == 3.0);
  p.end_epoch("test 2.5");
  const auto s = out.str();
  CHECK(count(s, "\n") == 4);  // after batches 2, 4, 6 and the end
  CHECK(count(s, "\r") == 0);
  CHECK_THAT(s, StartsWith("epoch 2/3  batch 2/8  loss 2  "));
  CHECK_THAT(s, Contains("samples/s  ETA "));
  CHECK_THAT(s, Contains("epoch 2/3  batch 8/8  loss 3  "));
  CHECK_THAT(s, EndsWith(" s  test 2.5\n"));
}

TEST_CASE("percent_step 0 prints only the end of each epoch", "[train]") {
  std::ostringstream out;
  latent::Progress p(out, {.epochs = 2, .batches = 100, .percent_step = 0});
  for (int e = 1; e <= 2; ++e) {
    p.start_epoch(e);
    for (int b = 0; b < 100; ++b) p.step(1.0, 1);
    p.end_epoch();
  }
  CHECK(count(out.str(), "\n") == 2);
  CHECK_THAT(out.str(), Contains("epoch 2/2  batch 100/100"));
}

TEST_CASE("in place: redraws with carriage returns and pads over a longer line", "[train]") {
  std::ostringstream out;
  latent::Progress p(out, {.epochs = 1, .batches = 3, .redraw = latent::Redraw::in_place, .min_interval = 0.0});
  CHECK(p.in_place());
  p.start_epoch(1);
  for (int b = 0; b < 3; ++b) p.step(12345.0, 1000);
  p.end_epoch();
  const auto s = out.str();
  CHECK(count(s, "\r") == 4);
  CHECK(count(s, "\n") == 1);
  CHECK_THAT(s, EndsWith("\n"));
  // Every redraw is at least as wide as the one before, so no stale characters remain.
  std::size_t prev = 0;
  for (std::size_t at = 0; (at = s.find('\r', at)) != std::string::npos; ++at) {
    const auto next = s.find_first_of("\r\n", at + 1);
    CHECK(next - at - 1 >= prev);
    prev = next - at - 1;
  }
}

TEST_CASE("a string stream is not a terminal", "[train]") {
  std::ostringstream out;
  CHECK_FALSE(latent::is_terminal(out));
}
