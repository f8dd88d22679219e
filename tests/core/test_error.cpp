#include <latent/core/error.hpp>

#include <catch2/catch.hpp>

TEST_CASE("errors say where and what, and are all latent::Error", "[core][error]") {
  try {
    throw latent::ShapeError("linear", "W is 400x784 but x is 700x128");
  } catch (const latent::Error& e) {
    CHECK(std::string(e.what()) == "linear: W is 400x784 but x is 700x128");
    CHECK(e.where() == "linear");
  }
  CHECK_THROWS_AS(throw latent::FormatError("f.idx", "bad magic"), latent::Error);
  CHECK_THROWS_AS(throw latent::NumericError("exp", "inf"), std::runtime_error);
  CHECK_THROWS_AS(throw latent::IoError("out.png", "cannot open"), latent::Error);
  CHECK(latent::detail::shape_str(3, 4) == "3x4");
}

#include <latent/core/threads.hpp>

TEST_CASE("a thread count below 1 is refused, not clamped in silence", "[core][error]") {
  CHECK_THROWS_AS(latent::set_num_threads(0), latent::Error);
  CHECK_THROWS_WITH(latent::set_num_threads(-2),
                    Catch::Matchers::Contains("set_num_threads: the thread count must be at least 1, got -2"));
  CHECK(latent::num_threads() == 1);
}
