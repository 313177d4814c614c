# Command-line conventions (tests/cli/cli-tests.sh): every `aesweep COMMAND --help`, the man page
# built from the command tables, and bash completion. Commands and options come from the binary,
# so a command added to src/cli.c is covered without editing this file.
set(AESWEEP_CLI_SH ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli-tests.sh)
add_test(NAME cli_help COMMAND bash ${AESWEEP_CLI_SH} help $<TARGET_FILE:aesweep>)
add_test(NAME cli_man COMMAND bash ${AESWEEP_CLI_SH} man $<TARGET_FILE:aesweep> ${CMAKE_BINARY_DIR}/aesweep.1)
add_test(NAME cli_completion COMMAND bash ${AESWEEP_CLI_SH} completion $<TARGET_FILE:aesweep>
  ${CMAKE_SOURCE_DIR}/completion/aesweep)
add_test(NAME cli_version COMMAND bash ${AESWEEP_CLI_SH} version $<TARGET_FILE:aesweep> ${CMAKE_SOURCE_DIR})
set_tests_properties(cli_help cli_man cli_completion cli_version PROPERTIES TIMEOUT 120 ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
