# libtorch taken straight from a Python install of PyTorch (MMAUX_TORCH_FROM_PYTHON=ON), without
# its CMake package. A CUDA build of TorchConfig.cmake enables CMake's CUDA language, which needs
# a working nvcc; a machine with PyTorch and CUDA from Python wheels may have none. Here the
# headers are torch/include (+ torch/csrc/api/include), the libraries torch/lib/lib{torch,
# torch_cpu,c10}[ _cuda].so, linked --no-as-needed (libtorch_cuda registers the CUDA kernels from
# static initialisers; nothing references it by symbol), and the C++ ABI is the one PyTorch was
# built with. CUDA headers and cudart for mmaux's own CUDA code (the NCCL backend) come from
# MMAUX_CUDA_ROOTS: directories with include/ and lib/ (e.g. site-packages/nvidia/cu13, or the
# nvidia/<component> directories of CUDA 12 wheels, or a toolkit).
#
# Sets TORCH_INCLUDE_DIRS, TORCH_LIBRARIES, MMAUX_TORCH_DEFINITIONS, C10_CUDA_LIBRARY (when
# PyTorch has CUDA) and, when cudart is found in MMAUX_CUDA_ROOTS, the imported target
# CUDA::cudart and CUDAToolkit_FOUND.
set(MMAUX_PYTHON "python3" CACHE STRING "Python interpreter whose torch package is used (MMAUX_TORCH_FROM_PYTHON)")
set(MMAUX_CUDA_ROOTS "" CACHE STRING "Directories with CUDA include/ and lib/ (MMAUX_TORCH_FROM_PYTHON)")

execute_process(
  COMMAND ${MMAUX_PYTHON} -c
    "import os, torch; d = os.path.dirname(torch.__file__); print(d); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(torch.__version__)"
  OUTPUT_VARIABLE _torch_out ERROR_VARIABLE _torch_err RESULT_VARIABLE _torch_rc
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _torch_rc EQUAL 0)
  message(FATAL_ERROR "MMAUX_TORCH_FROM_PYTHON: '${MMAUX_PYTHON} -c \"import torch\"' failed (${_torch_rc}): ${_torch_err}\nSet MMAUX_PYTHON to the interpreter that has PyTorch.")
endif()
string(REPLACE "\n" ";" _torch_out "${_torch_out}")
list(GET _torch_out 0 _torch_dir)
list(GET _torch_out 1 _torch_abi)
list(GET _torch_out 2 _torch_version)

set(TORCH_INCLUDE_DIRS "${_torch_dir}/include" "${_torch_dir}/include/torch/csrc/api/include")
if(NOT EXISTS "${_torch_dir}/include/ATen/ATen.h")
  message(FATAL_ERROR "MMAUX_TORCH_FROM_PYTHON: ${_torch_dir}/include has no ATen/ATen.h; this PyTorch install has no C++ headers")
endif()

# torch/lib in wheels; elsewhere (Debian's python3-torch) the libraries are on the library path.
set(_torch_libs)
foreach(_name torch torch_cpu c10 torch_cuda c10_cuda)
  find_library(MMAUX_TORCH_LIB_${_name} ${_name} HINTS "${_torch_dir}/lib" NO_CACHE)
  if(MMAUX_TORCH_LIB_${_name})
    list(APPEND _torch_libs "-Wl,--no-as-needed,${MMAUX_TORCH_LIB_${_name}}")
  elseif(_name MATCHES "^(torch|torch_cpu|c10)$")
    message(FATAL_ERROR "MMAUX_TORCH_FROM_PYTHON: lib${_name}.so not found in ${_torch_dir}/lib or the library path")
  endif()
endforeach()
list(APPEND _torch_libs "-Wl,--as-needed")
set(TORCH_LIBRARIES ${_torch_libs})
set(MMAUX_TORCH_DEFINITIONS _GLIBCXX_USE_CXX11_ABI=${_torch_abi})
if(MMAUX_TORCH_LIB_c10_cuda)
  set(C10_CUDA_LIBRARY "${MMAUX_TORCH_LIB_c10_cuda}")
endif()

if(MMAUX_CUDA_ROOTS)
  find_path(MMAUX_CUDART_INCLUDE_DIR cuda_runtime_api.h HINTS ${MMAUX_CUDA_ROOTS}
            PATH_SUFFIXES include NO_DEFAULT_PATH)
  find_library(MMAUX_CUDART_LIBRARY NAMES cudart libcudart.so.13 libcudart.so.12
               HINTS ${MMAUX_CUDA_ROOTS} PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)
  if(MMAUX_CUDART_INCLUDE_DIR AND MMAUX_CUDART_LIBRARY AND NOT TARGET CUDA::cudart)
    # Every include directory of the roots: libtorch's CUDA headers include cuBLAS, cuSPARSE...
    set(_cuda_includes)
    foreach(_root IN LISTS MMAUX_CUDA_ROOTS)
      if(IS_DIRECTORY "${_root}/include")
        list(APPEND _cuda_includes "${_root}/include")
      endif()
    endforeach()
    add_library(CUDA::cudart UNKNOWN IMPORTED)
    set_target_properties(CUDA::cudart PROPERTIES IMPORTED_LOCATION "${MMAUX_CUDART_LIBRARY}"
                          INTERFACE_INCLUDE_DIRECTORIES "${_cuda_includes}")
    set(CUDAToolkit_FOUND TRUE)
    set(CUDAToolkit_INCLUDE_DIRS ${_cuda_includes})
    if(C10_CUDA_LIBRARY)
      list(APPEND TORCH_INCLUDE_DIRS ${_cuda_includes})
    endif()
  endif()
endif()
message(STATUS "mmaux: libtorch ${_torch_version} from ${_torch_dir} (C++11 ABI ${_torch_abi}, CUDA ${C10_CUDA_LIBRARY})")
