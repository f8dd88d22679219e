#pragma once
/// @file
/// `Optimizer`: the base of every optimizer. It holds the parameters, the learning rate, the step
/// count and per-parameter state tensors ("slots"), allocated once at construction.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "latent/core/error.hpp"
#include "latent/core/parallel.hpp"
#include "latent/core/scalar.hpp"
#include "latent/core/threads.hpp"
#include "latent/kernels/cache.hpp"
#include "latent/kernels/lanes.hpp"
#include "latent/layers/parameter.hpp"

namespace latent::inline v0 {

namespace detail {
/// x, or 0 where |x| is below the smallest normal number (NaN stays NaN), for a packet or a
/// scalar. Running averages decay geometrically wherever the gradient is zero (a dead unit, a
/// pixel that is always 0), so without this they end as subnormal numbers, and stay there (0.9
/// times the smallest subnormal rounds back to it); x86 cores then take a slow path on every
/// later step, which was seen to make a VAE step at batch 1 several times slower
/// (docs/performance.md). The steps such entries stand for are below 1e-30.
template <class P>
P flush_subnormal(const P& x) {
  return zero_where(abs(x) < P(std::numeric_limits<typename P::Scalar>::min()), x);
}
// A learning rate must be a finite number >= 0: an infinite one turns every parameter it
// touches into inf or NaN on the first step.
inline void check_lr(const char* where, double lr) {
  if (!(lr >= 0 && std::isfinite(lr)))
    throw NumericError(where, "learning rate must be finite and >= 0, got " + std::to_string(lr));
}
}  // namespace detail

/// An optimizer's state as plain data, for checkpoints: its kind, step count, learning rate and
/// named state tensors. Tensor names are "<parameter index>.<slot>", e.g. "0.exp_avg" (the index
/// is the parameter's position in the optimizer's list, as in PyTorch's state_dict).
template <class S>
struct OptimizerState {
  std::string kind;                                        ///< "Sgd", "Adam", "AdamW", "RmsProp"
  std::size_t steps = 0;                                   ///< number of `step()` calls so far
  double lr = 0;                                           ///< the current learning rate
  std::vector<std::pair<std::string, Matrix<S>>> tensors;  ///< every slot of every parameter
};

/// The base of latent's optimizers: `zero_grad()`, `step()`, the learning rate and the step count.
/// A derived optimizer names its slots (state tensors shaped like each parameter, e.g. Adam's
/// first and second moments); they are zero-filled at construction, so `step()` never allocates.
/// The parameters must outlive the optimizer.
template <class S>
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  /// Columns [first, first + count) of one parameter's value, gradient and slots: the piece an
  /// update works on.
  struct Block {
    /// A run of whole columns of a parameter-shaped matrix.
    using Columns = Eigen::Block<Matrix<S>, Eigen::Dynamic, Eigen::Dynamic, true>;
    Columns value;                ///< theta
    const Gradient<S>& gradient;  ///< d loss / d theta of the whole parameter
    /// The same columns of slot `k` (in the order of the constructor's `slot_names`).
    Columns slot(std::size_t k) { return owner->slot(k, index).middleCols(first, count); }
    Optimizer* owner;   ///< whose slots
    std::size_t index;  ///< which parameter
    /// Which columns: the first one and how many.
    ///@{
    Index first, count;
    ///@}
  };

  /// One update of every parameter from its gradient: counts the step (so `steps()` is t >= 1
  /// inside the update, as in the bias corrections of Adam), then updates every parameter in
  /// blocks of columns: each thread (`set_num_threads`) takes its share of every parameter, all
  /// in one parallel region, and works through it in pieces of about 2048 entries (see
  /// `piece_columns`); each rule reads the gradient in one pass, a gradient kept as factors
  /// formed in registers (`for_each_gradient_packet`). The rules are elementwise, so the split
  /// changes no result. With several threads every thread has read all of every weight in the
  /// products since the last step, so where that pays (`evict_before_shared_writes`) each piece is
  /// evicted from all caches one piece ahead of its update.
  virtual void step() {
    ++steps_;
    begin_step();
    on_parameter_shares([&](std::size_t i, Index first, Index last, bool shared) {
      Parameter<S>& p = *params_[i];
      const Index piece = piece_columns(p);
      const auto evict = [&](Index c) {
        if (shared && c < last)
          detail::evict_from_caches(p.value.col(c).data(),
                                    sizeof(S) * std::size_t(std::min(piece, last - c) * p.value.rows()));
      };
      evict(first);
      for (Index c = first; c < last; c += piece) {
        const Index k = std::min(piece, last - c);
        evict(c + k);
        Block b{p.value.middleCols(c, k), p.gradient(), this, i, c, k};
        update(b);
      }
    });
  }

