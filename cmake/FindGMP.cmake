# FindGMP: the GNU multiple-precision library, optional for pathcheck (exact rationals fall back to
# Boost's header-only cpp_rational without it; docs/architecture.md).
# Defines GMP_FOUND and, when found, the imported target GMP::GMP (library, headers, and the
# compile definition PATH_HAVE_GMP=1 that path/scalar.hpp reads).
# Disable with -DCMAKE_DISABLE_FIND_PACKAGE_GMP=ON.
find_path(GMP_INCLUDE_DIR gmp.h)
find_library(GMP_LIBRARY gmp)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(GMP REQUIRED_VARS GMP_LIBRARY GMP_INCLUDE_DIR)
if(GMP_FOUND AND NOT TARGET GMP::GMP)
  add_library(GMP::GMP UNKNOWN IMPORTED)
  set_target_properties(GMP::GMP PROPERTIES
    IMPORTED_LOCATION "${GMP_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${GMP_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "PATH_HAVE_GMP=1")
endif()
mark_as_advanced(GMP_INCLUDE_DIR GMP_LIBRARY)
