#pragma once
/// @file
/// latent's losses (namespace `latent::losses`): reconstruction likelihoods, Monte Carlo divergences
/// between distributions (`latent/distributions.hpp`), penalties. Units: nats per example unless a `Reduction` says otherwise.

#include "latent/losses/divergences.hpp"
#include "latent/losses/penalty.hpp"
#include "latent/losses/reconstruction.hpp"
#include "latent/losses/reduction.hpp"
#include "latent/losses/targets.hpp"
