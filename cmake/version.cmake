# Run at build time (cmake -P) by the nodeops_version_source target of the top-level CMakeLists:
# writes OUT, a C++ source defining nodeops::kVersion, from OVERRIDE when given, else from
# `git describe --tags --always --dirty` of SRC, else FALLBACK (the project version: no git in a
# source tarball or the Docker build context). configure_file rewrites OUT only when the text
# changes, so an unchanged version rebuilds nothing.
set(version "${OVERRIDE}")
if(version STREQUAL "")
  find_program(GIT git)
  if(GIT)
    execute_process(COMMAND ${GIT} -C ${SRC} describe --tags --always --dirty
                    OUTPUT_VARIABLE version OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      set(version "")
    endif()
  endif()
endif()
if(version STREQUAL "")
  set(version "${FALLBACK}")
endif()
set(NODEOPS_VERSION_STRING "${version}")
configure_file(${SRC}/cmake/version.cc.in ${OUT} @ONLY)
