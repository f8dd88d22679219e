// Data-parallel fit over MPI, from outside: tests/distributed/driver.cpp runs under
// `mpirun -np 2` and alone, and these tests compare what it trains and how it fails. Skipped
// (exit 77) when MPI or the Fashion-MNIST files are not installed.

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/skip.hpp"
#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;

namespace {

#ifdef LATENT_DISTRIBUTED_DRIVER
constexpr bool have_mpi = true;
const std::string driver = LATENT_DISTRIBUTED_DRIVER;
const std::string mpirun = LATENT_MPIRUN;
#else
constexpr bool have_mpi = false;
const std::string driver, mpirun;
#endif

struct Run {
  int exit_code = -1;  // -1: killed by the timeout
  std::string output;  // stdout and stderr
  double seconds = 0;
};

// A started job: argv run with stdout and stderr into `log`, in a process group of its own.
struct Job {
  pid_t pid = -1;
  std::filesystem::path log;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();

  Job(const std::vector<std::string>& args, std::filesystem::path log_file) : log(std::move(log_file)) {
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::setpgid(0, 0);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  // Waits at most `timeout` seconds; then kills the whole group.
  Run wait(double timeout) {
    Run r;
    int status = 0;
    for (;;) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (done == pid) {
        r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (r.seconds > timeout) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid = -1;
    std::ifstream in(log);
    r.output.assign(std::istreambuf_iterator<char>(in), {});
    return r;
  }
  ~Job() {
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
};

std::vector<std::string> on_ranks(int n, std::vector<std::string> args) {
  std::vector<std::string> all{mpirun, "--allow-run-as-root", "--oversubscribe", "-np", std::to_string(n), driver};
  all.insert(all.end(), args.begin(), args.end());
  return all;
}
std::vector<std::string> alone(std::vector<std::string> args) {
  args.insert(args.begin(), driver);
  return args;
}

// Runs to the end (at most 150 s); a run that finds no data skips the test case.
Run run(const std::vector<std::string>& args, const latent_test::TempDir& dir, const std::string& name) {
  Job job(args, dir / (name + ".log"));
  return job.wait(150);
}

std::vector<double> read_params(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<double> v;
  double x;
  while (in.read(reinterpret_cast<char*>(&x), sizeof x)) v.push_back(x);
  return v;
}
std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// max_i |a_i - b_i| / max_i |b_i|
double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / scale;
}

#define REQUIRE_MPI()                                                                                \
  do {                                                                                               \
    if (!have_mpi) LATENT_SKIP("MPI is not installed (apt-get install libopenmpi-dev openmpi-bin)"); \
  } while (false)
#define REQUIRE_RAN(r)                                                                 \
  do {                                                                                 \
    if ((r).exit_code == 77) LATENT_SKIP("the Fashion-MNIST files are not installed"); \
    INFO((r).output);                                                                  \
    REQUIRE((r).exit_code == 0);                                                       \
  } while (false)

}  // namespace

TEST_CASE("with Dropout too, 2 ranks train what 1 process does: the masks are keyed by example", "[distributed]") {
  REQUIRE_MPI();
  const latent_test::TempDir dir;
  const std::vector<std::string> common{"--scalar", "double", "--epochs", "1", "--batch", "128", "--examples", "1300"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const Run one = run(alone(with({"--comm", "local", "--dropout", "0.2", "--params", (dir / "one").string()})), dir,
                      "one");
  REQUIRE_RAN(one);
  const Run two = run(on_ranks(2, with({"--dropout", "0.2", "--params", (dir / "two").string()})), dir, "two");
  REQUIRE_RAN(two);
  const Run plain = run(alone(with({"--comm", "local", "--params", (dir / "plain").string()})), dir, "plain");
  REQUIRE_RAN(plain);
  const auto p1 = read_params(dir / "one"), p2 = read_params(dir / "two"), p0 = read_params(dir / "plain");
  REQUIRE(p1.size() == 784 * 200 + 200 + 200 * 20 + 20 + 10 * 200 + 200 + 200 * 784 + 784);
  REQUIRE(p2.size() == p1.size());
  REQUIRE(p0.size() == p1.size());
  CHECK(relative_difference(p2, p1) < 1e-12);
  CHECK(relative_difference(p0, p1) > 1e-6);  // the masks changed the training
}

TEST_CASE("2 ranks train the same parameters as 1 process at the same global batch", "[distributed]") {
  REQUIRE_MPI();
  const latent_test::TempDir dir;
  for (const std::string scalar : {"float", "double"}) {
    CAPTURE(scalar);
    const std::vector<std::string> common{"--scalar", scalar, "--epochs", "3", "--batch", "128"};
    auto with = [&](std::vector<std::string> extra) {
      std::vector<std::string> a = common;
      a.insert(a.end(), extra.begin(), extra.end());
      return a;
    };
    const Run one = run(alone(with({"--comm", "local", "--params", (dir / "one").string()})), dir, "one");
    REQUIRE_RAN(one);
    const Run two = run(on_ranks(2, with({"--params", (dir / "two").string()})), dir, "two");
    REQUIRE_RAN(two);
    const Run again = run(on_ranks(2, with({"--params", (dir / "again").string()})), dir, "again");
    REQUIRE_RAN(again);

    const auto p1 = read_params(dir / "one"), p2 = read_params(dir / "two");
    REQUIRE(p1.size() == 784 * 200 + 200 + 200 * 20 + 20 + 10 * 200 + 200 + 200 * 784 + 784);
    REQUIRE(p2.size() == p1.size());
    const double rel = relative_difference(p2, p1);
    CAPTURE(rel);
    CHECK(rel < (scalar == "float" ? 1e-5 : 1e-12));
    CHECK(rel > 0);  // the sums are cut differently: equal to rounding, not by accident
    // Two runs of the 2-rank job: the same bytes.
    CHECK(read_bytes(dir / "two") == read_bytes(dir / "again"));
    // The same losses printed, epoch by epoch (three lines of hex floats).
    CHECK(two.output.find("epoch 3 train") != std::string::npos);
  }
}

TEST_CASE("on one machine the sum runs in shared memory and adds in rank order, on 2 and 3 ranks", "[distributed]") {
  REQUIRE_MPI();
  const latent_test::TempDir dir;
  for (const int n : {2, 3}) {
    const Run r = run(on_ranks(n, {"--sums"}), dir, "sums" + std::to_string(n));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Contains("sums ok on " + std::to_string(n) + " ranks, 8 of 8 in shared memory; route now: "
                                  "shared memory of this machine (" + std::to_string(n) + " processes)"));
  }
}

TEST_CASE("with too little room in /dev/shm the ranks fall back to MPI_Allreduce together, no hang", "[distributed]") {
  REQUIRE_MPI();
  // A private /dev/shm of 1 MB (a mount namespace: needs root, as CI runs): the float buffers
  // and the small double ones fit, the 100003 doubles of both ranks (1.6 MB) do not.
  if (std::system("/usr/bin/unshare -m /bin/sh -c 'mount -t tmpfs -o size=1m tmpfs /dev/shm' 2>/dev/null") != 0)
    LATENT_SKIP("cannot mount a private /dev/shm here (needs root and unshare)");
  const latent_test::TempDir dir;
  const std::string job = "mount -t tmpfs -o size=1m tmpfs /dev/shm && " + mpirun +
                          " --allow-run-as-root --oversubscribe -np 2 " + driver + " --sums";
  const Run r = run({"/usr/bin/unshare", "-m", "/bin/sh", "-c", job}, dir, "tiny-shm");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("sums ok on 2 ranks, 7 of 8 in shared memory; route now: MPI_Allreduce (shared "
                                "memory could not be had"));
}

TEST_CASE("without a communicator fit draws its noise as before (a different run)", "[distributed]") {
  REQUIRE_MPI();
  const latent_test::TempDir dir;
  const Run keyed = run(alone({"--comm", "local", "--epochs", "1", "--params", (dir / "keyed").string()}), dir, "k");
  REQUIRE_RAN(keyed);
  const Run plain = run(alone({"--comm", "none", "--epochs", "1", "--params", (dir / "plain").string()}), dir, "p");
  REQUIRE_RAN(plain);
  CHECK(read_bytes(dir / "keyed") != read_bytes(dir / "plain"));
}

TEST_CASE("mismatched parameter shapes across ranks stop the job at the start with a clear error", "[distributed]") {
  REQUIRE_MPI();
  const latent_test::TempDir dir;
  const Run r = run(on_ranks(2, {"--mismatch", "--epochs", "1"}), dir, "mismatch");
  if (r.exit_code == 77) LATENT_SKIP("the Fashion-MNIST files are not installed");
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != -1);  // not a hang
  CHECK_THAT(r.output, Contains("the processes disagree: rank 1 of 2 has rows of parameter"));
  CHECK_THAT(r.output, Contains("= 201 but rank 0 has 200"));
  CHECK(r.output.find("epoch 1") == std::string::npos);  // no training happened
}

