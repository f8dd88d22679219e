# One mutation test (tests/mutation/mutations.cmake): build the mutant, run its test source, and
# pass only if some test failed. Arguments: BUILD (build tree), TARGET, BINARY, STALE (non-empty
# when the planted text no longer occurs exactly once in its header).
if(STALE)
  message(FATAL_ERROR "stale mutation: ${STALE}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD} --target ${TARGET} RESULT_VARIABLE built
                OUTPUT_VARIABLE log ERROR_VARIABLE log)
if(NOT built EQUAL 0)
  message(FATAL_ERROR "the mutant ${TARGET} does not compile, so it proves nothing:\n${log}")
endif()
execute_process(COMMAND ${BINARY} RESULT_VARIABLE ran OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(ran EQUAL 0)
  message(FATAL_ERROR "the mutant survived: every test of ${TARGET} passed with the planted bug")
elseif(ran EQUAL 77)
  message(FATAL_ERROR "the tests of ${TARGET} skipped, so they cannot judge the mutant")
endif()
string(REGEX MATCH "[^\n]*FAILED[^\n]*\n[^\n]*\n[^\n]*" first_failure "${out}")
message(STATUS "killed (exit ${ran}): ${first_failure}")
