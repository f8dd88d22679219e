#pragma once
/// @file
/// The safetensors format (Hugging Face; most PyTorch checkpoints today): an 8-byte little-endian
/// header length N, N bytes of JSON `{name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}`
/// with an optional `"__metadata__": {string: string}`, then the tensors' bytes, row-major
/// (C order), little-endian, at their offsets relative to the end of the header.
///
/// Opt-in (not in latent/latent.hpp). The JSON header is parsed by nlohmann_json (Debian:
/// nlohmann-json3-dev), which latent's CMake package links when it was built with it
/// (`LATENT_WITH_JSON`); without it, calling these functions fails to compile with a sentence.
/// Reads F32, F64, F16 and BF16 (converted to S); writes F32 (float) or F64 (double).
/// `save_safetensors` / `load_safetensors` move a module's parameters by name, through a
/// `TensorNames` map when the file's names differ (io/torch_names.hpp: PyTorch's reference VAE).
/// Every offset and size in a file is checked against the bytes present before anything is
/// allocated, so a lying header costs an exception, never a crash or a huge allocation.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#if defined(LATENT_WITH_JSON)
#include <nlohmann/json.hpp>
#endif

#include "latent/core/error.hpp"
#include "latent/core/scalar.hpp"
#include "latent/data/read_bytes.hpp"
#include "latent/io/atomic_write.hpp"
#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// A tensor of any rank: its shape and its values in row-major (C) order, as in the file.
template <Scalar S>
struct Tensor {
  std::vector<Index> shape;  ///< e.g. {400, 784} for a torch Linear weight; {} for a scalar
  std::vector<S> values;     ///< product(shape) values, the last index varying fastest

  /// The rows x cols matrix a rank-2 tensor is, or the n x 1 column of a rank-1 tensor.
  /// Throws `ShapeError` for another rank.
  [[nodiscard]] Matrix<S> matrix() const {
    if (shape.size() == 1) return Eigen::Map<const Matrix<S>>(values.data(), shape[0], 1);
    if (shape.size() != 2)
      throw ShapeError("Tensor::matrix", "a tensor of rank " + std::to_string(shape.size()) + " is not a matrix");
    // Row-major r x c data is the column-major c x r matrix, transposed.
    return Eigen::Map<const Matrix<S>>(values.data(), shape[1], shape[0]).transpose();
  }
  /// A rank-2 tensor (rows, cols) holding `m`, or rank 1 (rows) when `as_vector`.
  template <class Derived>
  static Tensor from_matrix(const Eigen::MatrixBase<Derived>& m, bool as_vector = false) {
    Tensor t;
    t.shape = as_vector ? std::vector<Index>{m.size()} : std::vector<Index>{m.rows(), m.cols()};
    t.values.resize(std::size_t(m.size()));
    Eigen::Map<Matrix<S>>(t.values.data(), m.cols(), m.rows()) = m.transpose().template cast<S>();
    return t;
  }
};

/// The content of a safetensors file: its tensors in file order (by data offset) and its metadata.
template <Scalar S>
struct Safetensors {
  std::vector<std::pair<std::string, Tensor<S>>> tensors;  ///< name and tensor
  std::map<std::string, std::string> metadata;             ///< `__metadata__`, empty if absent

  /// The tensor called `name`, or nullptr.
  [[nodiscard]] const Tensor<S>* find(const std::string& name) const {
    for (const auto& [n, t] : tensors)
      if (n == name) return &t;
    return nullptr;
  }
};

/// Whether this translation unit can read and write safetensors (it defines `LATENT_WITH_JSON`).
inline constexpr bool has_safetensors =
#if defined(LATENT_WITH_JSON)
    true;
#else
    false;
#endif

