# Tests of analysis/search.py (issue 16): figures and numbers of a search stage, on a synthetic
# file the test writes in the draft layout of docs/results-format.md ("Search stages"). ~10 s.
add_test(NAME analysis_search
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_search_analysis.py)
set_tests_properties(analysis_search PROPERTIES
  ENVIRONMENT "AESWEEP_SRC=${CMAKE_SOURCE_DIR};PYTHON=${PYTHON};MPLBACKEND=Agg;OPENBLAS_NUM_THREADS=1"
  TIMEOUT 600)
