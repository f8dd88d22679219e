#pragma once
/// @file
/// NumPy's .npy format (numpy.lib.format): the magic "\x93NUMPY", a version byte pair (1.0: a
/// 2-byte little-endian header length; 2.0 and 3.0: 4 bytes), then a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }` padded with spaces and a
/// newline, then the elements: C order (last index fastest) or Fortran order (first fastest).
/// Element types: `<f4`, `<f8`, `|u1` for data; `<i8`, `<i4` (and `|u1`) for labels.
///
/// Opt-in (not in latent/latent.hpp); needs no external library. Every size in a header is checked
/// against the bytes that follow before anything is allocated: a 10 GB shape in a 1 KB file is a
/// `FormatError`, not an allocation.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/read_bytes.hpp"
#include "latent/io/atomic_write.hpp"

namespace latent::inline v0 {

/// The element types of .npy files latent reads (NumPy's `descr`).
enum class NpyDtype {
  f4,  ///< `<f4`, little-endian float
  f8,  ///< `<f8`, little-endian double
  u1,  ///< `|u1`, unsigned byte
  i4,  ///< `<i4`, little-endian int32 (labels)
  i8,  ///< `<i8`, little-endian int64 (labels; NumPy's default integer)
};

/// A validated .npy header.
struct NpyHeader {
  NpyDtype dtype = NpyDtype::f4;  ///< element type
  bool fortran_order = false;     ///< elements in Fortran order (first index fastest), else C order
  std::vector<Index> shape;       ///< NumPy's shape; {} for a scalar
  std::size_t data_offset = 0;    ///< bytes from the start of the file to the first element
  std::size_t count = 1;          ///< product(shape), checked against the bytes present
};

/// An array read from a .npy file: NumPy's shape and the values in C order (row-major, the last
/// index fastest), whichever order the file stored them in.
template <DatasetElement T>
struct NpyArray {
  std::vector<Index> shape;  ///< e.g. {10000, 20}
  std::vector<T> values;     ///< product(shape) values in C order

  /// The rows x cols matrix a 2-D array is, or the n x 1 column of a 1-D array.
  /// Throws `ShapeError` for another rank.
  [[nodiscard]] Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> matrix() const {
    using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    if (shape.size() == 1) return Eigen::Map<const M>(values.data(), shape[0], 1);
    if (shape.size() != 2)
      throw ShapeError("NpyArray::matrix",
                       "an array of " + std::to_string(shape.size()) + " dimensions is not a matrix");
    return Eigen::Map<const M>(values.data(), shape[1], shape[0]).transpose();
  }
};

namespace detail {

inline std::size_t npy_item_size(NpyDtype d) noexcept {
  switch (d) {
    case NpyDtype::f4:
    case NpyDtype::i4:
      return 4;
    case NpyDtype::f8:
    case NpyDtype::i8:
      return 8;
    case NpyDtype::u1:
      return 1;
  }
  return 1;
}

inline const char* npy_descr(NpyDtype d) noexcept {
  switch (d) {
    case NpyDtype::f4:
      return "<f4";
    case NpyDtype::f8:
      return "<f8";
    case NpyDtype::u1:
      return "|u1";
    case NpyDtype::i4:
      return "<i4";
    case NpyDtype::i8:
      return "<i8";
  }
  return "?";
}

template <class T>
constexpr NpyDtype npy_dtype_of() noexcept {
  if constexpr (std::is_same_v<T, float>) return NpyDtype::f4;
  if constexpr (std::is_same_v<T, double>) return NpyDtype::f8;
  if constexpr (std::is_same_v<T, std::uint8_t>) return NpyDtype::u1;
  if constexpr (std::is_same_v<T, std::int32_t>) return NpyDtype::i4;
  return NpyDtype::i8;
}

// The header dict: a Python literal of string keys and values that are strings, True/False or
// tuples of integers, which is all numpy.lib.format writes (a structured dtype's list is refused).
class NpyDictParser {
 public:
  NpyDictParser(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  NpyHeader parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = string();
      expect(':');
      if (key == "descr") {
        if (!peek('\'') && !peek('"')) fail("'descr' is not a string (structured dtypes are not supported)");
        h.dtype = dtype(string());
        seen_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        seen_shape = true;
      } else {
        fail("unexpected key '" + key + "' (a .npy header has descr, fortran_order and shape)");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) fail("text after the closing '}'");
    if (!seen_descr || !seen_order || !seen_shape) fail("the header lacks descr, fortran_order or shape");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(where_, "bad .npy header at character " + std::to_string(pos_) + ": " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a quoted string");
    const char quote = text_[pos_++];
    const auto end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("a string is never closed");
    std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {std::string_view("False"), false}})
      if (text_.substr(pos_).starts_with(word)) {
        pos_ += word.size();
        return value;
      }
    fail("'fortran_order' is not True or False");
  }
  std::vector<Index> tuple() {
    expect('(');
    std::vector<Index> dims;
    while (!peek(')')) {
      if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9')
        fail("a shape entry is not a non-negative integer");
      std::uint64_t v = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        v = v * 10 + std::uint64_t(text_[pos_++] - '0');
        if (v > (std::uint64_t(1) << 62)) fail("a shape entry is too large");
      }
      dims.push_back(Index(v));
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }
  NpyDtype dtype(const std::string& d) const {
    for (const NpyDtype t : {NpyDtype::f4, NpyDtype::f8, NpyDtype::u1, NpyDtype::i4, NpyDtype::i8})
      if (d == npy_descr(t)) return t;
    if (d == "<u1") return NpyDtype::u1;
    throw FormatError(where_, "dtype '" + d + "' is not supported (<f4, <f8, |u1, <i4, <i8 are read)");
  }