namespace detail {

template <class S>
inline constexpr bool json_available = has_safetensors && sizeof(S) > 0;

// The safetensors reference implementation refuses headers over 100 MB; so do we.
inline constexpr std::uint64_t safetensors_max_header = std::uint64_t(100) << 20;

// IEEE 754 binary16 to float: (-1)^s 2^(e - 15) (1 + m / 1024), subnormal 2^-14 m / 1024.
inline float half_to_float(std::uint16_t h) noexcept {
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  float v = 0;
  if (exponent == 0)
    v = std::ldexp(float(mantissa), -24);
  else if (exponent == 31)
    v = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else
    v = std::ldexp(float(mantissa | 0x400), exponent - 25);
  return (h & 0x8000) ? -v : v;
}

// bfloat16 is the upper half of a float's bits.
inline float bfloat16_to_float(std::uint16_t h) noexcept { return std::bit_cast<float>(std::uint32_t(h) << 16); }

// Bytes per element of a dtype this reader converts, or 0 for one it does not.
inline std::size_t safetensors_dtype_size(const std::string& dtype) noexcept {
  if (dtype == "F64") return 8;
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

inline std::uint64_t read_le(const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t v = 0;
  for (std::size_t k = 0; k < n; ++k) v |= std::uint64_t(p[k]) << (8 * k);
  return v;
}

// Every name in `names` joined by ", ".
inline std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

template <class S>
S safetensors_value(const std::uint8_t* p, const std::string& dtype) noexcept {
  if (dtype == "F64") return S(std::bit_cast<double>(read_le(p, 8)));
  if (dtype == "F32") return S(std::bit_cast<float>(std::uint32_t(read_le(p, 4))));
  if (dtype == "F16") return S(half_to_float(std::uint16_t(read_le(p, 2))));
  return S(bfloat16_to_float(std::uint16_t(read_le(p, 2))));
}

}  // namespace detail

/// Parses a safetensors file held in memory, converting every tensor to S. `where` names the
/// source in messages. Throws `FormatError` naming `where` and what is wrong: fewer than 8 bytes,
/// a header length beyond the file or over 100 MiB, a header that is not a JSON object, an entry
/// without a string `dtype`, an array of non-negative integer `shape` or a `[begin, end]`
/// `data_offsets`, an unsupported dtype (naming it; F64, F32, F16 and BF16 are read), offsets
/// beyond the data or whose length disagrees with dtype and shape, tensors that overlap or leave
/// a hole, bytes after the last tensor, or `__metadata__` that is not an object of strings.
template <Scalar S>
[[nodiscard]] Safetensors<S> parse_safetensors(std::span<const std::uint8_t> bytes, const std::string& where) {
  static_assert(detail::json_available<S>,
                "safetensors needs nlohmann_json: apt-get install nlohmann-json3-dev, then reconfigure latent "
                "(or define LATENT_WITH_JSON and put nlohmann/json.hpp on the include path)");
#if defined(LATENT_WITH_JSON)
  using nlohmann::json;
  if (bytes.size() < 8)
    throw FormatError(where, "truncated: " + std::to_string(bytes.size()) + " bytes, the header length alone needs 8");
  const std::uint64_t n = detail::read_le(bytes.data(), 8);
  const std::uint64_t after = bytes.size() - 8;
  if (n > after)
    throw FormatError(where, "the header length says " + std::to_string(n) + " bytes but only " +
                                 std::to_string(after) + " follow (truncated, or not a safetensors file)");
  if (n > detail::safetensors_max_header)
    throw FormatError(where, "a header of " + std::to_string(n) + " bytes is over the 100 MiB limit");
  const auto text = bytes.subspan(8, std::size_t(n));
  if (text.empty() || text[0] != '{') throw FormatError(where, "the header does not start with '{': not safetensors");
  const json header = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) throw FormatError(where, "the header is not a JSON object");

