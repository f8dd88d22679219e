#pragma once
/// @file
/// A strict reader for numeric CSV: every field read must be a finite number (or, in the label
/// column, an integer), every row must have the same number of fields, and there must be data.
/// Columns are picked by position or, with a header row, by name.

#include <algorithm>
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
  char delimiter = ',';                ///< field separator, e.g. ',' ';' or a tab
  bool header = false;                 ///< the first line names the columns and is skipped
  int label_column = -1;               ///< 0-based column holding integer labels, or -1 for none
  std::string label_name = {};         ///< the label column by its header name (needs `header`)
  std::vector<std::string> columns{};  ///< the feature columns by header name, in this order (needs
                                       ///< `header`); empty: every column but the label's
};

namespace detail {

// Fields are trimmed of spaces, tabs and a line end's '\r': "1, 2" is as good as "1,2".
inline std::string_view trim(std::string_view s) noexcept {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// The field as it appears in a message: quoted, cut short if long, and with bytes that would
// not show (control characters, a stray byte-order mark) written as \xHH.
inline std::string quote_field(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string q(1, '\'');
  for (const char c : s.substr(0, 32)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) {
      q.push_back(c);
    } else {
      q.append("\\x").push_back(hex[u >> 4]);
      q.push_back(hex[u & 0xF]);
    }
  }
  return q.append(s.size() > 32 ? "...'" : "'");
}

// Splits CSV text into records of fields. A field may be quoted as in RFC 4180: "1,5" is one
// field, "" inside quotes is a quote, and a quoted field may span lines (a header name with a
// line break); spaces around the quotes are trimmed. Blank lines are skipped.
class CsvScanner {
 public:
  CsvScanner(std::string_view text, char delimiter, const std::string& where)
      : text_(text), delimiter_(delimiter), where_(where) {}

  // The next non-blank record into `fields` (trimmed, unquoted); false at the end of the text.
  bool next(std::vector<std::string>& fields) {
    while (pos_ < text_.size()) {
      const auto eol = std::min(text_.find('\n', pos_), text_.size());
      if (!trim(text_.substr(pos_, eol - pos_)).empty()) break;
      pos_ = eol + 1;
      ++line_;
    }
    if (pos_ >= text_.size()) return false;
    record_line_ = line_;
    fields.clear();
    for (;;) {
      fields.push_back(field());
      if (pos_ < text_.size() && text_[pos_] == delimiter_) {
        ++pos_;
        continue;
      }
      ++pos_;  // the '\n', or past the end
      ++line_;
      return true;
    }
  }

  // 1-based line on which the last record began.
  [[nodiscard]] std::size_t line() const noexcept { return record_line_; }

 private:
  std::string field() {
    const auto end = [&](std::size_t p) { return p >= text_.size() || text_[p] == delimiter_ || text_[p] == '\n'; };
    std::size_t p = pos_;
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
    if (p >= text_.size() || text_[p] != '"') {
      std::size_t e = p;
      while (!end(e)) ++e;
      pos_ = e;
      return std::string(trim(text_.substr(p, e - p)));
    }
    std::string out;
    for (++p;;) {
      const auto q = text_.find('"', p);
      if (q == std::string_view::npos)
        throw FormatError(where_, "line " + std::to_string(record_line_) + ": a quoted field is never closed");
      const auto chunk = text_.substr(p, q - p);
      line_ += std::size_t(std::count(chunk.begin(), chunk.end(), '\n'));
      out.append(chunk);
      p = q + 1;
      if (p < text_.size() && text_[p] == '"') {  // "" is a quote
        out.push_back('"');
        ++p;
        continue;
      }
      break;
    }
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\r')) ++p;
    if (!end(p))
      throw FormatError(where_, "line " + std::to_string(line_) + ": " + quote_field(text_.substr(p, 8)) +
                                    " after a closing quote (a field is either quoted or not)");
    pos_ = p;
    return std::string(trim(out));
  }

  std::string_view text_;
  char delimiter_;
  const std::string& where_;
  std::size_t pos_ = 0, line_ = 1, record_line_ = 1;
};

}  // namespace detail

namespace detail {

// The 0-based position of `name` among the header's fields; throws FormatError listing them.
inline int csv_column(const std::vector<std::string>& header, const std::string& name, const std::string& where) {
  for (std::size_t k = 0; k < header.size(); ++k)
    if (header[k] == name) return int(k);
  std::string names;
  for (const std::string& h : header) names += (names.empty() ? "" : ", ") + quote_field(h);
  throw FormatError(where, "line 1: no column named " + quote_field(name) + " in the header (" + names + ")");
}

}  // namespace detail

