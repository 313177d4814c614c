# A successive-halving stage against from-scratch training (tests/test_saved_halving.py):
# its best model retrained equals the weights a twice-continued task shipped, and every rung
# equals the same cells run as a grid, bit for bit.
add_test(NAME halving_equals_scratch
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_saved_halving.py)
set_tests_properties(halving_equals_scratch PROPERTIES
  ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;OPENBLAS_NUM_THREADS=1"
  TIMEOUT 300 RESOURCE_LOCK cpus)
