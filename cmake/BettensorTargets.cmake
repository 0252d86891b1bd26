# Warning flags for the project's own targets only (third-party headers stay untouched). Warnings
# are errors where BETTENSOR_WERROR is on (CI turns it on): a user's build with another compiler
# or build type is not stopped by a warning that compiler invents.
function(bettensor_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  # GCC 12 sees Asio's coroutine-frame operator new (its recycling allocator) inlined next to the
  # matching aligned free and reports a mismatch: a false positive of GCC 12, in every target
  # with an awaitable (the transport, the miner, tests).
  target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
  if(BETTENSOR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(BETTENSOR_BUILD_FUZZ AND NOT target STREQUAL "bettensor_transport")
    if(NOT DEFINED BETTENSOR_FUZZ_COVERED OR target IN_LIST BETTENSOR_FUZZ_COVERED
       OR target MATCHES "_fuzz$")
      target_compile_options(${target} PRIVATE ${BETTENSOR_FUZZ_FLAGS})
    endif()
  endif()
endfunction()

# In a fuzz build, instruments only the listed sources of `target` (see modules/transport).
function(bettensor_fuzz_instrument target)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  if(BETTENSOR_BUILD_FUZZ)
    set_source_files_properties(${ARG_SOURCES} TARGET_DIRECTORY ${target}
                                PROPERTIES COMPILE_OPTIONS "${BETTENSOR_FUZZ_FLAGS}")
  endif()
endfunction()

# A GoogleTest executable, discovered into CTest with a per-test timeout.
function(bettensor_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  bettensor_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE BETTENSOR_TESTDATA_DIR="${BETTENSOR_TESTDATA_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${ARG_TIMEOUT})
endfunction()
