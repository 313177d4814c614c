# The result writer on search stages (issue 16): tests/test_results_search.c (a cmocka test, also
# registered on its own) writes search stages from hand-built plans; tests/test_results_search.py
# reads its files with h5py, xarray, ncdump and analysis/search.py.  ~5 s.
add_test(NAME results_search_readers
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_results_search.py -k "not real_run")
set_tests_properties(results_search_readers PROPERTIES
  ENVIRONMENT "AESWEEP_SEARCH_TEST=$<TARGET_FILE:test_results_search>;AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_SRC=${CMAKE_SOURCE_DIR};PYTHON=${PYTHON};MPLBACKEND=Agg;OPENBLAS_NUM_THREADS=1"
  TIMEOUT 300)
# The same readers on a real run of tests/specs/search_results.cfg at -np 2 (a Hyperband stage, a stage
# inheriting its best trial, a Sobol stage with repeats): promotion recomputed from the file, the best
# trial, inherit, validate's cost bound against the compute used, xarray/ncdump/search.py/status; and
# tests/specs/search_results_slow.cfg caught mid-bracket (rank 0 stopped once a rung-1 segment is
# journaled): status, its snapshot, SIGKILL, --resume equal to an uninterrupted run; and
# tests/specs/search_results_tpe.cfg caught in its third batch: the snapshot's trials have the values the
# run proposed (status recomputes TPE proposals from the journal).  ~40 s.
add_test(NAME results_search_run
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_results_search.py -k real_run)
set_tests_properties(results_search_run PROPERTIES
  ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_SRC=${CMAKE_SOURCE_DIR};PYTHON=${PYTHON};MPLBACKEND=Agg;OPENBLAS_NUM_THREADS=1"
  TIMEOUT 600 RESOURCE_LOCK cpus)
# Fault injection on the search-stage writer (tests/test_faults_search.py): every site of src/results.c
# that a run of tests/specs/search_results.cfg reaches, failed in turn: exit 3, one line, nothing at the
# final path, --resume gives the uninterrupted file.  Not in a sanitizer build (see tests/faults.cmake).
if(NOT AESWEEP_SANITIZE)
  add_test(NAME faults_search_writer
    COMMAND ${PYTHON} -m pytest -q -s -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_faults_search.py)
  set_tests_properties(faults_search_writer PROPERTIES
    ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_LIB=$<TARGET_FILE:aesweep_lib>;AESWEEP_FAULTSHIM=$<TARGET_FILE:aesweep_faultshim>;PYTHON=${PYTHON};OPENBLAS_NUM_THREADS=1"
    TIMEOUT 600 RESOURCE_LOCK cpus)
endif()
