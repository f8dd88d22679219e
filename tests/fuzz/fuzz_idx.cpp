// libFuzzer target: arbitrary bytes through the IDX readers (gunzipped first when they carry the
// gzip magic). A FormatError is the correct answer to garbage; anything else, or a sanitizer
// report, is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "latent/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> raw(data, size);
  try {
    const auto bytes = latent::is_gzip(raw) ? latent::gunzip(raw, "fuzz") : std::vector(raw.begin(), raw.end());
    try {
      (void)latent::parse_idx_images(bytes, "fuzz");
    } catch (const latent::FormatError&) {
    }
    (void)latent::parse_idx_labels(bytes, "fuzz");
  } catch (const latent::FormatError&) {
  }
  return 0;
}