  std::string_view text_;
  const std::string& where_;
  std::size_t pos_ = 0;
};

inline std::uint64_t npy_read_le(const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t k = 0; k < n; ++k) v |= std::uint64_t(p[k]) << (8 * k);
  return v;
}

// Element i of the data as T (the caller checked that the conversion is allowed).
template <class T>
T npy_element(const std::uint8_t* data, std::size_t i, NpyDtype d) noexcept {
  const std::uint8_t* p = data + i * npy_item_size(d);
  switch (d) {
    case NpyDtype::f4:
      return T(std::bit_cast<float>(std::uint32_t(npy_read_le(p, 4))));
    case NpyDtype::f8:
      return T(std::bit_cast<double>(npy_read_le(p, 8)));
    case NpyDtype::u1:
      return T(*p);
    case NpyDtype::i4:
      return T(std::int32_t(std::uint32_t(npy_read_le(p, 4))));
    case NpyDtype::i8:
      return T(std::int64_t(npy_read_le(p, 8)));
  }
  return T(0);
}

// The position in C order of each element stored in Fortran order, one element at a time:
// `dst` walks the C-order offsets as the Fortran multi-index counts up (first index fastest).
template <class F>
void for_each_fortran_element(const std::vector<Index>& shape, std::size_t count, F&& f) {
  std::vector<Index> index(shape.size(), 0), stride(shape.size(), 1);
  for (std::size_t k = shape.size(); k-- > 1;) stride[k - 1] = stride[k] * shape[k];
  Index dst = 0;
  for (std::size_t src = 0; src < count; ++src) {
    f(src, std::size_t(dst));
    for (std::size_t k = 0; k < shape.size(); ++k) {
      dst += stride[k];
      if (++index[k] < shape[k]) break;
      dst -= stride[k] * shape[k];
      index[k] = 0;
    }
  }
}

}  // namespace detail

/// Reads and validates a .npy header held in memory. `where` names the source in messages.
/// Throws `FormatError` naming `where` and what is wrong: a bad magic string, a version other
/// than 1.0, 2.0 or 3.0, a header longer than the file, a dict that is not what numpy writes, an
/// unsupported dtype (named), or a shape whose data are not exactly the bytes that follow
/// (truncated or trailing data; checked by division, so a hostile shape cannot overflow).
[[nodiscard]] inline NpyHeader parse_npy_header(std::span<const std::uint8_t> bytes, const std::string& where) {
  static constexpr std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || !std::equal(magic, magic + 6, bytes.begin()))
    throw FormatError(where, bytes.size() < 10 && std::equal(bytes.begin(), bytes.end(), magic,
                                                             magic + std::min<std::size_t>(6, bytes.size()))
                                 ? "truncated: " + std::to_string(bytes.size()) + " bytes, shorter than a .npy preamble"
                                 : std::string("bad magic string: not a .npy file"));
  const int major = bytes[6];
  if (major < 1 || major > 3 || bytes[7] != 0)
    throw FormatError(where, "unsupported .npy version " + std::to_string(major) + "." + std::to_string(bytes[7]) +
                                 " (1.0, 2.0 and 3.0 are read)");
  const std::size_t len_size = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_size) throw FormatError(where, "truncated in the header length");
  const std::uint64_t len = detail::npy_read_le(bytes.data() + 8, len_size);
  const std::size_t start = 8 + len_size;
  if (len > bytes.size() - start)
    throw FormatError(where, "the header length says " + std::to_string(len) + " bytes but only " +
                                 std::to_string(bytes.size() - start) + " follow");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + start), std::size_t(len));
  NpyHeader h = detail::NpyDictParser(text, where).parse();
  h.data_offset = start + std::size_t(len);
  const std::size_t item = detail::npy_item_size(h.dtype);
  const std::uint64_t available = bytes.size() - h.data_offset;
  const std::uint64_t room = available / item;
  bool too_big = false;
  std::uint64_t count = 1;
  std::string promised;
  for (const Index d : h.shape) {
    promised += (promised.empty() ? "" : ", ") + std::to_string(d);
    too_big = too_big || (d != 0 && count > room / std::uint64_t(d));
    count = too_big ? count : count * std::uint64_t(d);
  }
  if (too_big || count * item != available)
    throw FormatError(where, std::string(too_big || count * item > available ? "truncated data" : "trailing data") +
                                 ": shape (" + promised + ") of " + detail::npy_descr(h.dtype) + " needs " +
                                 (too_big ? "more than " + std::to_string(available) : std::to_string(count * item)) +
                                 " bytes but " + std::to_string(available) + " follow");
  h.count = std::size_t(count);
  return h;
}

