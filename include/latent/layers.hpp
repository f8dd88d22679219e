#pragma once
/// @file
/// latent's layers: `Module`, `Parameter`, `Linear`, activations, `Sequential`, `Mlp`, `Init`.

#include "latent/layers/activation.hpp"
#include "latent/layers/conv.hpp"
#include "latent/layers/dropout.hpp"
#include "latent/layers/init.hpp"
#include "latent/layers/linear.hpp"
#include "latent/layers/mlp.hpp"
#include "latent/layers/module.hpp"
#include "latent/layers/norm.hpp"
#include "latent/layers/parameter.hpp"
#include "latent/layers/pool.hpp"
#include "latent/layers/sequential.hpp"
