#pragma once
/// @file
/// `Tape<Scalar>` and its `Var` handle: the record of one forward pass, walked backwards once.

#include <cmath>
#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "latent/autodiff/arena.hpp"
#include "latent/autodiff/gradient.hpp"
#include "latent/core/error.hpp"
#include "latent/core/parallel.hpp"
#include "latent/core/scalar.hpp"
#include "latent/kernels/gemm.hpp"
#include "latent/kernels/map_entries.hpp"

namespace latent::inline v0 {

template <class S>
class Tape;
class Rng;

/// A read-only view of a matrix on the tape. Its data is aligned as Eigen aligns its own
/// matrices (EIGEN_MAX_ALIGN_BYTES): arena blocks are 64-byte aligned, and parameter leaves view
/// an `Eigen::Matrix` whose alignment is only that.
template <class S>
using ConstView = Eigen::Map<const Matrix<S>, Eigen::AlignedMax>;

/// A writable view of a matrix on the tape.
template <class S>
using View = Eigen::Map<Matrix<S>, Eigen::AlignedMax>;

/// A handle to one matrix recorded on a `Tape`: 16 bytes, cheap to copy, valid until the tape's
/// next `clear()` (using it after that throws `Error`). Ops are free functions taking and
/// returning `Var`s (`relu(linear(W, x, b))`).
template <class S>
class Var {
 public:
  Var() = default;
  /// The tape this Var lives on; throws `Error` for a default-constructed Var.
  [[nodiscard]] Tape<S>& tape() const {
    if (!tape_) [[unlikely]]
      throw Error("Var", "a default-constructed Var was used (it lives on no tape)");
    return *tape_;
  }
  /// Its position on the tape (0 for the first recorded node).
  [[nodiscard]] std::int32_t id() const noexcept { return id_; }
  /// Number of rows (features).
  [[nodiscard]] Index rows() const { return tape().rows(*this); }
  /// Number of columns (batch).
  [[nodiscard]] Index cols() const { return tape().cols(*this); }
  /// The value computed in the forward pass.
  [[nodiscard]] ConstView<S> value() const { return tape().value(*this); }
  /// d loss / d this, after `tape().backward(loss)`; zeros if no gradient reached it.
  /// Throws `Error` for a constant, which has no gradient.
  [[nodiscard]] ConstView<S> grad() const { return tape().grad(*this); }
  /// The value of a 1x1 Var as a number; throws `ShapeError` otherwise.
  [[nodiscard]] S item() const { return tape().item(*this); }

 private:
  friend class Tape<S>;
  Var(Tape<S>* tape, std::int32_t id, std::uint32_t generation) noexcept
      : tape_(tape), id_(id), generation_(generation) {}
  Tape<S>* tape_ = nullptr;
  std::int32_t id_ = -1;
  std::uint32_t generation_ = 0;  // the tape's clear() count when this Var was recorded
};

/// The reverse-mode autodiff tape. The caller owns it; ops append nodes in execution order and
/// `backward(loss)` walks them once in reverse. Values, adjoints and each op's own state (its
/// inputs, geometry, saved values) live in a 64-byte aligned `Arena`; `clear()` rewinds it, so a
/// step that records the same graph as the step before performs no heap allocation.
///
/// `S` must be `float` or `double`.
template <class S>
class Tape {
  static_assert(Scalar<S>, "latent::Tape<S>: S must be float or double (the scalar types latent computes in)");

 public:
  Tape() { nodes_.reserve(256); }
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // --- leaves -------------------------------------------------------------------------------

  /// A copy of `m` that takes no gradient (inputs, targets, noise).
  Var<S> constant(const Eigen::Ref<const Matrix<S>>& m) { return leaf("constant", m, false); }

  /// A copy of `m` whose gradient is kept and can be read back with `Var::grad()`.
  Var<S> variable(const Eigen::Ref<const Matrix<S>>& m) { return leaf("variable", m, true); }

  /// A view of a parameter that lives outside the tape: the forward pass reads `value` in place
  /// and `backward` adds d loss / d value into `grad` (which the optimizer zeroes). Both must
  /// outlive the tape's use and have the same shape (`ShapeError` otherwise).
  Var<S> parameter(const Matrix<S>& value, Matrix<S>& grad) {
    if (value.rows() != grad.rows() || value.cols() != grad.cols())
      throw ShapeError("parameter", "value is " + detail::shape_str(value.rows(), value.cols()) + " but grad is " +
                                        detail::shape_str(grad.rows(), grad.cols()));
    Node& n = push("parameter", value.rows(), value.cols());
    n.value = const_cast<S*>(value.data());  // never written: parameters are read-only on the tape
    n.adjoint = grad.data();
    n.needs_grad = grad_enabled_;
    n.adjoint_ready = true;  // accumulate straight into the parameter's gradient
    n.is_parameter = true;
    return handle(n);
  }