TEST_CASE("a rank that throws ends the job with its message and does not hang", "[distributed]") {
  REQUIRE_MPI();
  const latent_test::TempDir dir;
  const Run r = run(on_ranks(2, {"--epochs", "50", "--throw-rank", "1", "--throw-at-step", "5"}), dir, "throw");
  if (r.exit_code == 77) LATENT_SKIP("the Fashion-MNIST files are not installed");
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != -1);
  CHECK(r.seconds < 60);
  CHECK_THAT(r.output, Contains("latent::fit failed on rank 1 of 2: planted failure at step 5"));
}

TEST_CASE("killing a rank mid-training ends the job with a clear error within seconds", "[distributed]") {
  REQUIRE_MPI();
  const latent_test::TempDir dir;
  Job job(on_ranks(2, {"--epochs", "1000", "--pid-dir", dir.path().string()}), dir / "kill.log");
  const auto pid_file = dir / "rank1.pid";
  for (int i = 0; i < 3000 && !std::filesystem::exists(pid_file); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!std::filesystem::exists(pid_file)) {
    const Run r = job.wait(0);
    if (r.exit_code == 77) LATENT_SKIP("the Fashion-MNIST files are not installed");
    FAIL("rank 1 never started training: " << r.output);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // into the training steps
  pid_t victim = 0;
  std::ifstream(pid_file) >> victim;
  REQUIRE(victim > 0);
  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(::kill(victim, SIGKILL) == 0);
  const Run r = job.wait(60);
  const double after_kill = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != -1);  // mpirun ended by itself, before the timeout
  CHECK(after_kill < 10);
  CHECK_THAT(r.output, Contains("signal 9"));
}