  /// Sets every parameter's gradient to zero (call before `Tape::backward`, which accumulates).
  /// Writes nothing: the next backward pass assigns.
  void zero_grad() noexcept {
    for (Parameter<S>* p : params_) p->zero_grad();
  }

  /// The learning rate the next `step()` uses.
  [[nodiscard]] double lr() const noexcept { return lr_; }
  /// Sets the learning rate (schedules call this); throws `NumericError` unless it is finite and >= 0.
  void set_lr(double lr) {
    detail::check_lr(kind_.c_str(), lr);
    lr_ = lr;
  }
  /// Number of `step()` calls so far (restored by `load_state`).
  [[nodiscard]] std::size_t steps() const noexcept { return steps_; }
  /// The parameters this optimizer updates, in order.
  [[nodiscard]] const std::vector<Parameter<S>*>& parameters() const noexcept { return params_; }
  /// The optimizer's name ("Adam", ...), as stored in its state.
  [[nodiscard]] const std::string& kind() const noexcept { return kind_; }

  /// A copy of the complete state (see `OptimizerState`).
  [[nodiscard]] OptimizerState<S> state() const {
    OptimizerState<S> s{kind_, steps_, lr_, {}};
    s.tensors.reserve(slots_.size());
    for (std::size_t i = 0; i < params_.size(); ++i)
      for (std::size_t k = 0; k < slot_names_.size(); ++k) s.tensors.emplace_back(slot_key(i, k), slot(k, i));
    return s;
  }

  /// Restores a state saved by `state()` of an optimizer of the same kind over parameters of the
  /// same shapes. Checks everything before changing anything: throws `FormatError` if the kind
  /// differs or tensor names are missing or extra (naming them), `ShapeError` naming the tensor
  /// and both shapes if one does not fit.
  void load_state(const OptimizerState<S>& s) {
    if (s.kind != kind_) throw FormatError(kind_, "cannot load the state of a " + s.kind + " optimizer");
    std::vector<const Matrix<S>*> found(slots_.size(), nullptr);
    std::string extra;
    for (const auto& [name, m] : s.tensors) {
      const std::size_t j = find_slot(name);
      if (j == slots_.size() || found[j] != nullptr) {
        extra += (extra.empty() ? "" : ", ") + name;
        continue;
      }
      if (m.rows() != slots_[j].rows() || m.cols() != slots_[j].cols())
        throw ShapeError(kind_, "state tensor '" + name + "' is " + detail::shape_str(m.rows(), m.cols()) +
                                    " but the parameter is " + detail::shape_str(slots_[j].rows(), slots_[j].cols()));
      found[j] = &m;
    }
    std::string missing;
    for (std::size_t j = 0; j < slots_.size(); ++j)
      if (found[j] == nullptr)
        missing += (missing.empty() ? "" : ", ") + slot_key(j / slot_names_.size(), j % slot_names_.size());
    if (!missing.empty() || !extra.empty())
      throw FormatError(kind_, "state does not fit: " + (missing.empty() ? "" : "missing " + missing) +
                                   (missing.empty() || extra.empty() ? "" : "; ") +
                                   (extra.empty() ? "" : "unexpected " + extra));
    set_lr(s.lr);
    steps_ = s.steps;
    for (std::size_t j = 0; j < slots_.size(); ++j) slots_[j] = *found[j];
  }

 protected:
  /// `kind` names the optimizer in messages and states; every parameter gets one zero slot per
  /// entry of `slot_names`. Throws `ShapeError` if a parameter is null or its grad is not shaped
  /// like its value, `NumericError` for a negative learning rate.
  Optimizer(std::string kind, std::vector<Parameter<S>*> params, double lr, std::vector<std::string> slot_names)
      : kind_(std::move(kind)), params_(std::move(params)), slot_names_(std::move(slot_names)) {
    set_lr(lr);
    slots_.reserve(params_.size() * slot_names_.size());
    for (const Parameter<S>* p : params_) {
      if (p == nullptr) throw ShapeError(kind_, "a parameter pointer is null");
      const Gradient<S>& g = p->gradient();
      if (g.rows() != p->value.rows() || g.cols() != p->value.cols())
        throw ShapeError(kind_, "parameter '" + p->name + "' is " +
                                    detail::shape_str(p->value.rows(), p->value.cols()) + " but its grad is " +
                                    detail::shape_str(g.rows(), g.cols()));
      for (std::size_t k = 0; k < slot_names_.size(); ++k)
        slots_.push_back(Matrix<S>::Zero(p->value.rows(), p->value.cols()));
    }
  }
  /// Copies the parameter pointers (not the parameters), slots, step count and learning rate.
  Optimizer(const Optimizer&) = default;
  /// Moves the parameter pointers, slots, step count and learning rate.
  Optimizer(Optimizer&&) noexcept = default;
  /// Copy-assigns the parameter pointers (not the parameters), slots, step count and learning rate.
  Optimizer& operator=(const Optimizer&) = default;
  /// Move-assigns the parameter pointers, slots, step count and learning rate.
  Optimizer& operator=(Optimizer&&) noexcept = default;