  const auto data = bytes.subspan(8 + std::size_t(n));
  Safetensors<S> out;
  struct Entry {
    std::string name, dtype;
    std::vector<Index> shape;
    std::uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw FormatError(where, "__metadata__ is not an object");
      for (const auto& [key, v] : value.items()) {
        if (!v.is_string()) throw FormatError(where, "__metadata__ '" + key + "' is not a string");
        out.metadata[key] = v.template get<std::string>();
      }
      continue;
    }
    const std::string at = "tensor '" + name + "': ";
    if (!value.is_object()) throw FormatError(where, at + "its entry is not an object");
    const auto dtype = value.find("dtype");
    const auto shape = value.find("shape");
    const auto offsets = value.find("data_offsets");
    if (dtype == value.end() || !dtype->is_string()) throw FormatError(where, at + "no string 'dtype'");
    if (shape == value.end() || !shape->is_array()) throw FormatError(where, at + "no array 'shape'");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      throw FormatError(where, at + "'data_offsets' is not [begin, end] with non-negative integers");
    Entry e{name,
            dtype->template get<std::string>(),
            {},
            (*offsets)[0].template get<std::uint64_t>(),
            (*offsets)[1].template get<std::uint64_t>()};
    const std::size_t size = detail::safetensors_dtype_size(e.dtype);
    if (size == 0)
      throw FormatError(where, at + "dtype '" + e.dtype + "' is not supported (F64, F32, F16 and BF16 are read)");
    if (e.begin > e.end || e.end > data.size())
      throw FormatError(where, at + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                                   "] lie outside the " + std::to_string(data.size()) + " bytes of data");
    // The element count, compared with what the offsets hold before each multiplication, so a
    // hostile shape can neither wrap around nor reach an allocation.
    const std::uint64_t room = (e.end - e.begin) / size;
    std::uint64_t count = 1;
    bool too_big = false;
    std::string dims;
    for (const json& d : *shape) {
      if (!d.is_number_unsigned()) throw FormatError(where, at + "a shape entry is not a non-negative integer");
      const auto v = d.template get<std::uint64_t>();
      dims += (dims.empty() ? "" : ", ") + std::to_string(v);
      too_big = too_big || (v != 0 && count > room / v) || v > std::uint64_t(std::numeric_limits<Index>::max());
      count = too_big ? count : count * v;
      e.shape.push_back(Index(std::min<std::uint64_t>(v, std::uint64_t(std::numeric_limits<Index>::max()))));
    }
    if (too_big || count * size != e.end - e.begin)
      throw FormatError(where, at + "shape [" + dims + "] of " + e.dtype + " does not fit its " +
                                   std::to_string(e.end - e.begin) + " bytes at data_offsets [" +
                                   std::to_string(e.begin) + ", " + std::to_string(e.end) + "]");
    entries.push_back(std::move(e));
  }
  // The tensors must tile the data exactly, as the reference implementation requires.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t covered = 0;
  for (const Entry& e : entries) {
    if (e.begin != covered)
      throw FormatError(where, "tensor '" + e.name + "' starts at data byte " + std::to_string(e.begin) +
                                   " but the tensors before it end at " + std::to_string(covered) +
                                   (e.begin < covered ? " (they overlap)" : " (a hole)"));
    covered = e.end;
  }
  if (covered != data.size())
    throw FormatError(where, std::to_string(data.size() - covered) + " bytes after the last tensor's data");
  for (Entry& e : entries) {
    const std::size_t size = detail::safetensors_dtype_size(e.dtype);
    Tensor<S> t;
    t.shape = std::move(e.shape);
    t.values.resize(std::size_t((e.end - e.begin) / size));
    const std::uint8_t* p = data.data() + e.begin;
    for (std::size_t i = 0; i < t.values.size(); ++i) t.values[i] = detail::safetensors_value<S>(p + i * size, e.dtype);
    out.tensors.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
#else
  (void)bytes, (void)where;
  return {};
#endif
}

/// Reads the safetensors file at `path` as `parse_safetensors` does. Throws `IoError` if it
/// cannot be read and `FormatError` (naming the path) if it is malformed.
template <Scalar S>
[[nodiscard]] Safetensors<S> read_safetensors(const std::filesystem::path& path) {
  return parse_safetensors<S>(read_file_bytes(path), path.string());
}

