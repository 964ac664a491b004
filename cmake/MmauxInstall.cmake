# `cmake --install` installs the libraries, public headers, the mmaux tool and a package config so
# another project can find_package(mmaux) and link mmaux::core, mmaux::data, ...
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(_mmaux_targets GLOBAL PROPERTY MMAUX_EXPORT_TARGETS)
install(TARGETS ${_mmaux_targets} mmaux_torch mmaux_hdf5 mmaux_utf8proc EXPORT mmauxTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS mmaux RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/mmaux DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mmauxTargets NAMESPACE mmaux:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mmaux
        FILE mmauxTargets.cmake)
configure_package_config_file(cmake/mmauxConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mmauxConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mmaux)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mmauxConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mmauxConfig.cmake ${PROJECT_BINARY_DIR}/mmauxConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mmaux)
