// Exact resume, driven from outside: tests/train/fit_driver.cpp trains a float VAE for 6 epochs
// in one go; other runs of it are killed with SIGKILL after epoch 3, stopped by SIGINT in the
// middle of an epoch, or hit twice with SIGINT, and then resumed from their checkpoint. Every
// printed loss (hex floats) and the final parameters, optimizer state and Rng position (the bytes
// of a checkpoint) must be identical to the uninterrupted run, on 1 and 2 threads.

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <latent/latent.hpp>
#include <latent/train.hpp>

#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;

namespace {

// A running driver whose stdout is read line by line.
struct Driver {
  pid_t pid = -1;
  FILE* out = nullptr;

  explicit Driver(std::vector<std::string> args) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv{const_cast<char*>(LATENT_FIT_DRIVER)};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(LATENT_FIT_DRIVER, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out = ::fdopen(fds[0], "r");
  }
  ~Driver() {
    if (out) std::fclose(out);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // The next line ("" at the end of the output).
  std::string line() {
    char buf[1024];
    if (!std::fgets(buf, sizeof buf, out)) return "";
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  // Lines until the end, or until (and including) `stop`.
  std::vector<std::string> lines_until(const std::string& stop = "") {
    std::vector<std::string> all;
    for (std::string s = line(); !s.empty(); s = line()) {
      all.push_back(s);
      if (!stop.empty() && s == stop) break;
    }
    return all;
  }
  // Waits for the process; returns its wait status.
  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
};

std::vector<std::string> epoch_lines(const std::vector<std::string>& lines) {
  std::vector<std::string> e;
  for (const auto& s : lines)
    if (s.rfind("epoch=", 0) == 0) e.push_back(s);
  return e;
}

std::vector<char> bytes_of(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Run {
  std::vector<std::string> epochs;  // every epoch= line
  std::vector<char> final_state;    // bytes of final.ckpt
};

Run full_run(const latent_test::TempDir& dir, const std::string& threads) {
  Driver d({"--out", dir.path().string(), "--epochs", "6", "--threads", threads});
  const auto lines = d.lines_until();
  REQUIRE(WIFEXITED(d.wait()));
  REQUIRE(epoch_lines(lines).size() == 6);
  return {epoch_lines(lines), bytes_of(dir / "final.ckpt")};
}

// Runs the driver with --resume to the end; returns its epoch lines.
std::vector<std::string> resume(const latent_test::TempDir& dir, const std::string& threads) {
  Driver d({"--out", dir.path().string(), "--epochs", "6", "--threads", threads, "--resume"});
  const auto lines = d.lines_until();
  const int status = d.wait();
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(lines.back() == "stop=completed steps=78");
  return epoch_lines(lines);
}

}  // namespace

TEST_CASE("SIGKILL after epoch 3, resume: every loss and the final state bit-identical", "[train][resume]") {
  for (const std::string threads : {"1", "2"}) {
    INFO("threads " << threads);
    latent_test::TempDir a, b;
    const Run whole = full_run(a, threads);

    std::vector<std::string> printed;
    {
      Driver d({"--out", b.path().string(), "--epochs", "6", "--threads", threads, "--pause-after-epoch", "3"});
      const auto lines = d.lines_until("paused");
      REQUIRE(lines.back() == "paused");
      printed = epoch_lines(lines);
      REQUIRE(::kill(d.pid, SIGKILL) == 0);
      const int status = d.wait();
      REQUIRE(WIFSIGNALED(status));
      CHECK(WTERMSIG(status) == SIGKILL);
    }
    REQUIRE(printed.size() == 3);
    CHECK_FALSE(std::filesystem::exists(b / "final.ckpt"));
    for (const auto& s : resume(b, threads)) printed.push_back(s);
    CHECK(printed == whole.epochs);
    CHECK(bytes_of(b / "final.ckpt") == whole.final_state);
  }
}

TEST_CASE("SIGINT in the middle of an epoch: the step ends, a checkpoint is written, resume is exact",
          "[train][resume]") {
  for (const std::string threads : {"1", "2"}) {
    INFO("threads " << threads);
    latent_test::TempDir a, b;
    const Run whole = full_run(a, threads);

    // Step 45 is the 6th batch of epoch 4 (13 batches per epoch).
    std::vector<std::string> printed;
    {
      Driver d({"--out", b.path().string(), "--epochs", "6", "--threads", threads, "--wait-at-step", "45"});
      auto lines = d.lines_until("paused");
      REQUIRE(lines.back() == "paused");
      REQUIRE(::kill(d.pid, SIGINT) == 0);
      for (const auto& s : d.lines_until()) lines.push_back(s);
      const int status = d.wait();
      REQUIRE(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
      CHECK(lines.back() == "stop=interrupted steps=45");
      printed = epoch_lines(lines);
    }
    REQUIRE(printed.size() == 3);
    for (const auto& s : resume(b, threads)) printed.push_back(s);
    CHECK(printed == whole.epochs);
    CHECK(bytes_of(b / "final.ckpt") == whole.final_state);
  }
}

TEST_CASE("a second SIGINT ends the run at once and the last checkpoint still resumes exactly", "[train][resume]") {
  latent_test::TempDir a, b;
  const Run whole = full_run(a, "1");
  std::vector<std::string> printed;
  {
    // The driver hangs after step 30 (epoch 3), ignoring the first signal's request.
    Driver d({"--out", b.path().string(), "--epochs", "6", "--hang-at-step", "30"});
    const auto lines = d.lines_until("paused");
    REQUIRE(lines.back() == "paused");
    printed = epoch_lines(lines);
    REQUIRE(::kill(d.pid, SIGINT) == 0);
    ::usleep(20000);
    REQUIRE(::kill(d.pid, SIGINT) == 0);
    const int status = d.wait();
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 128 + SIGINT);
  }
  REQUIRE(printed.size() == 2);
  for (const auto& s : resume(b, "1")) printed.push_back(s);
  CHECK(printed == whole.epochs);
  CHECK(bytes_of(b / "final.ckpt") == whole.final_state);
}

TEST_CASE("a NaN in the weights stops fit with the term named, and the last checkpoint resumes", "[train][resume]") {
  latent_test::TempDir b;
  Driver d({"--out", b.path().string(), "--epochs", "6", "--nan-at-step", "33"});
  const auto lines = d.lines_until();
  const int status = d.wait();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  REQUIRE(!lines.empty());
  CHECK_THAT(lines.back(), Contains("reconstruction term became NaN") && Contains("epoch 3, batch 7, step 33") &&
                               Contains("the last checkpoint is intact") && Contains("(epoch 2)"));
  // The checkpoint of epoch 2 is whole: loading it gives a model with finite weights.
  latent::Rng rng(0);
  auto vae = latent::Vae<float>::mlp({.input = 12, .hidden = {32}, .latent = 3}, rng);
  latent::Adam<float> adam(vae.parameters());
  const latent::FitPosition p = latent::load_fit_checkpoint(b / "run.ckpt", vae, adam, rng);
  CHECK(p.epochs_done == 2);
  CHECK(p.steps == 26);
  for (auto* param : vae.parameters()) CHECK(param->value.allFinite());
}
