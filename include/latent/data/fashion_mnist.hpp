#pragma once
/// @file
/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): 28x28 gray images of clothing in 10 classes,
/// 60000 for training and 10000 for testing, as installed by Debian's `dataset-fashion-mnist`.

#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "latent/core/error.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/idx.hpp"

namespace latent::inline v0 {

/// Which part of a dataset with a fixed train/test partition to load.
enum class Split { train, test };

/// Fashion-MNIST image height and width, in pixels.
inline constexpr int fashion_mnist_side = 28;

/// The names of the ten Fashion-MNIST classes, indexed by label.
inline constexpr std::array<const char*, 10> fashion_mnist_classes = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

/// Where Debian's `dataset-fashion-mnist` package installs the four files.
inline const std::filesystem::path fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

/// Loads the Fashion-MNIST `split` as 784 x N uint8 pixels (0..255) with labels 0..9.
/// The directory is `dir` if not empty, else the `LATENT_DATA` environment variable if set, else
/// `fashion_mnist_default_dir`; it must hold `{train,t10k}-{images-idx3,labels-idx1}-ubyte`,
/// each either gzip-compressed (`.gz`, needs `LATENT_WITH_ZLIB`) or plain.
/// Throws `IoError` (saying how to install the package) when a file is missing, and
/// `FormatError` when one is malformed.
[[nodiscard]] inline Uint8Dataset fashion_mnist(Split split, std::filesystem::path dir = {}) {
  if (dir.empty()) {
    const char* env = std::getenv("LATENT_DATA");
    dir = env && *env ? std::filesystem::path(env) : fashion_mnist_default_dir;
  }
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const auto find = [&](const std::string& kind) {
    const auto plain = dir / (prefix + "-" + kind + "-ubyte");
    for (const auto& p : {std::filesystem::path(plain.string() + ".gz"), plain})
      if (std::filesystem::exists(p)) return p;
    throw IoError(plain.string() + ".gz",
                  "Fashion-MNIST not found: apt-get install "
                  "dataset-fashion-mnist, or point LATENT_DATA at a "
                  "directory holding the IDX files");
  };
  const auto images = find("images-idx3");  // looked up first, so it is the one reported missing
  return read_idx(images, find("labels-idx1"));
}

}  // namespace latent::inline v0
