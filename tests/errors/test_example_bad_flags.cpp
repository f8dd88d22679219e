// Issue 24's acceptance table, second half: careless flags to the example programs. Each run
// must exit with status 1 and a one-line "program: message" on stderr that names the flag or
// value; never a signal, never exit 0. Flags are checked before any work: those runs print
// nothing else. The paths of the programs come from CMake (LATENT_EXAMPLE_*).

#include <latent/data/fashion_mnist.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "support/skip.hpp"
#include "support/temp_dir.hpp"

#if defined(LATENT_EXAMPLE_VAE) && defined(LATENT_EXAMPLE_AUTOENCODER) && defined(LATENT_EXAMPLE_DIVERGENCES)

namespace {

struct BadFlags {
  const char* program;   // path of the example
  std::string flags;     // what the careless user typed
  std::string expected;  // a fragment of the one-line message
  bool trains = false;   // gets as far as the data (and needs Fashion-MNIST)
};

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) out.push_back(line);
  return out;
}

bool have_fashion_mnist() {
  return std::filesystem::exists(latent::fashion_mnist_default_dir / "train-labels-idx1-ubyte.gz") ||
         std::filesystem::exists(latent::fashion_mnist_default_dir / "train-labels-idx1-ubyte");
}

// Every careless command line, with `out` as the output folder of those that get to train.
std::vector<BadFlags> bad_flags(const std::string& out) {
  const char* vae = LATENT_EXAMPLE_VAE;
  const char* ae = LATENT_EXAMPLE_AUTOENCODER;
  const char* div = LATENT_EXAMPLE_DIVERGENCES;
  return {
      {vae, "--epochs -1", "--epochs must be at least 1, got -1"},
      {vae, "--epochs 0", "--epochs must be at least 1, got 0"},
      {vae, "--epochs ten", "--epochs expects a whole number, got 'ten'"},
      {vae, "--epochs 1.5", "--epochs expects a whole number, got '1.5'"},
      {vae, "--epochs 99999999999", "--epochs expects a whole number"},
      {vae, "--batch 0", "--batch must be at least 1, got 0"},
      {vae, "--batch -128", "--batch must be at least 1, got -128"},
      {vae, "--hidden -5", "--hidden widths must be at least 1, got -5"},
      {vae, "--hidden 400,0", "--hidden widths must be at least 1, got 0"},
      {vae, "--hidden ,400", "--hidden expects a whole number, got ''"},
      {vae, "--hidden 4x4", "--hidden expects a whole number, got '4x4'"},
      {vae, "--latent 0", "--latent must be at least 1, got 0"},
      {vae, "--latent -2", "--latent must be at least 1, got -2"},
      {vae, "--lr 0", "--lr must be positive, got 0"},
      {vae, "--lr -0.001", "--lr must be positive"},
      {vae, "--lr inf", "--lr expects a finite number, got 'inf'"},
      {vae, "--lr nan", "--lr expects a finite number, got 'nan'"},
      {vae, "--lr 1e999", "--lr expects a finite number"},
      {vae, "--beta -1", "--beta must be at least 0, got -1"},
      {vae, "--samples 0", "--samples must be at least 1, got 0"},
      {vae, "--warmup -2", "--warmup must be at least 0"},
      {vae, "--free-bits -0.5", "--free-bits must be at least 0"},
      {vae, "--threads 0", "--threads must be at least 1 and at most 1024, got 0"},
      {vae, "--threads -1", "--threads must be at least 1"},
      {vae, "--threads 100000", "at most 1024, got 100000"},
      {vae, "--eval-k 0", "--eval-k must be at least 1, got 0"},
      {vae, "--eval-images 0", "--eval-images must be at least 1, got 0"},
      {vae, "--eval-images -1", "--eval-images must be at least 1, got -1"},
      {vae, "--seed -1", "--seed expects a non-negative whole number, got '-1'"},
      {vae, "--likelihood pink", "unknown likelihood 'pink'"},
      {vae, "--cvae maybe", "--cvae expects true or false, got 'maybe'"},
      {vae, "--bogus 3", "unknown flag --bogus"},
      {vae, "epochs=3", "unexpected argument 'epochs=3'"},
      {vae, "--out /proc/forbidden", "/proc/forbidden: cannot create the folder"},
      {vae, "--data /nonexistent/fmnist" + out, "/nonexistent/fmnist"},
      {vae, "--lr 1e3 --threads 1" + out, "lower the learning rate, now 1000", true},
      {vae, "--lr 1e8 --threads 1" + out, "lower the learning rate", true},
      {vae, "--likelihood gaussian --lr 1e4 --threads 1" + out, "lower the learning rate", true},
      {ae, "--variant pink" + out, "--variant must be undercomplete, regularized, sparse, denoising or contractive"},
      {ae, "--epochs -1", "--epochs must be at least 1, got -1"},
      {ae, "--batch 0", "--batch must be at least 1"},
      {ae, "--threads 0", "--threads must be at least 1"},
      {ae, "--latent 0", "--latent must be at least 1"},
      {ae, "--latent 900", "at most 784, got 900"},
      {ae, "--hidden -3", "--hidden widths must be at least 1, got -3"},
      {ae, "--lr 0", "--lr must be positive"},
      {ae, "--lambda -1", "--lambda must be at least 0"},
      {ae, "--noise-type pink", "unknown noise 'pink'"},
      {ae, "--noise-type masking --noise 2", "masking noise needs p in [0, 1], got 2"},
      {ae, "--noise -0.3", "gaussian noise needs sigma >= 0"},
      {ae, "--likelihood pink", "unknown likelihood 'pink'"},
      {ae, "--variant regularized --penalty pink" + out, "unknown penalty 'pink'"},
      {ae, "--variant sparse --rho 1.5" + out, "kl_sparsity needs rho in (0, 1)"},
      {ae, "--out /proc/forbidden", "/proc/forbidden: cannot create the folder"},
      {ae, "--data /nonexistent/fmnist" + out, "/nonexistent/fmnist"},
      {ae, "--lr 1e3" + out, "lower the learning rate, now 1000", true},
      {div, "--steps 0", "--steps must be at least 1, got 0"},
      {div, "--samples -1", "--samples must be at least 1"},
      {div, "--lr 0", "--lr must be positive"},
      {div, "--seed abc", "--seed expects a non-negative whole number, got 'abc'"},
      {div, "--out /proc/forbidden/p.png", "/proc/forbidden: cannot create the folder"},
  };
}

