// write_file_atomic's failure paths: when a step fails, an IoError names the file and the step,
// the temporary path.tmp.<pid> is removed and the old file is untouched. A write is made to fail
// with a file-size limit (EFBIG), a rename with a directory in the way (EISDIR).

#include <latent/io/atomic_write.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;

namespace {

std::vector<std::uint8_t> bytes_of(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

long entries_in(const std::filesystem::path& dir) {
  return long(std::distance(std::filesystem::directory_iterator(dir), {}));
}

// Files may grow to `limit` bytes while it lives; writing past it fails with EFBIG (SIGXFSZ is
// ignored meanwhile, so the process is not killed).
struct FileSizeLimit {
  rlimit old{};
  void (*old_handler)(int) = nullptr;
  explicit FileSizeLimit(rlim_t limit) {
    getrlimit(RLIMIT_FSIZE, &old);
    old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit now = old;
    now.rlim_cur = limit;
    setrlimit(RLIMIT_FSIZE, &now);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
};

}  // namespace

TEST_CASE("a failed write leaves the old file and no temporary behind", "[io]") {
  latent_test::TempDir dir;
  const auto path = dir / "state.bin";
  const std::vector<std::uint8_t> old_bytes(100, 7), new_bytes(5000, 9);
  latent::write_file_atomic(path, old_bytes);
  REQUIRE(bytes_of(path) == old_bytes);
  {
    FileSizeLimit limit(1000);
    CHECK_THROWS_AS(latent::write_file_atomic(path, new_bytes), latent::IoError);
    CHECK_THROWS_WITH(latent::write_file_atomic(path, new_bytes), Contains(path.string()) && Contains("write failed"));
  }
  CHECK(bytes_of(path) == old_bytes);
  CHECK(entries_in(dir.path()) == 1);  // no state.bin.tmp.<pid>
  // And once the limit is gone, the same write goes through.
  latent::write_file_atomic(path, new_bytes);
  CHECK(bytes_of(path) == new_bytes);
  CHECK(entries_in(dir.path()) == 1);
}

TEST_CASE("a failed rename leaves what was there and no temporary behind", "[io]") {
  latent_test::TempDir dir;
  const auto path = dir / "taken";
  std::filesystem::create_directory(path);
  std::ofstream(path / "inside") << "kept";
  CHECK_THROWS_WITH(latent::write_file_atomic(path, std::vector<std::uint8_t>(10, 1)),
                    Contains(path.string()) && Contains("rename failed"));
  CHECK(std::filesystem::is_directory(path));
  CHECK(std::filesystem::exists(path / "inside"));
  CHECK(entries_in(dir.path()) == 1);
}
