# The bad-input catalogue (tests/bad_input/cases/*.case): every case must exit
# with its code (2 = bad input), print ONE stderr line naming the file, line or
# key, the bad value and the fix, and leave its working folder byte-identical.
# The driver uses only the Python standard library.
add_test(NAME bad_input_catalogue
  COMMAND ${PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/bad_input/run_cases.py --aesweep $<TARGET_FILE:aesweep>)
set_tests_properties(bad_input_catalogue PROPERTIES
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
  TIMEOUT 900)
