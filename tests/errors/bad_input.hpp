#pragma once
// A row of the bad-input tables: a careless call and a fragment its error message must contain.

#include <functional>
#include <string>

namespace latent_test {

struct BadInput {
  std::string name;            // what the careless user did
  std::function<void()> call;  // does it
  std::string expected;        // a fragment of the message that names the option or value
};

}  // namespace latent_test