  /// A view of a parameter whose gradient is a `Gradient` (what `Parameter::on` uses): as above,
  /// but after the gradient's `zero()` the first contribution assigns, and a product of small
  /// inner size (batch) is kept as factors. Throws `ShapeError` if the shapes differ.
  Var<S> parameter(const Matrix<S>& value, Gradient<S>& grad) {
    Var<S> v = parameter(value, grad.dense_);
    node(v).gradient = &grad;
    return v;
  }

  // --- recording ops (for op authors; see docs/extending.md) --------------------------------

  /// Appends a node computed by the op `name` from `inputs`, with room for a `rows x cols` value
  /// that the op then writes through `value_of`. `backward` is the op's reverse step and its
  /// state at once: a callable, usually a lambda that captures the inputs and whatever geometry
  /// or saved values it needs by value, called as `backward(tape, out)` in the reverse sweep
  /// when `out` needs a gradient, to add G = `adjoint_of(out)` times the local derivative into
  /// each input (`accumulate`...). It is copied into the arena, so it must be trivially
  /// destructible (no `std::vector` or `Matrix` inside: save values on the tape as Vars or arena
  /// arrays). The node needs a gradient when any input does. Throws `Error` if an input lives on
  /// another tape or was recorded before the last `clear()`.
  template <class Backward>
  Var<S> record(const char* name, Index rows, Index cols, std::initializer_list<Var<S>> inputs,
                const Backward& backward) {
    static_assert(std::is_trivially_destructible_v<Backward>,
                  "latent::Tape::record: an op's backward state lives in the arena and is never destroyed, so it "
                  "must be trivially destructible (capture Vars, indices and scalars, not containers)");
    static_assert(alignof(Backward) <= Arena::alignment, "latent::Tape::record: over-aligned backward state");
    static_assert(std::is_invocable_v<const Backward&, Tape&, Var<S>>,
                  "latent::Tape::record: backward must be callable as backward(Tape<S>&, Var<S> out)");
    bool needs_grad = false;
    for (const Var<S>& in : inputs) needs_grad = needs_grad || node_of_input(name, in).needs_grad;
    Node& n = push(name, rows, cols);
    n.value = arena_.template allocate_array<S>(std::size_t(rows * cols));
    n.needs_grad = needs_grad;
    if (needs_grad) {
      n.state = ::new (arena_.allocate(sizeof(Backward))) Backward(backward);
      n.backward = [](const void* state, Tape& tape, Var<S> out) { (*static_cast<const Backward*>(state))(tape, out); };
    }
    return handle(n);
  }

  /// Appends a node that takes no gradient and that the caller fills through `value_of` (noise
  /// drawn straight into the arena, a one-hot pick).
  Var<S> record(const char* name, Index rows, Index cols) {
    Node& n = push(name, rows, cols);
    n.value = arena_.template allocate_array<S>(std::size_t(rows * cols));
    return handle(n);
  }

  /// Called by an op once its value is written: with `check_finite(true)`, throws `NumericError`
  /// naming the op if the value holds a NaN or an infinity.
  void finish(Var<S> v) const {
    if (!check_finite_) return;
    const ConstView<S> x = value(v);
    if (x.allFinite()) return;
    for (Index j = 0; j < x.cols(); ++j)
      for (Index i = 0; i < x.rows(); ++i)
        if (!std::isfinite(x(i, j)))
          throw NumericError(name(v), "value became " + std::string(std::isnan(x(i, j)) ? "NaN" : "infinite") +
                                          " at (" + std::to_string(i) + ", " + std::to_string(j) + ") of a " +
                                          detail::shape_str(x.rows(), x.cols()) + " result");
  }

  /// Opt in (or out) of the non-finite check in `finish`: off by default, it costs one pass over
  /// every value.
  void check_finite(bool on) noexcept { check_finite_ = on; }

