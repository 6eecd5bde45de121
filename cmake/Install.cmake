# cmake --install: the pathcheck tool, the libraries an adapter links, their headers and a CMake
# package config, so that an outside project can write
#   find_package(pathcheck REQUIRED)
#   target_link_libraries(my_adapter PRIVATE pathcheck::conformance)
# (tests/install/ is such a project; tests/CMakeLists.txt builds it against a real install).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS path_core path_reference path_io path_conformance path_adapter_cpu path_adapter_results
                path_adapter_command
        EXPORT pathcheckTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS pathcheck RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir core/include reference/include io/include conformance/include
            adapters/cpu/include adapters/results/include adapters/command/include)
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()

set(PATHCHECK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pathcheck)
install(EXPORT pathcheckTargets NAMESPACE pathcheck:: DESTINATION ${PATHCHECK_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/pathcheckConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/pathcheckConfig.cmake INSTALL_DESTINATION ${PATHCHECK_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/pathcheckConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/pathcheckConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/pathcheckConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/FindGMP.cmake
        DESTINATION ${PATHCHECK_CMAKE_DIR})
