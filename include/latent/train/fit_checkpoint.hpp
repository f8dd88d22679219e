#pragma once
/// @file
/// The checkpoint of a training run: everything `fit` needs to continue bit-identically. It
/// embeds an ordinary checkpoint (model, optimizer state, the Rng's position; io/checkpoint.hpp)
/// and adds the run's position (epochs done, steps, the current epoch's order and how far into it,
/// its partial sums), the divergence guard's state and the `History` so far. One file, written
/// atomically: a crash or a kill at any moment leaves the previous checkpoint whole.
///
/// Layout (little-endian): "LATENTFT", u32 version, u64 file size, u64 n + n bytes of the
/// embedded checkpoint, the training section, u32 CRC-32 of everything before it.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/core/rng.hpp"
#include "latent/data/read_bytes.hpp"
#include "latent/io/atomic_write.hpp"
#include "latent/io/checkpoint.hpp"
#include "latent/layers/module.hpp"
#include "latent/optim/optimizer.hpp"
#include "latent/train/divergence_guard.hpp"
#include "latent/train/history.hpp"

namespace latent::inline v0 {

/// The format version of training checkpoints this build writes and reads.
inline constexpr std::uint32_t fit_checkpoint_version = 1;

/// Where a training run is, beyond the model, optimizer and Rng.
struct FitPosition {
  int epochs_done = 0;  ///< whole epochs finished (their records are in `history`)
  long steps = 0;       ///< optimizer steps over the run
  /// The epoch under way when the run stopped mid-epoch (batches_done > 0), else unused.
  struct Partial {
    long batches_done = 0;          ///< batches of the epoch already trained on
    std::vector<Index> order;       ///< the epoch's order of examples (`Batcher::order`)
    double loss_sum = 0;            ///< sum over its examples so far of the total loss
    std::vector<double> term_sums;  ///< the same for each term
    long examples = 0;              ///< examples trained on in the epoch so far
    double seconds = 0;             ///< training time of the epoch so far
    double lr = 0, beta = 1;        ///< of its last step
  } partial;
  DivergenceGuard::State guard;  ///< the divergence guard's state
  History history;               ///< every finished epoch
};

namespace detail {
inline constexpr char fit_checkpoint_magic[8] = {'L', 'A', 'T', 'E', 'N', 'T', 'F', 'T'};

inline void write_metrics(CheckpointWriter& w, const Metrics& m) {
  w.f64(m.total);
  w.u32(std::uint32_t(m.terms.size()));
  for (double t : m.terms) w.f64(t);
}
inline Metrics read_metrics(CheckpointReader& r, const std::string& where) {
  Metrics m;
  m.total = r.f64("a loss");
  const std::uint32_t n = r.u32("a term count");
  if (n > r.remaining() / 8) throw FormatError(where, "a term count runs past the end");
  for (std::uint32_t k = 0; k < n; ++k) m.terms.push_back(r.f64("a term"));
  return m;
}
}  // namespace detail

/// Writes a training checkpoint of `model`, `optimizer`, `rng` and `position` to `path`
/// atomically (write_file_atomic, then the directory is fsynced). Throws `IoError` if the system
/// refuses a step; the previous file at `path` is then untouched.
template <class S>
void save_fit_checkpoint(const std::filesystem::path& path, Module<S>& model,
                         const std::type_identity_t<Optimizer<S>>& optimizer, const Rng& rng,
                         const FitPosition& position) {
  const std::vector<std::uint8_t> inner = checkpoint_bytes(model, &optimizer, &rng);
  detail::CheckpointWriter w;
  for (char c : detail::fit_checkpoint_magic) w.u8(std::uint8_t(c));
  w.u32(fit_checkpoint_version);
  w.u64(0);  // total size, patched below
  w.u64(inner.size());
  w.bytes().insert(w.bytes().end(), inner.begin(), inner.end());
  w.u64(std::uint64_t(position.epochs_done));
  w.u64(std::uint64_t(position.steps));
  const auto& p = position.partial;
  w.u64(std::uint64_t(p.batches_done));
  w.u64(p.order.size());
  for (Index i : p.order) w.u64(std::uint64_t(i));
  w.f64(p.loss_sum);
  w.u32(std::uint32_t(p.term_sums.size()));
  for (double t : p.term_sums) w.f64(t);
  w.u64(std::uint64_t(p.examples));
  w.f64(p.seconds);
  w.f64(p.lr);
  w.f64(p.beta);
  w.u64(std::uint64_t(position.guard.step));
  w.u64(std::uint64_t(position.guard.best_step));
  w.f64(position.guard.first);
  w.f64(position.guard.best);
  const History& h = position.history;
  w.u32(std::uint32_t(h.term_names.size()));
  for (const auto& n : h.term_names) w.text(n);
  w.u32(std::uint32_t(h.epochs.size()));
  for (const EpochRecord& e : h.epochs) {
    w.u32(std::uint32_t(e.epoch));
    detail::write_metrics(w, e.train);
    w.u8(e.validation.has_value());
    if (e.validation) detail::write_metrics(w, *e.validation);
    w.f64(e.seconds);
    w.f64(e.lr);
    w.f64(e.beta);
  }
  w.patch_u64(12, w.bytes().size() + 4);
  w.u32(crc32(w.bytes()));
  write_file_atomic(path, w.bytes());
  detail::fsync_parent_directory(path);
}

/// Reads a training checkpoint written by `save_fit_checkpoint` into `model`, `optimizer` and
/// `rng`, and returns the run's position. Everything is checked before anything changes.
/// Throws `IoError` if the file cannot be read, `FormatError` naming the path if it is not a
/// training checkpoint, is truncated or corrupt (CRC), or does not fit the model or optimizer
/// (see `load_checkpoint`), `ShapeError` for a parameter of another shape.
template <class S>
FitPosition load_fit_checkpoint(const std::filesystem::path& path, Module<S>& model,
                                std::type_identity_t<Optimizer<S>>& optimizer, Rng& rng) {
  const std::string where = path.string();
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  const std::size_t size = bytes.size();
  if (size < 8 + 4 + 8 + 4 || !std::equal(bytes.begin(), bytes.begin() + 8, detail::fit_checkpoint_magic,
                                          [](std::uint8_t a, char b) { return a == std::uint8_t(b); }))
    throw FormatError(where, "not a training checkpoint of fit (bad magic or shorter than the header)");
  detail::CheckpointReader header(bytes, 8, where);
  const std::uint32_t version = header.u32("version");
  if (version != fit_checkpoint_version)
    throw FormatError(where, "unsupported training checkpoint version " + std::to_string(version) +
                                 " (this build reads " + std::to_string(fit_checkpoint_version) + ")");
  if (header.u64("file size") != size) throw FormatError(where, "truncated or extended: the size field disagrees");
  const std::span<const std::uint8_t> body(bytes.data(), size - 4);
  const std::uint32_t stored = std::uint32_t(bytes[size - 4]) | std::uint32_t(bytes[size - 3]) << 8 |
                               std::uint32_t(bytes[size - 2]) << 16 | std::uint32_t(bytes[size - 1]) << 24;
  if (crc32(body) != stored) throw FormatError(where, "CRC mismatch: the file is corrupt");

  detail::CheckpointReader r(body, header.pos(), where);
  const std::uint64_t inner_size = r.u64("embedded checkpoint size");
  if (inner_size > r.remaining()) throw FormatError(where, "the embedded checkpoint runs past the end");
  const std::span<const std::uint8_t> inner = body.subspan(r.pos(), inner_size);
  detail::CheckpointReader t(body, r.pos() + inner_size, where);
  FitPosition p;
  p.epochs_done = int(t.u64("epochs done"));
  p.steps = long(t.u64("steps"));
  p.partial.batches_done = long(t.u64("batches done"));
  const std::uint64_t n_order = t.u64("order size");
  if (n_order > t.remaining() / 8) throw FormatError(where, "the epoch's order runs past the end");
  p.partial.order.resize(n_order);
  for (auto& i : p.partial.order) i = Index(t.u64("an order entry"));
  p.partial.loss_sum = t.f64("loss sum");
  const std::uint32_t n_terms = t.u32("term count");
  if (n_terms > t.remaining() / 8) throw FormatError(where, "the term sums run past the end");
  for (std::uint32_t k = 0; k < n_terms; ++k) p.partial.term_sums.push_back(t.f64("a term sum"));
  p.partial.examples = long(t.u64("examples"));
  p.partial.seconds = t.f64("seconds");
  p.partial.lr = t.f64("lr");
  p.partial.beta = t.f64("beta");
  p.guard.step = long(t.u64("guard step"));
  p.guard.best_step = long(t.u64("guard best step"));
  p.guard.first = t.f64("guard first");
  p.guard.best = t.f64("guard best");
  const std::uint32_t n_names = t.u32("term name count");
  for (std::uint32_t k = 0; k < n_names; ++k) p.history.term_names.push_back(t.text("a term name"));
  const std::uint32_t n_epochs = t.u32("epoch count");
  for (std::uint32_t k = 0; k < n_epochs; ++k) {
    EpochRecord e;
    e.epoch = int(t.u32("epoch"));
    e.train = detail::read_metrics(t, where);
    if (t.u8("validation flag") != 0) e.validation = detail::read_metrics(t, where);
    e.seconds = t.f64("seconds");
    e.lr = t.f64("lr");
    e.beta = t.f64("beta");
    p.history.epochs.push_back(std::move(e));
  }
  if (t.remaining() != 0) throw FormatError(where, std::to_string(t.remaining()) + " unexpected bytes at the end");
  p.history.steps = p.steps;
  // Last: it checks the model and optimizer state before it changes any of them.
  load_checkpoint_bytes(inner, where, model, &optimizer, &rng);
  return p;
}

}  // namespace latent::inline v0
