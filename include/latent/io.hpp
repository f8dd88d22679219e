#pragma once
/// @file
/// latent's opt-in io module (not included by latent/latent.hpp): images, image grids, plots and
/// PNG files. PNG needs libpng: define LATENT_WITH_PNG and link PNG::PNG.

#include "latent/io/atomic_write.hpp"
#include "latent/io/canvas.hpp"
#include "latent/io/font5x7.hpp"
#include "latent/io/image.hpp"
#include "latent/io/image_grid.hpp"
#include "latent/io/output_dir.hpp"
#include "latent/io/plot.hpp"
#include "latent/io/png.hpp"
