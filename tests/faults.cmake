# Fault injection (tests/test_faults.py): an LD_PRELOAD library that makes one
# call of aesweep's own code fail (an allocation, a write or sync, an HDF5
# call: tests/faults/faultshim.c), driven by AESWEEP_FAULT; the test fails
# every call site of a small study in turn.  Built here, never installed.
# Not in a sanitizer build: AddressSanitizer must be the first library loaded
# and intercepts malloc itself, so the shim cannot be preloaded beside it.
if(AESWEEP_SANITIZE)
  return()
endif()
add_library(aesweep_faultshim MODULE ${CMAKE_CURRENT_SOURCE_DIR}/faults/faultshim.c)
target_include_directories(aesweep_faultshim PRIVATE ${HDF5_INCLUDE_DIRS})
target_link_libraries(aesweep_faultshim PRIVATE ${HDF5_HL_LIBRARIES} ${HDF5_C_LIBRARIES} dl)
set_target_properties(aesweep_faultshim PROPERTIES PREFIX "" OUTPUT_NAME faultshim)
add_test(NAME faults_every_site
  COMMAND ${PYTHON} -m pytest -q -s -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_faults.py)
# two runs at a time (each a singleton MPI process): not beside the other MPI tests
set_tests_properties(faults_every_site PROPERTIES
  ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_LIB=$<TARGET_FILE:aesweep_lib>;AESWEEP_FAULTSHIM=$<TARGET_FILE:aesweep_faultshim>;PYTHON=${PYTHON};OPENBLAS_NUM_THREADS=1"
  TIMEOUT 600 RESOURCE_LOCK cpus)
