# Hostile but legitimate inputs that must work, and the parser property test
# (tests/test_hostile.py, issue 15); the refused ones are tests/bad_input.
add_test(NAME hostile_inputs
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_hostile.py)
set_tests_properties(hostile_inputs PROPERTIES
  ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>"
  TIMEOUT 600)
