// libFuzzer target: arbitrary text through the CSV reader. The first byte picks the options
// (delimiter, header, label column by position or name, feature columns by name) so they are fuzzed too. A FormatError
// is the correct answer to garbage; anything else, or a sanitizer report, is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "latent/data/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t k = data[0];
  latent::CsvOptions opts{.delimiter = ",;\t "[k & 3], .header = (k & 4) != 0, .label_column = int(k >> 3 & 7) - 1};
  if (k & 0x40) opts.header = true, opts.label_column = -1, opts.label_name = "label";  // columns by name
  if (k & 0x80) opts.header = true, opts.columns = {"a", "b"};
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    (void)latent::parse_csv<float>(text, "fuzz", opts);
  } catch (const latent::FormatError&) {
  }
  return 0;
}
