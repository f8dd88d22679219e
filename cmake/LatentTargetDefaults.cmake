# Flags for latent's own targets (tests, examples, benchmarks). The `latent` INTERFACE target
# itself carries none: users keep their own flags.
find_package(OpenMP)

function(latent_target_defaults target)
  target_link_libraries(${target} PRIVATE latent::latent)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  # Eigen parallelises its GEMM with OpenMP; without it `--threads` has nothing to drive.
  if(OpenMP_CXX_FOUND)
    target_link_libraries(${target} PRIVATE OpenMP::OpenMP_CXX)
  endif()
endfunction()

# Examples and benchmarks: speed matters, and the machine they run on is the one they were built on.
function(latent_fast_target target)
  latent_target_defaults(${target})
  if(LATENT_NATIVE)
    target_compile_options(${target} PRIVATE -O3 -march=native)
  endif()
endfunction()
