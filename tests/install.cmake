# Installing for downstream users (tests/install/install-test.sh): `cmake --install` into a temporary
# prefix; a C program built against the installed tree through pkg-config and through
# find_package(aesweep), run; the binary outside the checkout; only aesweep_* symbols exported.
add_test(NAME install_tree COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install/install-test.sh ${CMAKE_BINARY_DIR})
set_tests_properties(install_tree PROPERTIES TIMEOUT 300)
if(AESWEEP_SANITIZE)
  set_tests_properties(install_tree PROPERTIES ENVIRONMENT "INSTALL_TEST_SANFLAGS=-fsanitize=address,undefined")
endif()
