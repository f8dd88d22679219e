#pragma once
/// @file
/// latent's reverse-mode autodiff: `Tape`, `Var` and every op. `grad_check` is in
/// `latent/autodiff/grad_check.hpp`.

#include "latent/autodiff/ops/activation.hpp"
#include "latent/autodiff/ops/conv.hpp"
#include "latent/autodiff/ops/dropout.hpp"
#include "latent/autodiff/ops/elementwise.hpp"
#include "latent/autodiff/ops/fused.hpp"
#include "latent/autodiff/ops/linear.hpp"
#include "latent/autodiff/ops/norm.hpp"
#include "latent/autodiff/ops/pool.hpp"
#include "latent/autodiff/ops/reduce.hpp"
#include "latent/autodiff/ops/rows.hpp"
#include "latent/autodiff/ops/shape.hpp"
#include "latent/autodiff/tape.hpp"
#include "latent/core.hpp"
