#pragma once
/// @file
/// `Module`: the base of every layer and model. Forward on a tape, list parameters by dotted
/// name, switch between training and evaluation.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "latent/layers/parameter.hpp"

namespace latent::inline v0 {

/// The base of layers and models. A module owns its parameters and children by value (or
/// `unique_ptr`); it lists them on request rather than storing pointers to them, so modules can
/// be moved freely.
template <class S>
class Module {
 public:
  /// Called with a child's local name and the child.
  using ChildVisitor = std::function<void(const std::string&, Module&)>;
  /// Called with a parameter (its `name` is local to the module that owns it).
  using ParameterVisitor = std::function<void(Parameter<S>&)>;

  virtual ~Module() = default;

  /// Records the module applied to `x` (`features x batch`) on `tape` and returns the output.
  /// `const`: a module is its parameters, and applying it changes none of them (gradients are
  /// added into the parameters' accumulators later, by `Tape::backward`). Anything a pass needs,
  /// such as noise, comes in explicitly or is recorded on the tape.
  virtual Var<S> forward(Tape<S>& tape, Var<S> x) const = 0;

  /// Every trainable parameter, children's included, in a fixed order.
  std::vector<Parameter<S>*> parameters() {
    std::vector<Parameter<S>*> out;
    for (auto& [name, p] : named_parameters()) out.push_back(p);
    return out;
  }

  /// Every parameter with its dotted path, e.g. "encoder.layers.0.weight".
  std::vector<std::pair<std::string, Parameter<S>*>> named_parameters() {
    std::vector<std::pair<std::string, Parameter<S>*>> out;
    collect("", out);
    return out;
  }

  /// Total number of trainable scalars.
  Index num_parameters() {
    Index n = 0;
    for (Parameter<S>* p : parameters()) n += p->size();
    return n;
  }

  /// Sets every gradient to zero.
  void zero_grad() {
    for (Parameter<S>* p : parameters()) p->zero_grad();
  }

  /// Training mode (`true`, the default) or evaluation mode, for this module and its children.
  /// Modules whose forward differs (noise, dropout) read `is_training()`.
  void train(bool on = true) {
    training_ = on;
    visit_children([on](const std::string&, Module& m) { m.train(on); });
  }
  /// Evaluation mode: `train(false)`.
  void eval() { train(false); }
  /// Whether the module is in training mode.
  [[nodiscard]] bool is_training() const noexcept { return training_; }

 protected:
  Module() = default;
  /// Copies the training flag; derived modules copy their own members (protected: only a
  /// derived module copies its base).
  Module(const Module&) = default;
  /// Moves the training flag; derived modules move their own members.
  Module(Module&&) noexcept = default;
  /// Copy-assigns the training flag; derived modules assign their own members.
  Module& operator=(const Module&) = default;
  /// Move-assigns the training flag; derived modules assign their own members.
  Module& operator=(Module&&) noexcept = default;

  /// Lists this module's own parameters (not its children's). Default: none.
  virtual void visit_own_parameters(const ParameterVisitor&) {}
  /// Lists this module's children with their local names. Default: none.
  virtual void visit_children(const ChildVisitor&) {}

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Parameter<S>*>>& out) {
    visit_own_parameters([&](Parameter<S>& p) { out.emplace_back(prefix + p.name, &p); });
    visit_children([&](const std::string& name, Module& m) { m.collect(prefix + name + ".", out); });
  }

  bool training_ = true;
};

}  // namespace latent::inline v0