  /// Whether parameters and variables recorded from now on take gradients (on by default). Off,
  /// the tape only evaluates, as PyTorch's `no_grad`: no node needs a gradient, so ops keep no
  /// backward state, and `backward` propagates nothing. How models evaluate (`Vae::encode`, `log_likelihood`,
  /// `fit`'s evaluation). Kept across `clear()`.
  void set_grad_enabled(bool on) noexcept { grad_enabled_ = on; }
  /// See `set_grad_enabled`.
  [[nodiscard]] bool grad_enabled() const noexcept { return grad_enabled_; }

  /// The generator that modules drawing noise in `forward` (`Dropout`) draw from on this tape;
  /// null (the default): they use a stream of their own. Set by whoever runs a training pass
  /// with an `Rng` (`fit`; `Vae::elbo` and the other losses that take one, through `NoiseFrom`),
  /// so one generator holds all of a run's randomness: a checkpoint of it resumes every draw, and
  /// data-parallel `fit` keys every draw by example. Kept across `clear()`.
  void set_noise(Rng* rng) noexcept { noise_ = rng; }
  /// See `set_noise`.
  [[nodiscard]] Rng* noise() const noexcept { return noise_; }

  // --- access -------------------------------------------------------------------------------

  /// The value of `v`.
  ConstView<S> value(Var<S> v) const {
    const Node& n = node(v);
    return ConstView<S>(n.value, n.rows, n.cols);
  }
  /// Writable value of `v`, for the op that computes it.
  View<S> value_of(Var<S> v) {
    const Node& n = node(v);
    return View<S>(n.value, n.rows, n.cols);
  }
  /// Rows of `v`.
  Index rows(Var<S> v) const { return node(v).rows; }
  /// Columns of `v`.
  Index cols(Var<S> v) const { return node(v).cols; }
  /// Name of the op that produced `v` ("linear", "constant", ...).
  const char* name(Var<S> v) const { return node(v).name; }
  /// Whether a gradient flows back into `v`.
  bool needs_grad(Var<S> v) const { return node(v).needs_grad; }
  /// Number of nodes recorded since the last `clear()`.
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }

  /// The value of a 1x1 `v`; `ShapeError` otherwise.
  S item(Var<S> v) const {
    const Node& n = node(v);
    if (n.rows != 1 || n.cols != 1)
      throw ShapeError("item", "Var is " + detail::shape_str(n.rows, n.cols) + ", not 1x1");
    return n.value[0];
  }

  /// d loss / d `v` after `backward`; zeros where no gradient arrived. A constant has none.
  ConstView<S> grad(Var<S> v) const {
    const Node& n = node(v);
    if (!n.needs_grad) throw Error("grad", std::string("a ") + n.name + " node has no gradient");
    if (n.gradient) return ConstView<S>(n.gradient->matrix().data(), n.rows, n.cols);
    if (!n.adjoint_ready) {
      // Nothing flowed here; hand out zeros from the arena rather than an unset buffer.
      auto* self = const_cast<Tape*>(this);
      self->adjoint(v).setZero();
    }
    return ConstView<S>(n.adjoint, n.rows, n.cols);
  }

  // --- backward -----------------------------------------------------------------------------

  /// Seeds d loss / d loss = 1 and propagates adjoints to every node that needs them, in one
  /// reverse sweep. `loss` must be 1x1 (`ShapeError` otherwise). Parameter gradients are
  /// accumulated (`+=`), so call the optimizer's `zero_grad()` between steps.
  void backward(Var<S> loss) {
    const Node& l = node(loss);
    if (l.rows != 1 || l.cols != 1)
      throw ShapeError("backward", "loss must be 1x1 but is " + detail::shape_str(l.rows, l.cols) +
                                       " (reduce it with sum or mean first)");
    for (std::size_t i = 0; i <= std::size_t(loss.id_); ++i) nodes_[i].adjoint_ready = nodes_[i].is_parameter;
    if (!l.needs_grad) return;
    accumulate(loss, Matrix<S>::Constant(1, 1, S(1)));
    for (std::int32_t i = loss.id_; i >= 0; --i) {
      const Node& n = nodes_[std::size_t(i)];
      if (n.backward && n.adjoint_ready) n.backward(n.state, *this, Var<S>(this, i, generation_));
    }
  }

  /// G, the adjoint (d loss / d value) of `v`, for its op's backward during `backward`.
  ConstView<S> adjoint_of(Var<S> v) const {
    const Node& n = node(v);
    return ConstView<S>(n.adjoint, n.rows, n.cols);
  }

