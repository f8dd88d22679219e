#pragma once
/// @file
/// `CodePenalty`: the Omega(z) of regularized and sparse autoencoders, chosen by value.

#include <string>

#include "latent/layers/activation.hpp"
#include "latent/losses/penalty.hpp"

namespace latent::inline v0 {

/// Which Omega(z) a regularized or sparse autoencoder adds to L(x, g(f(x))). z = f(x) is the
/// code, the hidden activity the decoder reads.
enum class CodePenalty {
  none,         ///< Omega = 0
  l2,           ///< Omega(z) = sum_i z_i^2 per example: small codes (regularized AE)
  l1,           ///< Omega(z) = sum_i |z_i| per example: exact zeros (sparse AE)
  kl_sparsity,  ///< Omega(z) = sum_j KL(rho || rho_hat_j), rho_hat_j the batch mean of sigmoid unit j (sparse AE)
};

/// "none", "l2", "l1" or "kl_sparsity".
inline const char* to_string(CodePenalty p) noexcept {
  switch (p) {
    case CodePenalty::none:
      return "none";
    case CodePenalty::l2:
      return "l2";
    case CodePenalty::l1:
      return "l1";
    case CodePenalty::kl_sparsity:
      return "kl_sparsity";
  }
  return "?";
}

/// Parses the name `to_string` gives; throws `Error` naming the unknown value otherwise.
inline CodePenalty parse_code_penalty(const std::string& name) {
  for (CodePenalty p : {CodePenalty::none, CodePenalty::l2, CodePenalty::l1, CodePenalty::kl_sparsity})
    if (name == to_string(p)) return p;
  throw Error("code penalty", "unknown penalty '" + name + "' (expected none, l2, l1 or kl_sparsity)");
}

/// Throws `Error` unless `p` can be applied to codes from `code_activation`: KL sparsity reads
/// the code as firing rates, so it needs sigmoid codes in (0, 1), and rho in (0, 1).
inline void check_code_penalty(CodePenalty p, Activation code_activation, double rho) {
  if (p != CodePenalty::kl_sparsity) return;
  if (code_activation != Activation::sigmoid)
    throw Error("code penalty",
                std::string("kl_sparsity needs sigmoid codes (rates in (0, 1)), but the code activation is ") +
                    to_string(code_activation));
  if (!(rho > 0 && rho < 1))
    throw NumericError("code penalty", std::string("kl_sparsity needs rho in (0, 1), got ") + std::to_string(rho));
}

/// Omega(z) for codes z (latent x batch), unweighted, 1x1: l1 and l2 are averaged over the
/// batch (per example); KL sparsity is a property of the batch's mean rates (in nats). `none`
/// has no Var to return and is the caller's to skip (`Error` here).
template <class S>
Var<S> code_penalty(CodePenalty p, Var<S> z, double rho) {
  switch (p) {
    case CodePenalty::l2:
      return losses::l2_penalty(z);
    case CodePenalty::l1:
      return losses::l1_penalty(z);
    case CodePenalty::kl_sparsity:
      return losses::kl_sparsity(z, rho);
    case CodePenalty::none:
      break;
  }
  throw Error("code penalty", "no penalty to compute for 'none'");
}

}  // namespace latent::inline v0
