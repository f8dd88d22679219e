#include <catch2/catch.hpp>

#include <fstream>

#include "latent/io/output_dir.hpp"
#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;

TEST_CASE("prepare_output_directory creates the folder and refuses one it cannot write", "[io]") {
  latent_test::TempDir dir;
  const auto made = dir / "a/b/c";
  latent::prepare_output_directory(made);
  CHECK(std::filesystem::is_directory(made));
  CHECK(std::filesystem::is_empty(made));  // the probe is gone
  CHECK_THROWS_AS(latent::prepare_output_directory("/proc/forbidden"), latent::IoError);
  CHECK_THROWS_WITH(latent::prepare_output_directory("/proc/forbidden"), Contains("/proc/forbidden: cannot"));
  std::ofstream(dir / "file") << "x";
  CHECK_THROWS_WITH(latent::prepare_output_directory(dir / "file"),
                    Contains("not a folder") || Contains("cannot create"));
  if (::geteuid() != 0) {  // root writes anywhere
    std::filesystem::permissions(made, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    CHECK_THROWS_WITH(latent::prepare_output_directory(made), Contains("cannot write into the folder"));
  }
}