  /// Called once per `step()`, before any `update`, with `steps()` already counting the step:
  /// the place for per-step constants (bias corrections), which `update` would otherwise
  /// recompute for each of hundreds of blocks.
  virtual void begin_step() {}

  /// Updates one block of a parameter from its gradient and slots; `steps()` already counts
  /// this step. Called concurrently for disjoint blocks.
  virtual void update(Block& b) = 0;

  /// Slot `k` (in the order of the constructor's `slot_names`) of parameter `i`.
  Matrix<S>& slot(std::size_t k, std::size_t i) noexcept { return slots_[i * slot_names_.size() + k]; }
  /// Read-only slot `k` of parameter `i`.
  const Matrix<S>& slot(std::size_t k, std::size_t i) const noexcept { return slots_[i * slot_names_.size() + k]; }

  /// Calls `body.template operator()<P>(i, g)` for every packet P (and tail entry) of the block:
  /// i the offset into its column-major value and slots (`b.slot(k).data() + i`), g the gradient
  /// there with L2 weight decay folded in, g = grad + weight_decay * value. How the fused rules
  /// (Adam, RmsProp, Sgd) read the gradient: one pass, and a gradient kept as factors formed in
  /// registers rather than expanded into scratch. `body` must read the value at i before it
  /// writes it. Call it from an `update` marked `[[gnu::flatten]]`: unless every lambda level is
  /// inlined, the packet loop reloads the body's captured scalars after each store (Sgd with
  /// momentum measured much slower, docs/optim.md).
  template <class Body>
  static void for_each_gradient_packet(Block& b, double weight_decay, Body&& body) {
    const Index rows = b.value.rows();
    const S decay = S(weight_decay);
    const S* const theta = b.value.data();
    b.gradient.for_each_column(b.first, b.count, [&](Index k, const auto& column) {
      detail::for_each_lanes<S>(rows, [&]<class P>(Index r) {
        const Index i = k * rows + r;
        P g = column.template load<P>(r);
        if (decay != 0) g = g + P(decay) * detail::load<P>(theta + i);
        body.template operator()<P>(i, g);
      });
    });
  }

 private:
  // Columns per piece of an update: about 2048 entries, so the 4-5 arrays a rule reads stay in
  // L1 (4096: Adam's batch-1 step 7% slower; 1024: no faster).
  static Index piece_columns(const Parameter<S>& p) {
    return std::max<Index>(1, 2048 / std::max<Index>(1, p.value.rows()));
  }

  // Calls f(i, first, last, shared) for every parameter i with the columns [first, last) of it
  // that each thread takes, all threads in one parallel region (one thread for small models);
  // `shared` if several threads take part and evicting what others read pays.
  template <class F>
  void on_parameter_shares(F&& f) {
    Index entries = 0;
    for (const Parameter<S>* p : params_) entries += p->value.size();
    const int threads = detail::threads_for(entries, num_threads());
    const bool shared = threads > 1 && detail::evict_before_shared_writes();
    detail::on_threads(threads, [&](int t) {
      for (std::size_t i = 0; i < params_.size(); ++i) {
        const auto [first, last] = detail::share_of(params_[i]->value.cols(), t, threads);
        if (last > first) f(i, first, last, shared);
      }
    });
  }

  std::string slot_key(std::size_t i, std::size_t k) const { return std::to_string(i) + "." + slot_names_[k]; }
  // The flat slot index a name "<i>.<slot>" refers to, or slots_.size() if none.
  std::size_t find_slot(const std::string& name) const {
    for (std::size_t j = 0; j < slots_.size(); ++j)
      if (name == slot_key(j / slot_names_.size(), j % slot_names_.size())) return j;
    return slots_.size();
  }

  std::string kind_;
  std::vector<Parameter<S>*> params_;
  std::vector<std::string> slot_names_;
  std::vector<Matrix<S>> slots_;  // parameter-major: slots_[i * slot_names_.size() + k]
  double lr_ = 0;
  std::size_t steps_ = 0;
};

}  // namespace latent::inline v0