  /// Adds `expr` (shaped like `v`) into the adjoint of `v` if `v` needs a gradient. The first
  /// contribution assigns, later ones add, so no adjoint is ever zero-filled needlessly. Large
  /// adjoints are written by all threads, each its own block of columns.
  template <class Expr>
  void accumulate(Var<S> v, const Expr& expr) {
    write_adjoint(v, 0, [&](View<S>& a, Index c, Index k, bool add) {
      detail::assign_or_add(a.middleCols(c, k), expr.middleCols(c, k), add);
    });
  }

  /// Adds `g` (shaped like `v`) into the adjoint of `v` if `v` needs a gradient.
  void accumulate(Var<S> v, const ConstView<S>& g) { accumulate_entries(v, detail::unchanged, g); }

  /// Adds f(x...) entry by entry into the adjoint of `v` if `v` needs a gradient: each x a tape
  /// view shaped like `v`, `f` a template lambda over packets (see `detail::map_entries`). The
  /// first contribution assigns.
  template <class F, class... X>
  void accumulate_entries(Var<S> v, const F& f, const X&... x) {
    Node& n = node(v);
    if (!n.needs_grad) return;
    detail::map_entries(adjoint_storage(n), n.rows * n.cols, ready(n), f, x.data()...);
    ready(n) = true;
  }

  /// Like `accumulate_entries`, with `f` also given the column: `f.template operator()<P>(j, x...)`,
  /// for a factor per example. An x may also be a column, read for every column of `v`
  /// (`detail::BroadcastColumn`).
  template <class F, class... X>
  void accumulate_column_entries(Var<S> v, const F& f, const X&... x) {
    Node& n = node(v);
    if (!n.needs_grad) return;
    detail::map_column_entries(adjoint_storage(n), n.rows, n.cols, ready(n), f, column_input(x)...);
    ready(n) = true;
  }

  /// Adds the row sums of `g` (a matrix with as many rows as the column `v`) into the adjoint of
  /// `v`: G 1, the gradient of a bias broadcast over the batch. Threads split the rows, so the
  /// sums run in parallel though the result is one column.
  void accumulate_row_sums(Var<S> v, const ConstView<S>& g) {
    write_adjoint(v, g.cols(), [&](View<S>& a, Index r, Index k, bool add) {
      detail::row_sums(a.data(), g.data(), g.rows(), g.cols(), r, k, add);
    });
  }

  /// Adds the matrix product `a b` into the adjoint of `v` (if it needs a gradient) with one GEMM
  /// written in place. `a` and `b` are tape views, either possibly `.transpose()`d.
  template <class A, class B>
  void accumulate_product(Var<S> v, const A& a, const B& b) {
    Node& n = node(v);
    if (!n.needs_grad) return;
    const auto op_a = detail::gemm_operand(a), op_b = detail::gemm_operand(b);
    if (n.gradient && n.gradient->add_factors(op_a, op_b)) return;
    detail::gemm(op_a, op_b, adjoint_storage(n), ready(n));
    ready(n) = true;
  }

  /// The adjoint of `v`, zero-filled if nothing has arrived yet, for ops that add into a part of
  /// it (a row block). Only call when `needs_grad(v)`.
  View<S> adjoint(Var<S> v) {
    Node& n = node(v);
    View<S> a(adjoint_storage(n), n.rows, n.cols);
    if (!ready(n)) {
      a.setZero();
      ready(n) = true;
    }
    return a;
  }

  /// For an op that writes the whole adjoint of `v` itself, split over threads its own way: calls
  /// `write(a, add)` with the adjoint and whether it holds contributions already (if not, `write`
  /// assigns every entry, so nothing is zero-filled only to be added to). Nothing if `v` needs
  /// no gradient.
  template <class Write>
  void write_whole_adjoint(Var<S> v, Write&& write) {
    Node& n = node(v);
    if (!n.needs_grad) return;
    View<S> a(adjoint_storage(n), n.rows, n.cols);
    write(a, ready(n));
    ready(n) = true;
  }

  /// Forgets every node, keeping all memory for the next step. Vars from before are invalid.
  void clear() {
    nodes_.clear();
    arena_.rewind();
    ++generation_;
  }

  /// Bytes the tape's arena holds from the heap.
  [[nodiscard]] std::size_t arena_capacity() const noexcept { return arena_.capacity(); }
  /// Bytes of the arena the values and states recorded since the last `clear()` take.
  [[nodiscard]] std::size_t arena_used() const noexcept { return arena_.used(); }

