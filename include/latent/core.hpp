#pragma once
/// @file
/// latent's core module: version, scalar and matrix types, errors, random numbers, threads.

#include "latent/core/error.hpp"
#include "latent/core/rng.hpp"
#include "latent/core/scalar.hpp"
#include "latent/core/sizes.hpp"
#include "latent/core/threads.hpp"
#include "latent/core/version.hpp"
