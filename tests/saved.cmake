# The best model of a successive-halving stage (src/saved.c; tests/test_saved_halving.py):
# retrained from scratch it equals the weights a twice-continued task shipped, bit for bit.
add_test(NAME saved_halving_best_model
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_saved_halving.py)
set_tests_properties(saved_halving_best_model PROPERTIES
  ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;OPENBLAS_NUM_THREADS=1"
  TIMEOUT 300 RESOURCE_LOCK cpus)
