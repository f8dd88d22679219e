#pragma once
/// @file
/// latent's models: autoencoders and variational autoencoders, and k-means and k-NN for their
/// codes. `latent/models/pca.hpp` is opt-in: it pulls in Eigen's eigenvalue module.

#include "latent/models/autoencoder.hpp"
#include "latent/models/checks.hpp"
#include "latent/models/conv_vae.hpp"
#include "latent/models/decoder.hpp"
#include "latent/models/gaussian_encoder.hpp"
#include "latent/models/kmeans.hpp"
#include "latent/models/knn.hpp"
#include "latent/models/vae.hpp"
