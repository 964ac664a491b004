# Test helpers. Labels: unit, mpi, gpu, e2e (ctest -L <label>).
find_package(GTest REQUIRED)

# Ranks beyond the cores and mpirun as root both need permission; these variables give it to
# every test without changing how users launch. MMAUX_TEST_RUNTIME_ENV (set with
# MMAUX_DEPS_PREFIX) runs the bundle's Open MPI.
set(MMAUX_MPI_TEST_ENV
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
  OMP_NUM_THREADS=1 ${MMAUX_TEST_RUNTIME_ENV})

# Tests under tests/unit/<area>/ or tests/<area>/ see the private headers of that area (white-box
# tests), and of no other.
function(mmaux_test_private_roots target)
  get_filename_component(_area ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/src/${_area})
    mmaux_private_roots(${_area} _private)
    target_include_directories(${target} PRIVATE ${_private})
  endif()
endfunction()

# Test binaries reuse the libtorch precompiled header; they are compiled like the libraries
# (-fPIC rather than -fPIE) so that the header stays valid for them.
function(mmaux_test_pch target)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_compile_options(${target} PRIVATE -fPIC)
  mmaux_use_torch_pch(${target})
endfunction()

# mmaux_add_unit_test(NAME <name> SOURCES ... [LIBS ...] [LABELS ...] [TIMEOUT <s>])
# One gtest binary, one ctest entry, labelled `unit` (plus LABELS).
function(mmaux_add_unit_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} mmaux_test_support GTest::gtest_main
                        mmaux_warnings)
  mmaux_test_private_roots(${ARG_NAME})
  mmaux_test_pch(${ARG_NAME})
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  set(_env OMP_NUM_THREADS=1 MMAUX_SOURCE_DIR=${PROJECT_SOURCE_DIR}
           MMAUX_BINARY_DIR=${PROJECT_BINARY_DIR} ${MMAUX_TEST_RUNTIME_ENV})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "unit;${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
                       ENVIRONMENT "${_env}")
endfunction()

# mmaux_add_mpi_test(NAME <name> SOURCES ... [LIBS ...] [RANKS 1 2 4] [LABELS ...] [TIMEOUT <s>])
# One gtest binary (with an MPI-aware main) registered under mpirun once per world size, as
# <name>_np<N>, labelled `mpi`. The TIMEOUT ends a deadlocked collective instead of hanging CI.
function(mmaux_add_mpi_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SOURCES;LIBS;RANKS;LABELS" ${ARGN})
  if(NOT ARG_RANKS)
    set(ARG_RANKS 1 2 4)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} mmaux_test_support mmaux_test_mpi_main
                        mmaux_warnings)
  mmaux_test_private_roots(${ARG_NAME})
  mmaux_test_pch(${ARG_NAME})
  foreach(n IN LISTS ARG_RANKS)
    add_test(NAME ${ARG_NAME}_np${n}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${MPIEXEC_PREFLAGS}
                     $<TARGET_FILE:${ARG_NAME}> ${MPIEXEC_POSTFLAGS})
    set_tests_properties(${ARG_NAME}_np${n} PROPERTIES LABELS "mpi;${ARG_LABELS}"
      TIMEOUT ${ARG_TIMEOUT} PROCESSORS ${n}
      ENVIRONMENT "${MMAUX_MPI_TEST_ENV};MMAUX_SOURCE_DIR=${PROJECT_SOURCE_DIR};MMAUX_BINARY_DIR=${PROJECT_BINARY_DIR}")
  endforeach()
endfunction()

# mmaux_add_collective_test(NAME <name> SOURCES ... [LIBS ...] [TIMEOUT <s>])
# One source, two harnesses (tests/support/collective_test.h): <name>_np1/2/4 under mpirun on the
# MPI communicator (label mpi), and <name>_threads running every test at 1, 2 and 4 threads of
# one process on thread communicators (label unit).
function(mmaux_add_collective_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  mmaux_add_mpi_test(NAME ${ARG_NAME} SOURCES ${ARG_SOURCES} LIBS ${ARG_LIBS}
                     TIMEOUT ${ARG_TIMEOUT})
  target_compile_definitions(${ARG_NAME} PRIVATE MMAUX_COLLECTIVE_THREADS=0)
  mmaux_add_unit_test(NAME ${ARG_NAME}_threads SOURCES ${ARG_SOURCES} LIBS ${ARG_LIBS}
                      TIMEOUT ${ARG_TIMEOUT})
  target_compile_definitions(${ARG_NAME}_threads PRIVATE MMAUX_COLLECTIVE_THREADS=1)
endfunction()

# mmaux_add_script_test(NAME <name> COMMAND ... [LABELS ...] [TIMEOUT <s>])
# A shell-level test (e2e, launch scripts); runs with the MPI test environment.
function(mmaux_add_script_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_COMMAND})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "${MMAUX_MPI_TEST_ENV};MMAUX_SOURCE_DIR=${PROJECT_SOURCE_DIR};MMAUX_BINARY_DIR=${PROJECT_BINARY_DIR};MMAUX_BIN=$<TARGET_FILE:mmaux>;MPIEXEC=${MPIEXEC_EXECUTABLE}")
endfunction()
