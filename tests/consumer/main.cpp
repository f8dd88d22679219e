// Uses the installed latent through its umbrella header; prints "latent X.Y.Z ok" on success.
// When latent was built with nlohmann_json, `latent::latent` (and latent.pc) bring it and
// LATENT_WITH_JSON, so a safetensors round trip must compile and work here too.
#include <latent/latent.hpp>

#include <iostream>

#if defined(LATENT_WITH_JSON)
#include <latent/io/safetensors.hpp>
#endif

int main() {
  latent::Rng a(42), b(42);
  bool same = a.next_u64() == b.next_u64();
#if defined(LATENT_WITH_JSON)
  const latent::Tensor<float> t{{2}, {1.5f, -2.0f}};
  const auto back = latent::parse_safetensors<float>(latent::safetensors_bytes<float>({{"t", t}}), "memory");
  same = same && back.find("t") != nullptr && back.find("t")->values == t.values;
  std::cout << "safetensors through nlohmann_json: " << (same ? "ok" : "FAILED") << "\n";
#endif
  std::cout << "latent " << latent::version_string << (same ? " ok" : " FAILED") << "\n";
  return same ? 0 : 1;
}
