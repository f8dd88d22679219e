#pragma once
/// @file
/// `conv_vae`: the convolutional VAE on images (DCGAN-style, no batch norm), built from a conv
/// trunk, a transposed-conv decoder network and the library's Gaussian head and likelihood.

#include <string>
#include <vector>

#include "latent/layers/activation.hpp"
#include "latent/layers/conv.hpp"
#include "latent/layers/linear.hpp"
#include "latent/layers/sequential.hpp"
#include "latent/models/vae.hpp"

namespace latent::inline v0 {

/// Options of `conv_vae`. The defaults are the reference conv VAE on 28 x 28 grey images
/// (258,025 parameters): encoder Conv2d(1, 32, k4, s2, p1) + ReLU (28 -> 14), Conv2d(32, 64, k4,
/// s2, p1) + ReLU (14 -> 7), flattened 3136 -> Linear(3136, 2 x 20); decoder Linear(20, 3136) +
/// ReLU, 64 x 7 x 7, ConvTranspose2d(64, 32, k4, s2, p1) + ReLU (7 -> 14), ConvTranspose2d(32, 1,
/// k4, s2, p1) = the logits (14 -> 28).
struct ConvVaeOptions {
  ImageShape image = {1, 28, 28};          ///< each input image, C x H x W (x has C H W rows)
  std::vector<Index> channels = {32, 64};  ///< channels after each encoder conv (the decoder mirrors them)
  ConvOptions window = {.kernel = 4, .stride = 2, .padding = 1};  ///< every conv's window
  Index latent = 20;                                              ///< D, dimension of z
  Likelihood likelihood = Likelihood::bernoulli;                  ///< p(x | z)
  double sigma = 1.0;                                             ///< Gaussian: fixed standard deviation
  bool learn_variance = false;                                    ///< Gaussian: learn a per-pixel log-variance instead
};

/// The convolutional VAE of `options` (by default the reference model above), initialised from
/// `rng` in the order encoder trunk, encoder head, decoder. Each decoder transposed conv gets the
/// `output_padding` that brings it back to the size of the matching encoder image, so any stack
/// whose sizes can be retraced works. Throws `ShapeError` naming the layer and the geometry when
/// a conv would give an empty image or a decoder cannot retrace an encoder size, and naming the
/// option for a size below 1.
template <class S>
Vae<S> conv_vae(const ConvVaeOptions& options, Rng& rng) {
  require_size("conv_vae", "latent", options.latent);
  if (options.channels.empty()) throw ShapeError("conv_vae", "channels must list at least one conv layer");
  require_sizes("conv_vae", "channels", options.channels);
  // q(z | x): [Conv2d + ReLU] per entry of channels; the head reads the last image, flattened.
  std::vector<ImageShape> shapes{options.image};
  Sequential<S> trunk;
  for (Index c : options.channels) {
    const auto& conv = trunk.template emplace<Conv2d<S>>(shapes.back(), c, options.window, rng);
    trunk.template emplace<ReLU<S>>();
    shapes.push_back(conv.output_shape());
  }
  const ImageShape code_image = shapes.back();
  trunk.template emplace<Flatten<S>>(code_image);
  GaussianEncoder<S> encoder(std::move(trunk), {.input = code_image.size(), .latent = options.latent}, rng);
  // p(x | z): Linear + ReLU to the last encoder image, then the transposed convs back up, ReLU
  // between them, none after the last (its output is the logits or the mean).
  Sequential<S> network;
  network.template emplace<Linear<S>>(options.latent, code_image.size(), rng);
  network.template emplace<ReLU<S>>();
  network.template emplace<Unflatten<S>>(code_image);
  for (std::size_t l = shapes.size() - 1; l > 0; --l) {
    const ImageShape& from = shapes[l];
    const ImageShape& to = shapes[l - 1];
    ConvOptions w = options.window;
    const auto missing = [&](Index in, Index target) {
      return target - ((in - 1) * w.stride - 2 * w.padding + w.dilation * (w.kernel - 1) + 1);
    };
    w.output_padding = missing(from.height, to.height);
    if (w.output_padding != missing(from.width, to.width) || w.output_padding < 0 ||
        w.output_padding >= std::max(w.stride, w.dilation))
      throw ShapeError("conv_vae", "the decoder cannot turn " + to_string(from) + " back into " + to_string(to) +
                                       " with kernel " + std::to_string(w.kernel) + ", stride " +
                                       std::to_string(w.stride) + ", padding " + std::to_string(w.padding) +
                                       " (choose image sizes that each conv halves exactly)");
    network.template emplace<ConvTranspose2d<S>>(from, to.channels, w, rng);
    if (l > 1) network.template emplace<ReLU<S>>();
  }
  Decoder<S> decoder(std::move(network), {.likelihood = options.likelihood,
                                          .sigma = options.sigma,
                                          .learn_variance = options.learn_variance,
                                          .features = options.image.size()});
  return Vae<S>(std::move(encoder), std::move(decoder), options.image.size());
}

}  // namespace latent::inline v0
