# Tests of the post-hoc analysis (analysis/report.py, analysis/nnet.py):
# tests/test_analysis.py runs small studies with the real binary, makes their
# reports and checks figures, numbers and the numpy networks against the files.
add_test(NAME analysis_pytest
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_analysis.py)
set_tests_properties(analysis_pytest PROPERTIES
  ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_SRC=${CMAKE_SOURCE_DIR};PYTHON=${PYTHON};MPLBACKEND=Agg;OPENBLAS_NUM_THREADS=1"
  TIMEOUT 900 RESOURCE_LOCK cpus)
