# Flags for latent's own targets (tests, examples, benchmarks). The `latent` INTERFACE target
# itself carries none: users keep their own flags. No OpenMP: latent's threads are its own pool
# (core/thread_pool.hpp), and an OpenMP runtime's idle threads would spin on the same cores.
function(latent_target_defaults target)
  target_link_libraries(${target} PRIVATE latent::latent)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
endfunction()

# OpenBLAS (Debian's libopenblas-dev) as the optional route of latent's matrix products
# (LATENT_USE_BLAS, include/latent/kernels/blas.hpp): measured faster than Eigen's kernel on
# AVX-512 (docs/performance.md), so our examples and benchmarks take it when it is installed.
if(LATENT_BLAS)
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS QUIET)
  unset(BLA_VENDOR)
  find_path(LATENT_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-pthread openblas)
  if(BLAS_FOUND AND LATENT_CBLAS_INCLUDE_DIR)
    set(LATENT_HAVE_BLAS TRUE)
    message(STATUS "latent: matrix products of examples and benchmarks go to OpenBLAS (${BLAS_LIBRARIES})")
  else()
    message(STATUS "latent: OpenBLAS not found (apt-get install libopenblas-dev); Eigen's kernel it is")
  endif()
endif()

function(latent_use_blas target)
  target_link_libraries(${target} PRIVATE ${BLAS_LIBRARIES})
  target_include_directories(${target} PRIVATE ${LATENT_CBLAS_INCLUDE_DIR})
  target_compile_definitions(${target} PRIVATE LATENT_USE_BLAS=1)
endfunction()

# oneDNN (Debian's libdnnl-dev) as the optional route of latent's float products (LATENT_USE_DNNL,
# include/latent/kernels/dnnl.hpp): its brgemm kernels ran the VAEs' products 1.4-1.7x faster than
# Eigen's on AVX-512 (docs/performance.md). oneDNN's threads are OpenMP's; latent sets their count
# to 1 around each call, so it links the OpenMP runtime (without compiling with -fopenmp).
if(LATENT_DNNL)
  find_path(LATENT_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
  find_library(LATENT_DNNL_LIBRARY dnnl)
  find_package(OpenMP QUIET)
  if(LATENT_DNNL_INCLUDE_DIR AND LATENT_DNNL_LIBRARY AND OpenMP_CXX_FOUND)
    set(LATENT_HAVE_DNNL TRUE)
    message(STATUS "latent: float products of examples and benchmarks go to oneDNN (${LATENT_DNNL_LIBRARY})")
  else()
    message(STATUS "latent: oneDNN not found (apt-get install libdnnl-dev); float products stay on Eigen or OpenBLAS")
  endif()
endif()

function(latent_use_dnnl target)
  target_link_libraries(${target} PRIVATE ${LATENT_DNNL_LIBRARY} ${OpenMP_CXX_LIBRARIES})
  target_include_directories(${target} PRIVATE ${LATENT_DNNL_INCLUDE_DIR})
  target_compile_definitions(${target} PRIVATE LATENT_USE_DNNL=1)
endfunction()

# Examples and benchmarks: speed matters, and the machine they run on is the one they were built on.
function(latent_fast_target target)
  latent_target_defaults(${target})
  if(LATENT_HAVE_BLAS)
    latent_use_blas(${target})
  endif()
  if(LATENT_HAVE_DNNL)
    latent_use_dnnl(${target})
  endif()
  if(LATENT_NATIVE)
    target_compile_options(${target} PRIVATE -O3 -march=native)
    # GCC 12's AVX-512 intrinsic headers trip -W(maybe-)uninitialized on their own
    # _mm512_undefined_ps (GCC bug 105593, fixed in GCC 13); it is not about our code.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      target_compile_options(${target} PRIVATE -Wno-uninitialized -Wno-maybe-uninitialized)
    endif()
  endif()
endfunction()

# zlib (gzip'd IDX files) and libpng (PNG images) are optional for users: a translation unit
# opts in with LATENT_WITH_ZLIB / LATENT_WITH_PNG and links the library. Ours do when found.
find_package(ZLIB)
find_package(PNG)
function(latent_optional_codecs target)
  if(ZLIB_FOUND)
    target_link_libraries(${target} PRIVATE ZLIB::ZLIB)
    target_compile_definitions(${target} PRIVATE LATENT_WITH_ZLIB=1)
  endif()
  if(PNG_FOUND)
    target_link_libraries(${target} PRIVATE PNG::PNG)
    target_compile_definitions(${target} PRIVATE LATENT_WITH_PNG=1)
  endif()
endfunction()
