// Uses the installed latent through its umbrella header; prints "latent X.Y.Z ok" on success.
#include <latent/latent.hpp>

#include <iostream>

int main() {
  latent::Rng a(42), b(42);
  const bool same = a.next_u64() == b.next_u64();
  std::cout << "latent " << latent::version_string << (same ? " ok" : " FAILED") << "\n";
  return same ? 0 : 1;
}
