// libFuzzer target: arbitrary bytes through the .npy reader, as float and as uint8. A FormatError
// is the correct answer to garbage; anything else, or a sanitizer report, is a bug. What it
// accepts must survive being written again: the same shape and value bits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "latent/io/npy.hpp"

template <class T>
static void round_trip(std::span<const std::uint8_t> bytes) {
  latent::NpyArray<T> a;
  try {
    a = latent::parse_npy<T>(bytes, "fuzz");
  } catch (const latent::FormatError&) {
    return;
  }
  const auto b = latent::parse_npy<T>(latent::npy_bytes<T>(a.shape, a.values), "again");
  if (b.shape != a.shape || b.values.size() != a.values.size() ||
      (!a.values.empty() && std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(T)) != 0))
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  round_trip<float>(bytes);
  round_trip<std::uint8_t>(bytes);
  return 0;
}
