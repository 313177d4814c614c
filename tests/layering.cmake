# Issue 14's layering rules on the built library (tests/layering.sh): no kernel object calls into
# model.c, and no getenv below the command line (src/options.c and src/cli.c only).
add_test(NAME kernel_layering COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/layering.sh ${CMAKE_SOURCE_DIR}
  $<TARGET_OBJECTS:aesweep_lib> COMMAND_EXPAND_LISTS)
set_tests_properties(kernel_layering PROPERTIES TIMEOUT 60)
