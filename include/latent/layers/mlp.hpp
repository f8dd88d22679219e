#pragma once
/// @file
/// `Mlp`: the multi-layer perceptron of the lecture, h^(l+1) = sigma(W_l h^(l) + b_l).

#include <vector>

#include "latent/layers/activation.hpp"
#include "latent/layers/linear.hpp"

namespace latent::inline v0 {

/// Options of `Mlp`.
struct MlpOptions {
  std::vector<Index> sizes;                  ///< widths from input to output, e.g. {784, 400, 20}
  Activation hidden = Activation::relu;      ///< after every layer but the last
  Activation output = Activation::identity;  ///< after the last layer
  LinearOptions linear = {};                 ///< bias and init of every layer
};

/// A stack of `Linear` layers with an activation after each: `hidden` between layers, `output`
/// after the last. Children are named "0", "1", ... (one per Linear).
template <class S>
class Mlp : public Module<S> {
 public:
  /// Needs at least two sizes (input and output), all positive; throws `ShapeError` otherwise.
  Mlp(const MlpOptions& options, Rng& rng) : hidden_(options.hidden), output_(options.output) {
    if (options.sizes.size() < 2) throw ShapeError("Mlp", "needs at least an input and an output size");
    require_sizes("Mlp", "sizes", options.sizes);
    for (std::size_t l = 0; l + 1 < options.sizes.size(); ++l)
      layers_.emplace_back(options.sizes[l], options.sizes[l + 1], rng, options.linear);
  }

  Var<S> forward(Tape<S>& tape, Var<S> x) const override {
    for (std::size_t l = 0; l < layers_.size(); ++l)
      x = activate(l + 1 < layers_.size() ? hidden_ : output_, layers_[l].forward(tape, x));
    return x;
  }

  /// Number of Linear layers.
  [[nodiscard]] std::size_t depth() const noexcept { return layers_.size(); }
  /// The l-th Linear layer.
  Linear<S>& layer(std::size_t l) { return layers_.at(l); }
  /// Read-only `layer`.
  const Linear<S>& layer(std::size_t l) const { return layers_.at(l); }
  /// Input width.
  [[nodiscard]] Index in_features() const noexcept { return layers_.front().in_features(); }
  /// Output width.
  [[nodiscard]] Index out_features() const noexcept { return layers_.back().out_features(); }
  /// Activation between layers.
  [[nodiscard]] Activation hidden_activation() const noexcept { return hidden_; }
  /// Activation after the last layer.
  [[nodiscard]] Activation output_activation() const noexcept { return output_; }

 protected:
  /// Lists the layers as children "0", "1", ...
  void visit_children(const typename Module<S>::ChildVisitor& f) override {
    for (std::size_t l = 0; l < layers_.size(); ++l) f(std::to_string(l), layers_[l]);
  }

 private:
  std::vector<Linear<S>> layers_;
  Activation hidden_, output_;
};

}  // namespace latent::inline v0
