#pragma once
/// @file
/// `Sequential`: modules applied one after another.

#include <memory>
#include <vector>

#include "latent/layers/module.hpp"

namespace latent::inline v0 {

/// A chain of modules, each fed the previous one's output. Children are named "0", "1", ...
template <class S>
class Sequential : public Module<S> {
 public:
  Sequential() = default;

  /// Appends a module constructed in place; returns it, typed, for further setup.
  template <class M, class... Args>
  M& emplace(Args&&... args) {
    auto m = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *m;
    layers_.push_back(std::move(m));
    return ref;
  }

  /// Appends an existing module.
  Sequential& add(std::unique_ptr<Module<S>> m) {
    layers_.push_back(std::move(m));
    return *this;
  }

  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    for (auto& m : layers_) x = m->forward(tape, x);
    return x;
  }

  /// Number of modules in the chain.
  [[nodiscard]] std::size_t size() const noexcept { return layers_.size(); }
  /// The i-th module.
  Module<S>& operator[](std::size_t i) { return *layers_.at(i); }

 protected:
  /// Lists the modules as children "0", "1", ... in order.
  void visit_children(const typename Module<S>::ChildVisitor& f) override {
    for (std::size_t i = 0; i < layers_.size(); ++i) f(std::to_string(i), *layers_[i]);
  }

 private:
  std::vector<std::unique_ptr<Module<S>>> layers_;
};

}  // namespace latent::inline v0
