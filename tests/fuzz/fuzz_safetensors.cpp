// libFuzzer target: arbitrary bytes through the safetensors reader. A FormatError is the correct
// answer to garbage; anything else, or a sanitizer report, is a bug. What it accepts must survive
// being written again: the same names, shapes and value bits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "latent/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  latent::Safetensors<float> file;
  try {
    file = latent::parse_safetensors<float>(std::span<const std::uint8_t>(data, size), "fuzz");
  } catch (const latent::FormatError&) {
    return 0;
  }
  const auto again = latent::parse_safetensors<float>(latent::safetensors_bytes(file.tensors, file.metadata), "again");
  if (again.tensors.size() != file.tensors.size() || again.metadata != file.metadata) std::abort();
  for (const auto& [name, t] : file.tensors) {
    const latent::Tensor<float>* u = again.find(name);
    if (u == nullptr || u->shape != t.shape || u->values.size() != t.values.size() ||
        (!t.values.empty() && std::memcmp(u->values.data(), t.values.data(), t.values.size() * sizeof(float)) != 0))
      std::abort();
  }
  return 0;
}
