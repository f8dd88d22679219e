#pragma once
/// @file
/// Checkpoints: a model's parameters, optionally an optimizer's state and an `Rng`'s position, in
/// one versioned, CRC-checked binary file written atomically. Opt-in (not in latent/latent.hpp);
/// needs no external library. Layout and guarantees: docs/checkpoints.md.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>
#include <cerrno>

#include "latent/core/error.hpp"
#include "latent/core/rng.hpp"
#include "latent/data/read_bytes.hpp"
#include "latent/io/atomic_write.hpp"
#include "latent/layers/module.hpp"
#include "latent/optim/optimizer.hpp"

namespace latent::inline v0 {

/// The checkpoint format version this build writes and reads.
inline constexpr std::uint32_t checkpoint_version = 1;

/// CRC-32 of `bytes` (IEEE 802.3 polynomial, reflected; the same value as zlib's `crc32`).
[[nodiscard]] inline std::uint32_t crc32(std::span<const std::uint8_t> bytes) noexcept {
  static constexpr auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::uint8_t b : bytes) c = table[(c ^ b) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

namespace detail {

inline constexpr char checkpoint_magic[8] = {'L', 'A', 'T', 'E', 'N', 'T', 'C', 'K'};
// magic, version, scalar size, total file size.
inline constexpr std::size_t checkpoint_header_size = 8 + 4 + 4 + 8;

// Appends little-endian fields to a byte buffer.
class CheckpointWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void text(const std::string& s) {
    u32(std::uint32_t(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  template <class S>
  void tensor(const std::string& name, const Matrix<S>& m) {
    text(name);
    u64(std::uint64_t(m.rows()));
    u64(std::uint64_t(m.cols()));
    using Bits = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;
    for (Index i = 0; i < m.size(); ++i) put(std::bit_cast<Bits>(m(i)), sizeof(S));
  }
  void patch_u64(std::size_t at, std::uint64_t v) {
    for (int k = 0; k < 8; ++k) out_[at + std::size_t(k)] = std::uint8_t(v >> (8 * k));
  }
  std::vector<std::uint8_t>& bytes() noexcept { return out_; }

 private:
  void put(std::uint64_t v, int n) {
    for (int k = 0; k < n; ++k) out_.push_back(std::uint8_t(v >> (8 * k)));
  }
  std::vector<std::uint8_t> out_;
};

// Reads little-endian fields, checking every size against the bytes that remain before using it.
class CheckpointReader {
 public:
  CheckpointReader(std::span<const std::uint8_t> bytes, std::size_t pos, const std::string& path)
      : bytes_(bytes), pos_(pos), path_(path) {}

  std::uint8_t u8(const char* what) { return std::uint8_t(get(1, what)); }
  std::uint32_t u32(const char* what) { return std::uint32_t(get(4, what)); }
  std::uint64_t u64(const char* what) { return get(8, what); }
  double f64(const char* what) { return std::bit_cast<double>(get(8, what)); }
  std::string text(const char* what) {
    const std::uint32_t n = u32(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  // A tensor stored with `scalar_size`-byte elements, converted to S.
  template <class S>
  std::pair<std::string, Matrix<S>> tensor(std::uint32_t scalar_size) {
    std::string name = text("a tensor name");
    const std::uint64_t rows = u64("tensor rows"), cols = u64("tensor cols");
    const std::uint64_t room = remaining() / scalar_size;
    // Checked by division so that a corrupt rows * cols cannot overflow.
    if (rows > room || (rows != 0 && cols > room / rows))
      throw FormatError(path_, "tensor '" + name + "' claims " + std::to_string(rows) + "x" + std::to_string(cols) +
                                   " values but only " + std::to_string(remaining()) + " bytes remain at byte " +
                                   std::to_string(pos_));
    Matrix<S> m(static_cast<Index>(rows), static_cast<Index>(cols));
    for (Index i = 0; i < m.size(); ++i)
      m(i) =
          scalar_size == 4 ? S(std::bit_cast<float>(u32("tensor data"))) : S(std::bit_cast<double>(u64("tensor data")));
    return {std::move(name), std::move(m)};
  }
  [[nodiscard]] std::size_t pos() const noexcept { return pos_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }

 private:
  void need(std::uint64_t n, const char* what) const {
    if (n > remaining())
      throw FormatError(path_, "truncated at byte " + std::to_string(bytes_.size()) + ": " + what + " needs " +
                                   std::to_string(n) + " bytes at byte " + std::to_string(pos_));
  }
  std::uint64_t get(int n, const char* what) {
    need(std::uint64_t(n), what);
    std::uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= std::uint64_t(bytes_[pos_ + std::size_t(k)]) << (8 * k);
    pos_ += std::size_t(n);
    return v;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_;
  const std::string& path_;
};

// Flushes the directory entry that `rename` changed, so the new name survives a crash too.
inline void fsync_parent_directory(const std::filesystem::path& path) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw IoError(path.string(), "cannot open its directory to fsync it: " + std::string(std::strerror(errno)));
  // EINVAL: the file system cannot sync directories at all, so there is nothing more to do.
  if (::fsync(fd) != 0 && errno != EINVAL) {
    const int err = errno;
    ::close(fd);
    throw IoError(path.string(), "fsync of its directory failed: " + std::string(std::strerror(err)));
  }
  ::close(fd);
}

// The header's size field disagrees with the file's size. The CRC tells the two stories apart:
// if it matches once the field holds the real size, the file is whole and only the field is
// corrupt; otherwise the file lost (or gained) bytes, and the field tells how many.
[[noreturn]] inline void throw_size_mismatch(const std::string& where, std::span<const std::uint8_t> body,
                                             std::uint32_t stored_crc, std::uint64_t total) {
  const std::uint64_t size = body.size() + 4;
  std::vector<std::uint8_t> patched(body.begin(), body.end());
  for (int k = 0; k < 8; ++k) patched[16 + std::size_t(k)] = std::uint8_t(size >> (8 * k));
  if (crc32(patched) == stored_crc)
    throw FormatError(where, "the header's size field is corrupt: it says " + std::to_string(total) +
                                 " bytes, but the " + std::to_string(size) +
                                 "-byte file is otherwise intact (its CRC matches)");
  if (total > size)
    throw FormatError(where, "truncated at byte " + std::to_string(size) + " of " + std::to_string(total) +
                                 " (or the header's size field is corrupt: the CRC does not match either way)");
  throw FormatError(where, std::to_string(size - total) + " unexpected bytes after the end at byte " +
                               std::to_string(total) + " (or the header's size field is corrupt)");
}

// Every name in `names` joined by ", ".
inline std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace detail

/// Writes `model`'s parameters (by dotted name), and `optimizer`'s state and `rng`'s position
/// when given, to `path` in the checkpoint format of docs/checkpoints.md. The write is atomic
/// (temporary file in the same directory, fsync, rename, fsync of the directory): `path` holds
/// the old checkpoint or the new one, never a mix. The same state always gives the same bytes.
/// Throws `IoError` naming the path if the system refuses any step.
template <class S>
void save_checkpoint(const std::filesystem::path& path, Module<S>& model,
                     const std::type_identity_t<Optimizer<S>>* optimizer = nullptr, const Rng* rng = nullptr) {
  write_file_atomic(path, checkpoint_bytes(model, optimizer, rng));
  detail::fsync_parent_directory(path);
}

/// The bytes `save_checkpoint` writes, for a file that embeds a checkpoint (the training state
/// of `fit`, train/fit_checkpoint.hpp).
template <class S>
[[nodiscard]] std::vector<std::uint8_t> checkpoint_bytes(Module<S>& model,
                                                         const std::type_identity_t<Optimizer<S>>* optimizer = nullptr,
                                                         const Rng* rng = nullptr) {
  detail::CheckpointWriter w;
  for (char c : detail::checkpoint_magic) w.u8(std::uint8_t(c));
  w.u32(checkpoint_version);
  w.u32(sizeof(S));
  w.u64(0);  // total size, patched below
  const auto params = model.named_parameters();
  w.u32(std::uint32_t(params.size()));
  for (const auto& [name, p] : params) w.tensor(name, p->value);
  w.u8(optimizer != nullptr);
  if (optimizer != nullptr) {
    const OptimizerState<S> s = optimizer->state();
    w.text(s.kind);
    w.u64(s.steps);
    w.f64(s.lr);
    w.u32(std::uint32_t(s.tensors.size()));
    for (const auto& [name, m] : s.tensors) w.tensor(name, m);
  }
  w.u8(rng != nullptr);
  if (rng != nullptr) {
    w.u64(rng->state().key);
    w.u64(rng->state().counter);
  }
  w.patch_u64(16, w.bytes().size() + 4);
  w.u32(crc32(w.bytes()));
  return std::move(w.bytes());
}

/// Reads a checkpoint written by `save_checkpoint` into `model`, and into `optimizer` and `rng`
/// when given (the file must then hold their state; a file's optimizer or Rng state is ignored
/// when they are not given). A float checkpoint loads into a double model and vice versa, each
/// value converted with `static_cast` (double -> float rounds to nearest).
///
/// Everything is checked before anything changes, so a failed load leaves `model`, `optimizer`
/// and `rng` as they were. Throws `IoError` if the file cannot be read; `FormatError` naming the
/// path if it is not a checkpoint (bad magic), has an unsupported version, is truncated (at byte
/// N) or corrupt (CRC mismatch), if parameter names are missing or unexpected (naming them), or
/// if optimizer or Rng state is asked for but absent or of another optimizer kind; `ShapeError`
/// naming the parameter and both shapes if one differs.
template <class S>
void load_checkpoint(const std::filesystem::path& path, Module<S>& model,
                     std::type_identity_t<Optimizer<S>>* optimizer = nullptr, Rng* rng = nullptr) {
  load_checkpoint_bytes(read_file_bytes(path), path.string(), model, optimizer, rng);
}

/// `load_checkpoint` from the bytes of a checkpoint held in memory; `where` names them in errors.
template <class S>
void load_checkpoint_bytes(std::span<const std::uint8_t> bytes, const std::string& where, Module<S>& model,
                           std::type_identity_t<Optimizer<S>>* optimizer = nullptr, Rng* rng = nullptr) {
  const std::size_t size = bytes.size();
  // A file shorter than the magic is judged on the bytes it has (std::equal, not memcmp: an empty
  // file has no data pointer).
  const auto magic_seen = std::ptrdiff_t(std::min(size, sizeof detail::checkpoint_magic));
  if (!std::equal(bytes.begin(), bytes.begin() + magic_seen, detail::checkpoint_magic,
                  [](std::uint8_t a, char b) { return a == std::uint8_t(b); }))
    throw FormatError(where, "bad magic: not a latent checkpoint");
  if (size < detail::checkpoint_header_size + 4)
    throw FormatError(where, "truncated at byte " + std::to_string(size) + ": shorter than the header");
  detail::CheckpointReader header(bytes, sizeof detail::checkpoint_magic, where);
  const std::uint32_t version = header.u32("version");
  if (version != checkpoint_version)
    throw FormatError(where, "unsupported format version " + std::to_string(version) + " (this build reads " +
                                 std::to_string(checkpoint_version) + ")");
  const std::uint32_t scalar_size = header.u32("scalar size");
  if (scalar_size != 4 && scalar_size != 8)
    throw FormatError(where, "scalar size is " + std::to_string(scalar_size) + " bytes, not 4 (float) or 8 (double)");
  const std::uint64_t total = header.u64("file size");
  const std::span<const std::uint8_t> body(bytes.data(), size - 4);
  const std::uint32_t stored = std::uint32_t(bytes[size - 4]) | std::uint32_t(bytes[size - 3]) << 8 |
                               std::uint32_t(bytes[size - 2]) << 16 | std::uint32_t(bytes[size - 1]) << 24;
  if (total != size) detail::throw_size_mismatch(where, body, stored, total);
  if (crc32(body) != stored) throw FormatError(where, "CRC mismatch: the file is corrupt");

  // Parse everything first (bounds-checked even though the CRC matched: the file is not trusted).
  detail::CheckpointReader r(body, header.pos(), where);
  std::vector<std::pair<std::string, Matrix<S>>> tensors;
  const std::uint32_t n_params = r.u32("parameter count");
  for (std::uint32_t k = 0; k < n_params; ++k) tensors.push_back(r.template tensor<S>(scalar_size));
  const bool has_optimizer = r.u8("optimizer flag") != 0;
  OptimizerState<S> state;
  if (has_optimizer) {
    state.kind = r.text("optimizer kind");
    state.steps = r.u64("optimizer steps");
    state.lr = r.f64("learning rate");
    const std::uint32_t n = r.u32("optimizer tensor count");
    for (std::uint32_t k = 0; k < n; ++k) state.tensors.push_back(r.template tensor<S>(scalar_size));
  }
  const bool has_rng = r.u8("rng flag") != 0;
  Rng::State rng_state{};
  if (has_rng) {
    rng_state.key = r.u64("rng key");
    rng_state.counter = r.u64("rng counter");
  }
  if (r.remaining() != 0)
    throw FormatError(where, std::to_string(r.remaining()) + " unexpected bytes at byte " + std::to_string(r.pos()));

  // Match the file's parameters to the model's by name.
  const auto params = model.named_parameters();
  std::vector<const Matrix<S>*> source(params.size(), nullptr);
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, m] : tensors) {
    std::size_t j = 0;
    while (j < params.size() && params[j].first != name) ++j;
    if (j == params.size() || source[j] != nullptr) {
      unexpected.push_back(name);
      continue;
    }
    const Matrix<S>& v = params[j].second->value;
    if (m.rows() != v.rows() || m.cols() != v.cols())
      throw ShapeError(where, "parameter '" + name + "' is " + detail::shape_str(m.rows(), m.cols()) +
                                  " in the checkpoint but " + detail::shape_str(v.rows(), v.cols()) + " in the model");
    source[j] = &m;
  }
  for (std::size_t j = 0; j < params.size(); ++j)
    if (source[j] == nullptr) missing.push_back(params[j].first);
  if (!missing.empty() || !unexpected.empty())
    throw FormatError(where,
                      "parameters do not match the model:" +
                          (missing.empty() ? "" : " missing from the checkpoint: " + detail::join(missing) + ";") +
                          (unexpected.empty() ? "" : " not in the model: " + detail::join(unexpected) + ";"));
  if (optimizer != nullptr && !has_optimizer) throw FormatError(where, "holds no optimizer state");
  if (rng != nullptr && !has_rng) throw FormatError(where, "holds no Rng state");

  // Optimizer::load_state checks before it changes anything; its errors gain the path here.
  if (optimizer != nullptr) {
    try {
      optimizer->load_state(state);
    } catch (const ShapeError& e) {
      throw ShapeError(where, std::string("optimizer state: ") + e.what());
    } catch (const FormatError& e) {
      throw FormatError(where, std::string("optimizer state: ") + e.what());
    } catch (const NumericError& e) {
      throw FormatError(where, std::string("optimizer state: ") + e.what());
    }
  }
  for (std::size_t j = 0; j < params.size(); ++j) params[j].second->value = *source[j];
  if (rng != nullptr) *rng = Rng::from_state(rng_state);
}

}  // namespace latent::inline v0