// Runs the rows that train (need Fashion-MNIST) or those refused before any work.
void run_rows(bool training) {
  latent_test::TempDir dir;
  for (const BadFlags& row : bad_flags(" --out " + (dir / "out").string())) {
    if (row.trains != training) continue;
    const std::string command = std::string(row.program) + " " + row.flags;
    INFO("command: " << command);
    const auto out_file = dir / "stdout", err_file = dir / "stderr";
    const int status = std::system((command + " >" + out_file.string() + " 2>" + err_file.string()).c_str());
    REQUIRE(status != -1);
    CHECK_FALSE(WIFSIGNALED(status));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    const std::vector<std::string> err = lines_of(read_text(err_file));
    REQUIRE_FALSE(err.empty());
    INFO("stderr: " << read_text(err_file));
    const std::string program = std::filesystem::path(row.program).filename().string();
    CHECK(err.back().rfind(program + ": ", 0) == 0);
    CHECK(err.back().find(row.expected) != std::string::npos);
    if (!row.trains) {  // refused before any work: nothing printed but the one line
      CHECK(err.size() == 1);
      CHECK(read_text(out_file).empty());
    }
  }
}

}  // namespace

TEST_CASE("every careless flag makes an example exit 1 with one line naming it", "[errors][table][examples]") {
  run_rows(false);
}

TEST_CASE("a learning rate that makes training diverge stops the example with one line naming it",
          "[errors][table][examples]") {
  if (!have_fashion_mnist()) LATENT_SKIP("these rows train: apt-get install dataset-fashion-mnist");
  run_rows(true);
}

#endif
