#pragma once
/// @file
/// Version of the latent headers. The inline namespace `latent::v0` carries the ABI major version,
/// so two incompatible copies of latent in one program fail to link instead of mixing silently.

/// Major part of the version; the inline namespace `v0` carries it.
#define LATENT_VERSION_MAJOR 0
/// Minor part of the version.
#define LATENT_VERSION_MINOR 1
/// Patch part of the version.
#define LATENT_VERSION_PATCH 0
/// The version as one number, MAJOR * 10000 + MINOR * 100 + PATCH, for `#if` comparisons.
#define LATENT_VERSION (LATENT_VERSION_MAJOR * 10000 + LATENT_VERSION_MINOR * 100 + LATENT_VERSION_PATCH)

namespace latent::inline v0 {

/// The version of the headers in use, e.g. "0.1.0".
inline constexpr const char* version_string = "0.1.0";

}  // namespace latent::inline v0
