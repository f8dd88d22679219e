#pragma once
/// @file
/// Parameter names of PyTorch models that latent's models mirror, as `TensorNames` maps for
/// `save_safetensors` / `load_safetensors`.

#include "latent/io/safetensors.hpp"

namespace latent::inline v0 {

/// The `state_dict` names of the reference PyTorch VAE (pytorch/examples, vae/main.py: fc1
/// 784 -> 400, fc21 and fc22 400 -> 20 for mu and log-variance, fc3 20 -> 400, fc4 400 -> 784)
/// for latent's `Vae<S>::mlp` with one hidden layer (the default options). latent's encoder head
/// is one Linear of 2D outputs, mu over log-variance, so "encoder.head.weight" is fc21.weight
/// stacked over fc22.weight (and the biases likewise). Torch's model ends in a sigmoid and a
/// binary cross-entropy; latent's decoder yields the logits and a Bernoulli likelihood on them:
/// the same model.
[[nodiscard]] inline TensorNames torch_reference_vae_names() {
  return {{"encoder.trunk.0.weight", {"fc1.weight"}},
          {"encoder.trunk.0.bias", {"fc1.bias"}},
          {"encoder.head.weight", {"fc21.weight", "fc22.weight"}},
          {"encoder.head.bias", {"fc21.bias", "fc22.bias"}},
          {"decoder.network.0.weight", {"fc3.weight"}},
          {"decoder.network.0.bias", {"fc3.bias"}},
          {"decoder.network.1.weight", {"fc4.weight"}},
          {"decoder.network.1.bias", {"fc4.bias"}}};
}

}  // namespace latent::inline v0
