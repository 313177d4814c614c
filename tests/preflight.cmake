# A singleton `aesweep run` refuses before MPI_Init (tests/test_preflight.py): every refusal is
# run with a PML that does not exist, so a run that reached MPI_Init would fail there.
add_test(NAME preflight_refusals_before_mpi_init
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_preflight.py)
set_tests_properties(preflight_refusals_before_mpi_init PROPERTIES
  ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_SRC=${CMAKE_SOURCE_DIR}"
  TIMEOUT 600)