/// The bytes of a safetensors file holding `tensors` (in this order) and `metadata`, as F32 for
/// float and F64 for double; the header is padded with spaces to a multiple of 8 bytes, as the
/// reference writer does, so the data stay aligned. Throws `Error` for a repeated or empty name,
/// the reserved name `__metadata__`, a tensor whose values do not match its shape, or text that
/// is not UTF-8.
template <Scalar S>
[[nodiscard]] std::vector<std::uint8_t> safetensors_bytes(const std::vector<std::pair<std::string, Tensor<S>>>& tensors,
                                                          const std::map<std::string, std::string>& metadata = {}) {
  static_assert(detail::json_available<S>,
                "safetensors needs nlohmann_json: apt-get install nlohmann-json3-dev, then reconfigure latent "
                "(or define LATENT_WITH_JSON and put nlohmann/json.hpp on the include path)");
#if defined(LATENT_WITH_JSON)
  using nlohmann::json;
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__" || header.contains(name))
      throw Error("safetensors", "tensor name '" + name + "' is empty, reserved or repeated");
    Index count = 1;
    for (const Index d : t.shape) count *= d;
    if (std::any_of(t.shape.begin(), t.shape.end(), [](Index d) { return d < 0; }) ||
        std::size_t(count) != t.values.size())
      throw Error("safetensors",
                  "tensor '" + name + "' has " + std::to_string(t.values.size()) + " values for its shape");
    const std::uint64_t end = offset + sizeof(S) * t.values.size();
    header[name] = {{"dtype", sizeof(S) == 4 ? "F32" : "F64"}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw Error("safetensors", std::string("a name or metadata is not UTF-8: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> out;
  out.reserve(8 + text.size() + offset);
  for (int k = 0; k < 8; ++k) out.push_back(std::uint8_t(std::uint64_t(text.size()) >> (8 * k)));
  out.insert(out.end(), text.begin(), text.end());
  using Bits = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
  for (const auto& [name, t] : tensors)
    for (const S v : t.values)
      for (std::size_t k = 0; k < sizeof(S); ++k) out.push_back(std::uint8_t(std::bit_cast<Bits>(v) >> (8 * k)));
  return out;
#else
  (void)tensors, (void)metadata;
  return {};
#endif
}

/// Writes `tensors` and `metadata` to `path` as `safetensors_bytes`, atomically
/// (io/atomic_write.hpp). Throws `Error` as `safetensors_bytes`, `IoError` if the write fails.
template <Scalar S>
void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor<S>>>& tensors,
                       const std::map<std::string, std::string>& metadata = {}) {
  write_file_atomic(path, safetensors_bytes(tensors, metadata));
}

/// One entry of a name map: the model's parameter `model` is the file's tensors `file`, stacked
/// by rows in this order. One name renames (`{"encoder.trunk.0.weight", {"fc1.weight"}}`); two or
/// more split a parameter into blocks of equal rows (latent's encoder head is one Linear of 2D
/// outputs, mu over log-variance; PyTorch's reference VAE has fc21 for mu and fc22 for it).
struct TensorName {
  std::string model;              ///< dotted parameter name, as `Module::named_parameters()` gives it
  std::vector<std::string> file;  ///< the file's tensor names, stacked by rows
};
/// A model-to-file name map; parameters it does not mention keep their own names.
using TensorNames = std::vector<TensorName>;

/// Options of `save_safetensors` and `load_safetensors`.
struct SafetensorsOptions {
  TensorNames names = {};                         ///< how parameter names become file names
  std::map<std::string, std::string> metadata{};  ///< written as `__metadata__` (save only)
};

namespace detail {

// Each parameter with the file names it maps to. Throws `Error` for a map entry that names no
// parameter of the model (a stale map would otherwise be silently ignored).
template <class S>
struct MappedParameter {
  std::string name;  // dotted, in the model
  Parameter<S>* parameter;
  std::vector<std::string> file;  // its tensors in the file, stacked by rows
};

template <class S>
std::vector<MappedParameter<S>> mapped_parameters(Module<S>& model, const TensorNames& names,
                                                  const std::string& where) {
  std::vector<MappedParameter<S>> out;
  std::vector<bool> used(names.size(), false);
  for (auto& [name, p] : model.named_parameters()) {
    std::vector<std::string> file{name};
    for (std::size_t k = 0; k < names.size(); ++k)
      if (names[k].model == name) {
        if (names[k].file.empty()) throw Error(where, "the name map gives no file name for '" + name + "'");
        file = names[k].file;
        used[k] = true;
      }
    out.push_back({name, p, std::move(file)});
  }
  std::vector<std::string> stale;
  for (std::size_t k = 0; k < names.size(); ++k)
    if (!used[k]) stale.push_back(names[k].model);
  if (!stale.empty()) throw Error(where, "the name map names parameters the model does not have: " + join_names(stale));
  return out;
}

}  // namespace detail

/// Writes `model`'s parameters to `path` as safetensors (F32 for float, F64 for double),
/// atomically, named as `options.names` maps them (otherwise by their dotted names). A parameter
/// of one column (a bias, a learned variance) is written as a rank-1 tensor, as PyTorch keeps
/// them; any other as rank 2 (rows, cols), row-major, so a latent Linear's `out x in` weight
/// arrives as PyTorch's `[out, in]`. Throws `Error` for a name map entry that names no parameter
/// or splits one into blocks that do not divide its rows, `IoError` if the write fails.
template <Scalar S>
void save_safetensors(Module<S>& model, const std::filesystem::path& path, const SafetensorsOptions& options = {}) {
  const std::string where = path.string();
  std::vector<std::pair<std::string, Tensor<S>>> tensors;
  for (const auto& [name, p, file] : detail::mapped_parameters(model, options.names, where)) {
    const Index k = Index(file.size()), rows = p->value.rows() / k;
    if (rows * k != p->value.rows())
      throw Error(where, "the name map splits '" + name + "' (" + std::to_string(p->value.rows()) + " rows) into " +
                             std::to_string(k) + " tensors, which does not divide its rows");
    for (Index b = 0; b < k; ++b)
      tensors.emplace_back(file[std::size_t(b)],
                           Tensor<S>::from_matrix(p->value.middleRows(b * rows, rows), p->value.cols() == 1));
  }
  write_safetensors(path, tensors, options.metadata);
}

/// Reads the safetensors file at `path` into `model`'s parameters, by the names `options.names`
/// maps them to (otherwise their dotted names); values of any dtype the reader knows (F64, F32,
/// F16, BF16) are converted to S. A rank-1 tensor of n values is an n x 1 parameter; a rank-2
/// tensor [r, c] an r x c one. Everything is checked before anything changes: a failed load
/// leaves the model as it was. Throws `IoError` if the file cannot be read, `FormatError` as
/// `parse_safetensors` and, naming them, for parameters the file lacks and file tensors no
/// parameter takes; `ShapeError` naming the parameter, its tensors and both shapes for a shape
/// that differs (or a tensor of rank 0 or above 2); `Error` for a stale name map entry.
template <Scalar S>
void load_safetensors(Module<S>& model, const std::filesystem::path& path, const SafetensorsOptions& options = {}) {
  const std::string where = path.string();
  const Safetensors<S> file = read_safetensors<S>(path);
  const auto params = detail::mapped_parameters(model, options.names, where);
  std::vector<std::string> missing, unused;
  std::vector<bool> taken(file.tensors.size(), false);
  std::vector<Matrix<S>> values;
  for (const auto& [param, p, names] : params) {
    std::vector<Matrix<S>> parts;
    std::string shapes;
    for (const std::string& name : names) {
      std::size_t j = 0;
      while (j < file.tensors.size() && file.tensors[j].first != name) ++j;
      if (j == file.tensors.size()) {
        missing.push_back(name);
        continue;
      }
      taken[j] = true;
      const Tensor<S>& t = file.tensors[j].second;
      std::string dims;
      for (const Index d : t.shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
      shapes += (shapes.empty() ? "" : " + ") + name + " [" + dims + "]";
      if (t.shape.empty() || t.shape.size() > 2)
        throw ShapeError(where, "tensor '" + name + "' has rank " + std::to_string(t.shape.size()) +
                                    " but parameter '" + param + "' is a matrix");
      parts.push_back(t.matrix());
    }
    if (parts.size() != names.size()) continue;
    Index rows = 0;
    bool fits = true;
    for (const Matrix<S>& m : parts) {
      rows += m.rows();
      fits = fits && m.cols() == p->value.cols();
    }
    if (!fits || rows != p->value.rows())
      throw ShapeError(where, "parameter '" + param + "' is " + detail::shape_str(p->value.rows(), p->value.cols()) +
                                  " but the file holds " + shapes);
    Matrix<S> v(p->value.rows(), p->value.cols());
    for (Index r = 0; const Matrix<S>& m : parts) {
      v.middleRows(r, m.rows()) = m;
      r += m.rows();
    }
    values.push_back(std::move(v));
  }
  for (std::size_t j = 0; j < file.tensors.size(); ++j)
    if (!taken[j]) unused.push_back(file.tensors[j].first);
  if (!missing.empty() || !unused.empty())
    throw FormatError(where,
                      "tensors do not match the model:" +
                          (missing.empty() ? "" : " missing from the file: " + detail::join_names(missing) + ";") +
                          (unused.empty() ? "" : " not in the model: " + detail::join_names(unused) + ";"));
  for (std::size_t k = 0; k < params.size(); ++k) params[k].parameter->value = std::move(values[k]);
}

}  // namespace latent::inline v0