 private:
  struct Node {
    const char* name;
    void (*backward)(const void* state, Tape& tape, Var<S> out);  // null for leaves and constants
    const void* state;                                            // the op's backward callable, in the arena
    S* value;
    S* adjoint;             // arena memory made on first use, or a parameter's grad
    Gradient<S>* gradient;  // the parameter's, for a leaf made from a Gradient
    Index rows, cols;
    bool needs_grad;
    bool adjoint_ready;
    bool is_parameter;
  };

  // The node of `v`; throws `Error` for a Var of another tape generation (recorded before the
  // last `clear()`, whose node is gone or belongs to another op now) or a default-made one.
  const Node& node(Var<S> v) const {
    if (v.generation_ != generation_ || v.id_ < 0 || std::size_t(v.id_) >= nodes_.size()) [[unlikely]]
      throw Error("tape", v.id_ < 0
                              ? std::string("a default-constructed Var was used")
                              : "a Var recorded before the tape's last clear() was used (Vars are valid until the "
                                "next clear(); record it again)");
    return nodes_[std::size_t(v.id_)];
  }
  Node& node(Var<S> v) { return const_cast<Node&>(std::as_const(*this).node(v)); }

  // The node of an input of the op `op`, which must live on this tape.
  const Node& node_of_input(const char* op, Var<S> in) const {
    if (in.tape_ != this)
      throw Error(op, in.tape_ ? "its inputs live on different tapes" : "an input is a default-constructed Var");
    return node(in);
  }

  Var<S> handle(const Node& n) noexcept { return Var<S>(this, std::int32_t(&n - nodes_.data()), generation_); }

  Node& push(const char* name, Index rows, Index cols) {
    nodes_.push_back(Node{name, nullptr, nullptr, nullptr, nullptr, nullptr, rows, cols, false, false, false});
    return nodes_.back();
  }

  Var<S> leaf(const char* name, const Eigen::Ref<const Matrix<S>>& m, bool needs_grad) {
    Node& n = push(name, m.rows(), m.cols());
    n.value = arena_.template allocate_array<S>(std::size_t(m.size()));
    detail::parallel_assign(View<S>(n.value, m.rows(), m.cols()), m);
    n.needs_grad = needs_grad && grad_enabled_;
    return handle(n);
  }

  static const S* column_input(const ConstView<S>& x) noexcept { return x.data(); }
  static detail::BroadcastColumn<S> column_input(detail::BroadcastColumn<S> x) noexcept { return x; }

  // If `v` needs a gradient, calls write(adjoint, first, count, add) on blocks that split the
  // adjoint over threads: blocks of columns, or of rows when `row_work` (the entries each row
  // reads) is not 0. `add` is false for the first contribution, which assigns, so no adjoint is
  // ever zero-filled needlessly.
  template <class Write>
  void write_adjoint(Var<S> v, Index row_work, Write&& write) {
    write_whole_adjoint(v, [&](View<S>& a, bool add) {
      if (row_work > 0)
        detail::for_each_column_block(row_work, a.rows(), [&](Index r, Index k) { write(a, r, k, add); });
      else
        detail::for_each_column_block(a.rows(), a.cols(), [&](Index c, Index k) { write(a, c, k, add); });
    });
  }

  // Whether the adjoint of `n` holds contributions (else the next one assigns). A Gradient
  // keeps it, so every leaf of the same parameter sees it.
  static bool& ready(Node& n) noexcept { return n.gradient ? n.gradient->dense_ready_ : n.adjoint_ready; }

  S* adjoint_storage(Node& n) {
    if (!n.adjoint) n.adjoint = arena_.template allocate_array<S>(std::size_t(n.rows * n.cols));
    return n.adjoint;
  }

  std::vector<Node> nodes_;
  Arena arena_;
  std::uint32_t generation_ = 0;  // clear() count, stamped on every Var
  bool check_finite_ = false;
  bool grad_enabled_ = true;
  Rng* noise_ = nullptr;
};

/// While alive, `tape.noise()` is `&rng` (the previous generator is restored after): how a
/// loss that takes an `Rng&` hands it to the networks it runs (see `Tape::set_noise`).
template <class S>
class NoiseFrom {
 public:
  NoiseFrom(Tape<S>& tape, Rng& rng) noexcept : tape_(tape), previous_(tape.noise()) { tape.set_noise(&rng); }
  ~NoiseFrom() { tape_.set_noise(previous_); }
  NoiseFrom(const NoiseFrom&) = delete;
  NoiseFrom& operator=(const NoiseFrom&) = delete;

 private:
  Tape<S>& tape_;
  Rng* previous_;
};

}  // namespace latent::inline v0
