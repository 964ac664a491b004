# Dependencies from an unpacked bundle (cmake/bundle_deps.sh, cmake/unpack_bundle.sh): a Debian
# file tree under MMAUX_DEPS_PREFIX (usr/include, usr/lib/<arch>, usr/bin), searched before the
# system. It holds Open MPI, HDF5, Boost.Program_options, fmt, GoogleTest, nlohmann/json and
# OpenSSL; libtorch, CUDA and NCCL come from the machine (Torch_DIR, CUDAToolkit_ROOT, NCCL_ROOT).
#
# Open MPI and HDF5 are found without their compiler wrappers (mpicc, h5cc): the wrappers and
# their data files name /usr, where the bundle is not.
#
# Finding the bundle's libraries without LD_LIBRARY_PATH (which would put Debian 12's zstd, gmp
# or curl before the machine's own under its compiler and CMake): the linker gets the prefix's
# library directories as -rpath-link (the libraries the bundle's libraries need), the programs
# built here as a run path (DT_RPATH, --disable-new-dtags, so that it also serves the bundle
# libraries' own dependencies). Tests get MMAUX_TEST_RUNTIME_ENV (cmake/MmauxTesting.cmake): the
# library path for the bundle's mpirun and the relocation of Open MPI and PMIx (OPAL_PREFIX,
# PMIx's plugin directory), as in cmake/unpack_bundle.sh's PREFIX/mmaux-env.sh.
set(MMAUX_DEPS_PREFIX "" CACHE PATH
    "An unpacked dependency bundle (cmake/unpack_bundle.sh) to take MPI, HDF5, Boost, fmt, GoogleTest, nlohmann/json and OpenSSL from")

if(MMAUX_DEPS_PREFIX)
  set(_usr "${MMAUX_DEPS_PREFIX}/usr")
  if(NOT CMAKE_LIBRARY_ARCHITECTURE)
    message(FATAL_ERROR "MMAUX_DEPS_PREFIX needs a multiarch compiler (CMAKE_LIBRARY_ARCHITECTURE is empty): the bundle's libraries are under usr/lib/<arch>")
  endif()
  set(_lib "${_usr}/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
  foreach(_need "${_usr}/include/fmt" "${_lib}/openmpi/include/mpi.h"
                "${_lib}/hdf5/serial/include/hdf5.h")
    if(NOT EXISTS "${_need}")
      message(FATAL_ERROR "MMAUX_DEPS_PREFIX='${MMAUX_DEPS_PREFIX}' is not an unpacked mmaux bundle (no ${_need}); run cmake/unpack_bundle.sh BUNDLE PREFIX first")
    endif()
  endforeach()
  list(PREPEND CMAKE_PREFIX_PATH "${_usr}")
  set(_libdirs "${_lib}" "${MMAUX_DEPS_PREFIX}/lib/${CMAKE_LIBRARY_ARCHITECTURE}")
  string(REPLACE ";" ":" _libpath "${_libdirs}")
  foreach(_kind EXE SHARED MODULE)
    string(APPEND CMAKE_${_kind}_LINKER_FLAGS " -Wl,-rpath-link,${_libpath}")
  endforeach()
  list(APPEND CMAKE_BUILD_RPATH ${_libdirs})
  add_link_options(-Wl,--disable-new-dtags)
  set(MMAUX_TEST_RUNTIME_ENV
      "LD_LIBRARY_PATH=${_libpath}" "OPAL_PREFIX=${_usr}" "PMIX_PREFIX=${_lib}/pmix2"
      "PMIX_MCA_mca_base_component_path=${_lib}/pmix2/lib/pmix")
  # The multiarch include directory the compiler searches in a real /usr (OpenSSL's
  # opensslconf.h lives there).
  include_directories(SYSTEM "${_usr}/include/${CMAKE_LIBRARY_ARCHITECTURE}")
  # Open MPI: headers and libmpi directly; mpirun is Open MPI's orterun.
  set(MPI_SKIP_COMPILER_WRAPPER TRUE)
  set(MPI_C_HEADER_DIR "${_lib}/openmpi/include" CACHE PATH "MPI C headers (bundle)")
  set(MPI_C_LIB_NAMES mpi CACHE STRING "MPI C libraries (bundle)")
  set(MPI_mpi_LIBRARY "${_lib}/openmpi/lib/libmpi.so" CACHE FILEPATH "libmpi (bundle)")
  set(MPIEXEC_EXECUTABLE "${_usr}/bin/orterun" CACHE FILEPATH "mpirun (bundle)")
  # HDF5: Debian's serial build keeps its headers and libhdf5.so in one directory.
  set(HDF5_ROOT "${_lib}/hdf5/serial")
  set(HDF5_NO_FIND_PACKAGE_CONFIG_FILE TRUE)
  # OpenSSL (libcrypto) from the bundle too.
  set(OPENSSL_ROOT_DIR "${_usr}")
  message(STATUS "mmaux: dependencies from the bundle in ${MMAUX_DEPS_PREFIX}")
endif()
