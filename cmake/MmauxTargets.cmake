# Helpers shared by every mmaux target.

# Warnings for project code; -Wundef makes a misspelt feature flag (#if MMAUX_WITH_X) an error.
add_library(mmaux_warnings INTERFACE)
target_compile_options(mmaux_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wundef -Wno-unused-parameter>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${MMAUX_WERROR}>>:-Werror>)

# mmaux_private_roots(<area> <out-var>)
# The private include roots of one area: build/private/<area>, which holds nothing but a link
# <area> -> src/<area>, and build/generated/<area> (headers written by CMake, as <area>/x.h).
# A target given these sees "<area>/x.h" of its own area and no other area's private headers: an
# include of "dist/hash.h" from src/loss does not compile.
function(mmaux_private_roots area out)
  set(_root ${PROJECT_BINARY_DIR}/private/${area})
  file(MAKE_DIRECTORY ${_root} ${PROJECT_BINARY_DIR}/generated/${area})
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${area} ${_root}/${area} SYMBOLIC)
  set(${out} ${_root} ${PROJECT_BINARY_DIR}/generated/${area} PARENT_SCOPE)
endfunction()

# mmaux_library(NAME <name> ALIAS <alias> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...] [TORCH])
# A static library with the public include/ root and, when it is defined under src/<area>/, the
# private roots of that area only (mmaux_private_roots). TORCH uses the shared libtorch
# precompiled header (one header parse for the whole build instead of one per file).
function(mmaux_library)
  cmake_parse_arguments(ARG "TORCH" "NAME;ALIAS" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SOURCES})
  add_library(${ARG_ALIAS} ALIAS ${ARG_NAME})
  target_include_directories(${ARG_NAME}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
  file(RELATIVE_PATH _area ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR})
  if(NOT _area MATCHES "^\\.\\." AND NOT _area MATCHES "/" AND NOT _area STREQUAL "")
    mmaux_private_roots(${_area} _private)
    target_include_directories(${ARG_NAME} PRIVATE ${_private})
  endif()
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS}
                        $<BUILD_INTERFACE:mmaux_warnings>)
  if(ARG_TORCH)
    mmaux_use_torch_pch(${ARG_NAME})
  endif()
  # Installed as mmaux::<area>, the same name as inside the build.
  string(REPLACE "mmaux::" "" _export_name ${ARG_ALIAS})
  set_target_properties(${ARG_NAME} PROPERTIES EXPORT_NAME ${_export_name})
  set_property(GLOBAL APPEND PROPERTY MMAUX_EXPORT_TARGETS ${ARG_NAME})
endfunction()

# Reuses one precompiled libtorch header across targets.
function(mmaux_use_torch_pch target)
  if(NOT TARGET mmaux_torch_pch)
    file(WRITE ${PROJECT_BINARY_DIR}/mmaux_torch_pch.cpp "// precompiled libtorch headers\n")
    add_library(mmaux_torch_pch STATIC ${PROJECT_BINARY_DIR}/mmaux_torch_pch.cpp)
    target_link_libraries(mmaux_torch_pch PUBLIC mmaux_torch fmt::fmt PRIVATE mmaux_warnings)
    target_precompile_headers(mmaux_torch_pch PUBLIC
      <ATen/ATen.h> <torch/nn/module.h> <torch/nn/modules/linear.h> <torch/autograd.h>
      <fmt/format.h> <string> <vector> <memory>)
  endif()
  # The header is compiled for a library (-fPIC); an executable compiled with -fPIE could not use it.
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "EXECUTABLE")
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
    target_compile_options(${target} PRIVATE -fPIC)
  endif()
  target_precompile_headers(${target} REUSE_FROM mmaux_torch_pch)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:mmaux_torch_pch>)
endfunction()
