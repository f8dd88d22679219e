#pragma once
/// @file
/// A strict reader for numeric CSV: every field must be a finite number (or, in the label
/// column, an integer), every row must have the same number of fields.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/read_bytes.hpp"

namespace latent::inline v0 {

/// How to read a CSV file.
struct CsvOptions {
  char delimiter = ',';   ///< field separator, e.g. ',' ';' or a tab
  bool header = false;    ///< the first line names the columns and is skipped
  int label_column = -1;  ///< 0-based column holding integer labels, or -1 for none
};

namespace detail {

// Fields are trimmed of spaces and tabs: "1, 2" is as good as "1,2".
inline std::string_view trim(std::string_view s) noexcept {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// The field as it appears in a message: quoted, and cut short if long.
inline std::string quote_field(std::string_view s) {
  std::string q(1, '\'');
  q.append(s.substr(0, 32)).append(s.size() > 32 ? "...'" : "'");
  return q;
}

}  // namespace detail

/// Parses numeric CSV text into a `features x N` dataset: one example per data line, one
/// feature per column (the label column, if any, goes to `labels`). Blank lines are skipped;
/// "\r\n" line ends are accepted. `where` names the source in messages.
/// Throws `FormatError` naming `where`, the 1-based line and column for a field that is not a
/// finite number (or not an integer in the label column), a row with a different number of
/// fields, or a label column beyond the last field.
template <Scalar S>
[[nodiscard]] Dataset<S> parse_csv(std::string_view text, const std::string& where,
                                   const CsvOptions& opts = {}) {
  std::vector<S> values;
  std::vector<int> labels;
  std::size_t fields_per_row = 0;
  bool header_pending = opts.header;
  std::size_t line_no = 0;
  Index rows = 0;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (detail::trim(line).empty()) continue;
    const std::string at = "line " + std::to_string(line_no);
    std::size_t fields = 0;
    for (std::size_t begin = 0;; ++fields) {
      const auto end = line.find(opts.delimiter, begin);
      const auto field = detail::trim(line.substr(begin, end - begin));
      const std::string here = at + ", column " + std::to_string(fields + 1) + ": ";
      if (header_pending) {
        // Header fields are names, not numbers: only count them.
      } else if (int(fields) == opts.label_column) {
        int label = 0;
        const auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), label);
        if (ec != std::errc{} || p != field.data() + field.size())
          throw FormatError(where, here + detail::quote_field(field) + " is not an integer label");
        labels.push_back(label);
      } else {
        S v = 0;
        const auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
        if (ec != std::errc{} || p != field.data() + field.size() || !std::isfinite(v))
          throw FormatError(where, here + detail::quote_field(field) + " is not a finite number");
        values.push_back(v);
      }
      if (end == std::string_view::npos) break;
      begin = end + 1;
    }
    ++fields;
    if (fields_per_row == 0) {
      fields_per_row = fields;
      if (opts.label_column >= 0 && std::size_t(opts.label_column) >= fields)
        throw FormatError(where, at + ": label column " + std::to_string(opts.label_column + 1) +
                                     " but rows have " + std::to_string(fields) + " fields");
    } else if (fields != fields_per_row) {
      throw FormatError(where, at + ": " + std::to_string(fields) + " fields, expected " +
                                   std::to_string(fields_per_row) + " as on the first line");
    }
    rows += header_pending ? 0 : 1;
    header_pending = false;
  }
  Dataset<S> d;
  const Index dim = Index(fields_per_row) - (opts.label_column >= 0 && fields_per_row ? 1 : 0);
  // Each line is one example, stored contiguously: that is column-major `dim x N`.
  d.features = Eigen::Map<const Matrix<S>>(values.data(), dim, rows);
  d.labels = std::move(labels);
  return d;
}

/// Reads a numeric CSV file (plain or gzip-compressed) as `parse_csv` does.
/// Throws `IoError` if the file cannot be read and `FormatError` if it is malformed.
template <Scalar S>
[[nodiscard]] Dataset<S> read_csv(const std::filesystem::path& path, const CsvOptions& opts = {}) {
  const auto bytes = read_file_content(path);
  return parse_csv<S>({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, path.string(), opts);
}

}  // namespace latent::inline v0
