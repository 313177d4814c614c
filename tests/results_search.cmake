# The result writer on search stages (issue 16): tests/test_results_search.c (a cmocka test, also
# registered on its own) writes search stages from hand-built plans; tests/test_results_search.py
# reads its files with h5py, xarray, ncdump and analysis/search.py.  ~5 s.
add_test(NAME results_search_readers
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_results_search.py)
set_tests_properties(results_search_readers PROPERTIES
  ENVIRONMENT "AESWEEP_SEARCH_TEST=$<TARGET_FILE:test_results_search>;AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_SRC=${CMAKE_SOURCE_DIR};PYTHON=${PYTHON};MPLBACKEND=Agg;OPENBLAS_NUM_THREADS=1"
  TIMEOUT 300)