TEST_CASE("rank 0 alone writes the checkpoint and a resume with another rank count continues the run", "[distributed]") {
  REQUIRE_MPI();
  const latent_test::TempDir dir;
  const std::vector<std::string> d{"--scalar", "double"};
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = d;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  // Uninterrupted: 3 epochs on 2 ranks.
  const Run whole = run(on_ranks(2, args({"--epochs", "3", "--params", (dir / "whole").string()})), dir, "whole");
  REQUIRE_RAN(whole);

  // Each rank is given its own checkpoint path: only rank 0's is written.
  const Run part =
      run(on_ranks(2, args({"--epochs", "1", "--checkpoint", (dir / "ck").string(), "--checkpoint-per-rank"})), dir,
          "per_rank");
  REQUIRE_RAN(part);
  CHECK(std::filesystem::exists(dir / "ck.rank0"));
  CHECK_FALSE(std::filesystem::exists(dir / "ck.rank1"));

  // 1 epoch on 2 ranks, then 1 process to epoch 2, then 2 ranks to epoch 3.
  const std::string ck = (dir / "run.ckpt").string();
  REQUIRE_RAN(run(on_ranks(2, args({"--epochs", "1", "--checkpoint", ck})), dir, "a"));
  REQUIRE_RAN(run(alone(args({"--comm", "local", "--epochs", "2", "--checkpoint", ck, "--resume"})), dir, "b"));
  const Run last =
      run(on_ranks(2, args({"--epochs", "3", "--checkpoint", ck, "--resume", "--params", (dir / "resumed").string()})),
          dir, "c");
  REQUIRE_RAN(last);
  CHECK_THAT(last.output, Contains("done completed steps 63"));  // 21 steps per epoch
  const auto p_whole = read_params(dir / "whole"), p_resumed = read_params(dir / "resumed");
  REQUIRE(p_whole.size() == p_resumed.size());
  const double rel = relative_difference(p_resumed, p_whole);
  CAPTURE(rel);
  CHECK(rel < 1e-12);
  // The epoch-3 losses agree to the digits a float reduction keeps.
  CHECK(whole.output.find("epoch 3") != std::string::npos);
}