/// Parses numeric CSV text into a `features x N` dataset: one example per data line, one
/// feature per column (the label column, if any, goes to `labels`). Blank lines are skipped;
/// "\r\n" line ends, a leading UTF-8 byte-order mark (as spreadsheets write) and RFC 4180
/// quoted fields ("1.5", or a header name with the delimiter in it) are accepted. With a header,
/// `label_name` picks the label column and `columns` the feature columns by name (other columns
/// are then not read, so they may hold text). `where` names the source in messages.
/// Throws `Error` for options that contradict each other (a name without `header`, both
/// `label_column` and `label_name`); `FormatError` naming `where`, the 1-based line and column
/// for a field that is not a finite number (or not an integer in the label column), a row with a
/// different number of fields, a label column beyond the last field, a name the header lacks
/// (listing the header) or a header that makes the label column one of `columns`, an unclosed
/// quote; and for text without data lines (empty, or a header only) or without feature columns.
template <Scalar S>
[[nodiscard]] Dataset<S> parse_csv(std::string_view text, const std::string& where, const CsvOptions& opts = {}) {
  if (opts.label_column < -1)
    throw Error(where, "label_column must be -1 (none) or a 0-based column, got " + std::to_string(opts.label_column));
  if (!opts.header && (!opts.label_name.empty() || !opts.columns.empty()))
    throw Error(where, "columns are named (label_name, columns) but header is false: there are no names to find");
  if (opts.label_column >= 0 && !opts.label_name.empty())
    throw Error(where, "both label_column and label_name are given; pick one");
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<S> values;
  std::vector<int> labels;
  std::vector<std::string> record;
  std::vector<int> features;  // the columns read as features, in order
  int label = opts.label_column;
  std::size_t fields_per_row = 0;
  Index rows = 0;
  detail::CsvScanner scanner(text, opts.delimiter, where);
  for (bool first = true; scanner.next(record); first = false) {
    const std::string at = "line " + std::to_string(scanner.line());
    const std::size_t fields = record.size();
    if (first) {
      fields_per_row = fields;
      if (!opts.label_name.empty()) label = detail::csv_column(record, opts.label_name, where);
      if (label >= 0 && std::size_t(label) >= fields)
        throw FormatError(where, at + ": label column " + std::to_string(label + 1) + " but rows have " +
                                     std::to_string(fields) + " fields");
      for (const std::string& name : opts.columns) {
        features.push_back(detail::csv_column(record, name, where));
        if (features.back() == label)
          throw FormatError(where, at + ": column " + detail::quote_field(name) + " (column " +
                                       std::to_string(label + 1) + ") is both a feature and the label");
      }
      if (opts.columns.empty())
        for (int k = 0; k < int(fields); ++k)
          if (k != label) features.push_back(k);
      if (opts.header) continue;  // header fields are names: only counted
    } else if (fields != fields_per_row) {
      throw FormatError(where, at + ": " + std::to_string(fields) + " fields, expected " +
                                   std::to_string(fields_per_row) + " as on the first line");
    }
    const auto here = [&](int k) { return at + ", column " + std::to_string(k + 1) + ": "; };
    if (label >= 0) {
      const std::string_view field = record[std::size_t(label)];
      int v = 0;
      const auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
      if (ec != std::errc{} || p != field.data() + field.size())
        throw FormatError(where, here(label) + detail::quote_field(field) + " is not an integer label");
      labels.push_back(v);
    }
    for (const int k : features) {
      const std::string_view field = record[std::size_t(k)];
      S v = 0;
      const auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
      if (ec != std::errc{} || p != field.data() + field.size() || !std::isfinite(v))
        throw FormatError(where, here(k) + detail::quote_field(field) + " is not a finite number");
      values.push_back(v);
    }
    ++rows;
  }
  if (rows == 0)
    throw FormatError(where,
                      fields_per_row == 0 ? "no data: the text is empty or blank" : "a header line but no data lines");
  const Index dim = Index(features.size());
  if (dim == 0) throw FormatError(where, "no feature columns: the only column is the label column");
  Dataset<S> d;
  // Each line is one example, stored contiguously: that is column-major `dim x N`.
  d.features = Eigen::Map<const Matrix<S>>(values.data(), dim, rows);
  d.labels = std::move(labels);
  return d;
}

/// Reads a numeric CSV file as `parse_csv` does; a gzip-compressed file (`data.csv.gz`, or any
/// file that starts with the gzip magic number) is decompressed first, which needs zlib
/// (`LATENT_WITH_ZLIB`, data/gzip.hpp).
/// Throws `IoError` if the file cannot be read and `FormatError` if it is malformed.
template <Scalar S>
[[nodiscard]] Dataset<S> read_csv(const std::filesystem::path& path, const CsvOptions& opts = {}) {
  const auto bytes = read_file_content(path);
  return parse_csv<S>({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, path.string(), opts);
}

}  // namespace latent::inline v0
