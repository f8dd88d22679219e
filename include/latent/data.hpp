#pragma once
/// @file
/// latent's data module: datasets (float or compact uint8), IDX / Fashion-MNIST / CSV readers,
/// the `Batcher`, normalization, binarization and splits.

#include "latent/data/batcher.hpp"
#include "latent/data/binarize.hpp"
#include "latent/data/csv.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/fashion_mnist.hpp"
#include "latent/data/gzip.hpp"
#include "latent/data/idx.hpp"
#include "latent/data/normalizer.hpp"
#include "latent/data/read_bytes.hpp"
#include "latent/data/shuffle.hpp"
#include "latent/data/split.hpp"
