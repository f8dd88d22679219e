#pragma once
/// @file
/// Everything in latent except the opt-in `io/` headers (checkpoints, images, plots).

#include "latent/autodiff.hpp"
#include "latent/core.hpp"
#include "latent/data.hpp"
#include "latent/distributions.hpp"
#include "latent/layers.hpp"
#include "latent/losses.hpp"
#include "latent/models.hpp"
#include "latent/optim.hpp"
#include "latent/train/divergence_guard.hpp"
#include "latent/train/progress.hpp"
