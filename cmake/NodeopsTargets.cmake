# One helper per target kind. Every library reuses one precompiled header (Asio, Beast, simdjson):
# those headers cost ~30 s per translation unit on two cores otherwise.

set(NODEOPS_PCH ${CMAKE_SOURCE_DIR}/src/core/pch.h)

# nodeops_library(NAME SOURCES ... DEPS ...)
function(nodeops_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  nodeops_warnings(${name})
  if(NOT name STREQUAL "nodeops_core")
    target_precompile_headers(${name} REUSE_FROM nodeops_core)
  endif()
endfunction()

# nodeops_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with ctest.
function(nodeops_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_precompile_headers(${name} REUSE_FROM nodeops_core)
  nodeops_warnings(${name})
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
                       PROPERTIES LABELS unit
                       ENVIRONMENT "NODEOPS_FIXTURES=${CMAKE_SOURCE_DIR}/tests/fixtures")
endfunction()

# nodeops_fuzz(NAME SOURCE DEPS ...): a libFuzzer target under clang, else a corpus replayer.
function(nodeops_fuzz name)
  cmake_parse_arguments(ARG "" "SOURCE;CORPUS" "DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCE} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.cc)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  nodeops_warnings(${name})
  if(NODEOPS_FUZZ)
    target_compile_definitions(${name} PRIVATE NODEOPS_LIBFUZZER)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  else()
    target_precompile_headers(${name} REUSE_FROM nodeops_core)
    add_test(NAME fuzz.${name} COMMAND ${name} ${ARG_CORPUS})
    set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz)
  endif()
endfunction()
