# Builds and runs tests/consumer/main.cpp the way a Makefile project would: with the flags that
# `pkg-config --cflags latent` gives for the installed latent.pc, and nothing from CMake.
# cmake -DPREFIX=<install prefix> -DPC_DIR=<folder of latent.pc> -DSOURCE=main.cpp -DCOMPILER=c++
#       -DOUTPUT=<executable> -P pkg_config.cmake
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${PC_DIR}")
execute_process(COMMAND ${PKG_CONFIG} --cflags latent OUTPUT_VARIABLE cflags RESULT_VARIABLE rc
                ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags latent failed: ${err}")
endif()
# The include folder must be the one installed under PREFIX, whatever prefix was configured.
file(REAL_PATH "${PREFIX}/include" expected)
string(REGEX MATCH "-I([^ ]*/include)( |$)" _ "${cflags} ")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "pkg-config gave no -I.../include: '${cflags}'")
endif()
file(REAL_PATH "${CMAKE_MATCH_1}" found)
if(NOT found STREQUAL expected)
  message(FATAL_ERROR "pkg-config points at ${found}, but latent is installed in ${expected} ('${cflags}')")
endif()
separate_arguments(flags UNIX_COMMAND "${cflags}")
execute_process(COMMAND ${COMPILER} ${flags} ${SOURCE} -o ${OUTPUT} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling with pkg-config's flags failed: ${err}")
endif()
execute_process(COMMAND ${OUTPUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OUTPUT} failed")
endif()
