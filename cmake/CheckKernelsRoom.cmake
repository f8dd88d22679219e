# ctest -P script: fails if a header outside include/latent/kernels/ uses Eigen::internal. The
# kernels room holds every packet intrinsic, the GEMM driver and the BLAS route, so the rest of
# the library reads as maths (docs/concepts.md). Run as: cmake -DROOT=<include/latent> -P this.
file(GLOB_RECURSE headers RELATIVE ${ROOT} ${ROOT}/*.hpp)
set(leaks "")
foreach(header IN LISTS headers)
  if(header MATCHES "^kernels/")
    continue()
  endif()
  file(STRINGS ${ROOT}/${header} lines REGEX "Eigen::internal")
  if(lines)
    list(APPEND leaks "include/latent/${header}")
  endif()
endforeach()
if(leaks)
  list(JOIN leaks "\n  " listed)
  message(FATAL_ERROR "Eigen::internal outside include/latent/kernels/ (move the kernel there, or write the "
                      "formula with detail::Lanes):\n  ${listed}")
endif()
list(LENGTH headers count)
message(STATUS "${count} headers checked: Eigen::internal only in kernels/")