/// Parses a .npy file held in memory into values of type T in C order. `float` and `double`
/// take any dtype (converted with `static_cast`); `std::uint8_t` takes only `|u1` (anything else
/// would be cut). Throws `FormatError` as `parse_npy_header`, and for a dtype T cannot hold.
template <DatasetElement T>
[[nodiscard]] NpyArray<T> parse_npy(std::span<const std::uint8_t> bytes, const std::string& where) {
  const NpyHeader h = parse_npy_header(bytes, where);
  if (std::is_same_v<T, std::uint8_t> && h.dtype != NpyDtype::u1)
    throw FormatError(where, std::string("holds ") + detail::npy_descr(h.dtype) +
                                 " values, which uint8 cannot hold: read it as float or double");
  NpyArray<T> a;
  a.shape = h.shape;
  a.values.resize(h.count);
  const std::uint8_t* data = bytes.data() + h.data_offset;
  if (!h.fortran_order || h.shape.size() < 2) {
    for (std::size_t i = 0; i < h.count; ++i) a.values[i] = detail::npy_element<T>(data, i, h.dtype);
  } else {
    detail::for_each_fortran_element(h.shape, h.count, [&](std::size_t src, std::size_t dst) {
      a.values[dst] = detail::npy_element<T>(data, src, h.dtype);
    });
  }
  return a;
}

/// Reads the .npy file at `path` (gunzipped first if it is gzip) as `parse_npy` does.
/// Throws `IoError` if it cannot be read and `FormatError` (naming the path) if it is malformed.
template <DatasetElement T>
[[nodiscard]] NpyArray<T> read_npy(const std::filesystem::path& path) {
  return parse_npy<T>(read_file_content(path), path.string());
}

/// A dataset from an array of examples along its first axis, as NumPy and scikit-learn keep
/// them: shape (N, d1, d2, ...) becomes `d1*d2*... x N`, each example flattened in C order (an
/// (N, 28, 28) image array gives pixel (r, c) at row r * 28 + c, as IDX does); shape (N) becomes
/// 1 x N. `labels_path`, if given, is a 1-D integer array (`<i8`, `<i4` or `|u1`) of N labels.
/// Throws `IoError` / `FormatError` as `read_npy`, and `FormatError` for a scalar array, labels
/// that are not 1-D integers in int's range, or a label count that differs from N.
template <DatasetElement T>
[[nodiscard]] Dataset<T> read_npy_dataset(const std::filesystem::path& path,
                                          const std::filesystem::path& labels_path = {}) {
  NpyArray<T> a = read_npy<T>(path);
  if (a.shape.empty()) throw FormatError(path.string(), "a scalar is not a dataset (expected shape (N, ...))");
  Index dim = 1;
  for (std::size_t k = 1; k < a.shape.size(); ++k) dim *= a.shape[k];
  Dataset<T> d;
  // Examples in C order, one after the other: the column-major dim x N matrix as it is.
  d.features = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>>(a.values.data(), dim, a.shape[0]);
  if (labels_path.empty()) return d;
  const std::string where = labels_path.string();
  const auto bytes = read_file_content(labels_path);
  const NpyHeader h = parse_npy_header(bytes, where);
  if (h.shape.size() != 1 || h.dtype == NpyDtype::f4 || h.dtype == NpyDtype::f8)
    throw FormatError(where, "labels must be a 1-D integer array (<i8, <i4 or |u1)");
  if (Index(h.count) != d.size())
    throw FormatError(where, "holds " + std::to_string(h.count) + " labels but " + path.string() + " holds " +
                                 std::to_string(d.size()) + " examples");
  d.labels.resize(h.count);
  for (std::size_t i = 0; i < h.count; ++i) {
    const auto v = detail::npy_element<std::int64_t>(bytes.data() + h.data_offset, i, h.dtype);
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
      throw FormatError(where, "label " + std::to_string(v) + " at " + std::to_string(i) + " does not fit an int");
    d.labels[i] = int(v);
  }
  return d;
}

