# Helpers shared by every mmaux target.

# Warnings for project code; -Wundef makes a misspelt feature flag (#if MMAUX_WITH_X) an error.
add_library(mmaux_warnings INTERFACE)
target_compile_options(mmaux_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wundef -Wno-unused-parameter>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${MMAUX_WERROR}>>:-Werror>)

# mmaux_library(NAME <name> ALIAS <alias> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...] [TORCH])
# A static library with the public include/ and private src/ include roots. TORCH uses the shared
# libtorch precompiled header (one header parse for the whole build instead of one per file).
function(mmaux_library)
  cmake_parse_arguments(ARG "TORCH" "NAME;ALIAS" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SOURCES})
  add_library(${ARG_ALIAS} ALIAS ${ARG_NAME})
  target_include_directories(${ARG_NAME}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
    PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src)
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
  target_precompile_headers(${target} REUSE_FROM mmaux_torch_pch)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:mmaux_torch_pch>)
endfunction()
