#pragma once
/// @file
/// latent's distributions: the one home of probability. `DiagonalGaussian` (batched: posterior,
/// prior, divergence targets), `GaussianMixture`, the `Distribution` concept the divergences
/// take, and the observation models `Bernoulli` and `Gaussian` of decoders.

#include "latent/distributions/diagonal_gaussian.hpp"
#include "latent/distributions/distribution.hpp"
#include "latent/distributions/gaussian_mixture.hpp"
#include "latent/distributions/likelihood.hpp"
