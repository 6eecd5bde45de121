# cmake -DBUILD=<build dir> -DSOURCE=<source dir> -DWORK=<scratch dir> -P run_install_test.cmake
# Installs the build into WORK/prefix, configures and builds tests/install against it with
# find_package(pathcheck), and runs the result. Any failing step fails the test.
file(REMOVE_RECURSE ${WORK})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
step(${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)
if(NOT EXISTS ${WORK}/prefix/bin/pathcheck)
  message(FATAL_ERROR "cmake --install did not install bin/pathcheck")
endif()
step(${CMAKE_COMMAND} -S ${SOURCE}/tests/install -B ${WORK}/build -DCMAKE_PREFIX_PATH=${WORK}/prefix
     -DCMAKE_BUILD_TYPE=Release ${EXTRA_ARGS})
step(${CMAKE_COMMAND} --build ${WORK}/build -j2)
step(${WORK}/build/outside_adapter)
