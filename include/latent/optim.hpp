#pragma once
/// @file
/// latent's optimizers: `Sgd`, `Adam`, `AdamW`, `RmsProp` on the `Optimizer` base, gradient
/// clipping and learning-rate schedules.

#include "latent/optim/adam.hpp"
#include "latent/optim/clip.hpp"
#include "latent/optim/optimizer.hpp"
#include "latent/optim/rmsprop.hpp"
#include "latent/optim/schedule.hpp"
#include "latent/optim/sgd.hpp"