/// The bytes of a .npy file (version 1.0, or 2.0 when the header needs more than 65535 bytes)
/// holding `values` of `shape` in C order, or in Fortran order when `fortran_order`. The header
/// is padded so the data start at a multiple of 64 bytes, as NumPy writes it. Throws `Error`
/// unless `values` holds product(shape) elements.
template <class T>
[[nodiscard]] std::vector<std::uint8_t> npy_bytes(const std::vector<Index>& shape, std::span<const T> values,
                                                  bool fortran_order = false) {
  Index count = 1;
  std::string dims;
  for (const Index d : shape) {
    if (d < 0) throw Error("npy", "negative dimension " + std::to_string(d));
    count *= d;
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  }
  if (shape.size() == 1) dims += ",";  // Python's one-element tuple
  if (std::size_t(count) != values.size())
    throw Error("npy", std::to_string(values.size()) + " values for shape (" + dims + ")");
  std::string dict = std::string("{'descr': '") + detail::npy_descr(detail::npy_dtype_of<T>()) +
                     "', 'fortran_order': " + (fortran_order ? "True" : "False") + ", 'shape': (" + dims + "), }";
  const std::size_t len_size = dict.size() + 1 + 10 + 63 < 65536 ? 2 : 4;
  const std::size_t preamble = 8 + len_size;
  dict.append((64 - (preamble + dict.size() + 1) % 64) % 64, ' ').push_back('\n');
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', std::uint8_t(len_size == 2 ? 1 : 2), 0};
  out.reserve(preamble + dict.size() + sizeof(T) * values.size());
  for (std::size_t k = 0; k < len_size; ++k) out.push_back(std::uint8_t(dict.size() >> (8 * k)));
  out.insert(out.end(), dict.begin(), dict.end());
  using Bits = std::conditional_t<sizeof(T) == 1, std::uint8_t,
                                  std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;
  for (const T v : values)
    for (std::size_t k = 0; k < sizeof(T); ++k)
      out.push_back(std::uint8_t(std::uint64_t(std::bit_cast<Bits>(v)) >> (8 * k)));
  return out;
}

/// Writes `a` to `path` as a .npy file in C order, atomically (io/atomic_write.hpp).
/// Throws `Error` as `npy_bytes`, `IoError` if the write fails.
template <DatasetElement T>
void write_npy(const std::filesystem::path& path, const NpyArray<T>& a) {
  write_file_atomic(path, npy_bytes<T>(a.shape, a.values));
}

/// Writes the matrix `m` to `path` as a 2-D .npy array of shape (rows, cols), atomically: NumPy
/// reads back `m` itself (`np.load(path)[i, j] == m(i, j)`). The file is in Fortran order, which
/// is Eigen's column-major memory as it is. Throws `IoError` if the write fails.
template <class T>
void write_npy(const std::filesystem::path& path, const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& m) {
  write_file_atomic(path,
                    npy_bytes<T>({m.rows(), m.cols()}, std::span<const T>(m.data(), std::size_t(m.size())), true));
}

/// Writes `features x N` examples (one per column, latent's layout) to `path` as the (N, features)
/// array NumPy and scikit-learn expect (one example per row), atomically; `read_npy_dataset`
/// reads it back. E.g. a test set's posterior means, `vae.encode(x).first`, as latents.npy.
/// Throws `IoError` if the write fails.
template <class T>
void write_npy_examples(const std::filesystem::path& path,
                        const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& features) {
  // The column-major features x N matrix is, byte for byte, the C-order (N, features) array.
  write_file_atomic(path, npy_bytes<T>({features.cols(), features.rows()},
                                       std::span<const T>(features.data(), std::size_t(features.size()))));
}

}  // namespace latent::inline v0
