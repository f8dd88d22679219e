#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <catch2/catch.hpp>

#include "latent/data/fashion_mnist.hpp"
#include "support/skip.hpp"
#include "support/temp_dir.hpp"

using Catch::Matchers::Contains;

namespace {

bool installed() {
  return std::filesystem::exists(latent::fashion_mnist_default_dir / "train-labels-idx1-ubyte.gz") ||
         std::filesystem::exists(latent::fashion_mnist_default_dir / "train-labels-idx1-ubyte");
}

}  // namespace

TEST_CASE("Fashion-MNIST loads as 784 x 60000 and 784 x 10000 uint8 with labels 0..9", "[data]") {
  if (!installed()) LATENT_SKIP("needs the data set: apt-get install dataset-fashion-mnist");
  if (!latent::has_zlib) LATENT_SKIP("needs zlib to read the gzip files of Fashion-MNIST");
  const auto train = latent::fashion_mnist(latent::Split::train, latent::fashion_mnist_default_dir);
  CHECK(train.dim() == 784);
  CHECK(train.size() == 60000);
  REQUIRE(train.labels.size() == 60000);
  CHECK(train.labels.front() == 9);  // the first training image is an ankle boot
  CHECK(*std::min_element(train.labels.begin(), train.labels.end()) == 0);
  CHECK(*std::max_element(train.labels.begin(), train.labels.end()) == 9);
  CHECK(int(train.features.maxCoeff()) == 255);

  const auto test = latent::fashion_mnist(latent::Split::test, latent::fashion_mnist_default_dir);
  CHECK(test.dim() == 784);
  CHECK(test.size() == 10000);
  CHECK(std::count(test.labels.begin(), test.labels.end(), 3) == 1000);  // balanced: 1000 per class
}

TEST_CASE("missing Fashion-MNIST files say which package to install", "[data]") {
  latent_test::TempDir empty;
  CHECK_THROWS_AS(latent::fashion_mnist(latent::Split::test, empty.path()), latent::IoError);
  CHECK_THROWS_WITH(latent::fashion_mnist(latent::Split::test, empty.path()),
                    Contains("t10k-images-idx3-ubyte") && Contains("apt-get install dataset-fashion-mnist"));
}

TEST_CASE("LATENT_DATA overrides the default Fashion-MNIST directory", "[data]") {
  latent_test::TempDir empty;
  ::setenv("LATENT_DATA", empty.path().c_str(), 1);
  CHECK_THROWS_WITH(latent::fashion_mnist(latent::Split::train), Contains(empty.path().string()));
  ::unsetenv("LATENT_DATA");
}
