// Builds against the installed latent::distributed: latent/distributed.hpp and MPI found.
#include <latent/distributed.hpp>
#include <latent/train.hpp>

#include <iostream>

int main() {
  latent::FitOptions<float> options;
  latent::LocalCommunicator alone;
  options.communicator = &alone;
  std::cout << "launched by mpirun: " << latent::MpiCommunicator::launched_by_mpi() << "\n";
}
