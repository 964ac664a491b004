# Finds every external dependency once and exposes it as an imported target.
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(MPI REQUIRED COMPONENTS C)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(nlohmann_json 3 REQUIRED)
# utf8proc: the tokenizers, also in the GPU subset (training writes RUN/best's input spec with
# them). Found without pkg-config, which a bare GPU machine with the bundle lacks.
if(NOT TARGET mmaux_utf8proc)
  find_path(MMAUX_UTF8PROC_INCLUDE utf8proc.h REQUIRED)
  find_library(MMAUX_UTF8PROC_LIBRARY utf8proc REQUIRED)
  add_library(mmaux_utf8proc INTERFACE)
  target_link_libraries(mmaux_utf8proc INTERFACE ${MMAUX_UTF8PROC_LIBRARY})
  target_include_directories(mmaux_utf8proc SYSTEM INTERFACE ${MMAUX_UTF8PROC_INCLUDE})
endif()
if(NOT MMAUX_GPU_SUBSET)  # preprocessing only: image decoding
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(VIPS REQUIRED IMPORTED_TARGET vips)
endif()

# libtorch: Debian's libtorch-dev (CPU) here, any libtorch >= 1.13 (CUDA builds too) elsewhere:
# through its CMake package (Torch_DIR), or with MMAUX_TORCH_FROM_PYTHON straight from a Python
# install of PyTorch (no nvcc needed; cmake/MmauxTorchPython.cmake).
option(MMAUX_TORCH_FROM_PYTHON "Take libtorch from MMAUX_PYTHON's torch package instead of its CMake package" OFF)
set(MMAUX_TORCH_DEFINITIONS)
if(MMAUX_TORCH_FROM_PYTHON)
  include(MmauxTorchPython)
else()
  find_package(Torch REQUIRED)
endif()
# OpenMP: at::parallel_for is a header template that runs serially in a translation unit compiled
# without OpenMP (ATen/ParallelOpenMP.h tests _OPENMP), so every file that uses it needs -fopenmp
# (the same libgomp that libtorch links).
find_package(OpenMP REQUIRED COMPONENTS CXX)
if(NOT TARGET mmaux_torch)
  add_library(mmaux_torch INTERFACE)
  target_link_libraries(mmaux_torch INTERFACE ${TORCH_LIBRARIES} OpenMP::OpenMP_CXX)
  target_include_directories(mmaux_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  target_compile_definitions(mmaux_torch INTERFACE ${MMAUX_TORCH_DEFINITIONS})
endif()

if(NOT TARGET mmaux_hdf5)
  add_library(mmaux_hdf5 INTERFACE)
  target_link_libraries(mmaux_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
  target_include_directories(mmaux_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_compile_definitions(mmaux_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

# NCCL backend: AUTO turns it on when the CUDA toolkit and NCCL are both found.
set(MMAUX_WITH_NCCL_VALUE 0)
if(NOT MMAUX_WITH_NCCL STREQUAL "OFF")
  if(NOT CUDAToolkit_FOUND)  # MMAUX_TORCH_FROM_PYTHON may have found cudart already
    find_package(CUDAToolkit QUIET)
  endif()
  find_package(NCCL QUIET)
  if(CUDAToolkit_FOUND AND NCCL_FOUND)
    set(MMAUX_WITH_NCCL_VALUE 1)
  elseif(MMAUX_WITH_NCCL STREQUAL "ON")
    message(FATAL_ERROR "MMAUX_WITH_NCCL=ON but CUDA toolkit found=${CUDAToolkit_FOUND}, NCCL found=${NCCL_FOUND}")
  endif()
endif()
message(STATUS "mmaux: NCCL backend ${MMAUX_WITH_NCCL_VALUE} (MMAUX_WITH_NCCL=${MMAUX_WITH_NCCL})")

find_program(MMAUX_GIT git)
set(MMAUX_GIT_REVISION "unknown")
if(MMAUX_GIT AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(COMMAND ${MMAUX_GIT} rev-parse --short=12 HEAD
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE MMAUX_GIT_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
  if(NOT MMAUX_GIT_REVISION)
    set(MMAUX_GIT_REVISION "unknown")
  endif()
endif()
