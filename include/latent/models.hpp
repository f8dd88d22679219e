#pragma once
/// @file
/// latent's models: autoencoders and variational autoencoders.

#include "latent/models/decoder.hpp"
#include "latent/models/gaussian_encoder.hpp"
#include "latent/models/likelihood.hpp"
#include "latent/models/vae.hpp"
