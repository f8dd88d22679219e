// Replays saved fuzzer inputs through a fuzz target without libFuzzer: links with one
// fuzz_<name>.cpp and calls its LLVMFuzzerTestOneInput on every file named on the command line,
// as libFuzzer would. An exception the target does not expect escapes and fails the run, and the
// sanitizer presets catch what they catch; ctest runs it on every file in tests/fuzz/regressions.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char* argv[]) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot open\n", argv[i]);
      return 2;
    }
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // A copy of exactly `size` bytes on the heap, so a read past either end is a sanitizer report.
    const std::vector<std::uint8_t> exact(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(exact.data(), exact.size());
    std::printf("%s: %zu bytes replayed\n", argv[i], exact.size());
  }
  return 0;
}
