# Disk full (tests/test_disk_full.py): a 96 KiB tmpfs mounted by a fixture
# (root, as CI runs) and unmounted by its cleanup even when the test fails.
set(AESWEEP_FULL_DIR ${CMAKE_CURRENT_BINARY_DIR}/diskfull_mnt)
add_test(NAME disk_full_mount
  COMMAND sh -c "mkdir -p '${AESWEEP_FULL_DIR}' && (mountpoint -q '${AESWEEP_FULL_DIR}' || mount -t tmpfs -o size=96k tmpfs '${AESWEEP_FULL_DIR}')")
add_test(NAME disk_full_umount COMMAND sh -c "umount '${AESWEEP_FULL_DIR}' || true")
set_tests_properties(disk_full_mount PROPERTIES FIXTURES_SETUP diskfull)
set_tests_properties(disk_full_umount PROPERTIES FIXTURES_CLEANUP diskfull)
add_test(NAME disk_full_resume
  COMMAND ${PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_SOURCE_DIR}/test_disk_full.py)
set_tests_properties(disk_full_resume PROPERTIES
  FIXTURES_REQUIRED diskfull
  ENVIRONMENT "AESWEEP_BIN=$<TARGET_FILE:aesweep>;AESWEEP_FULL_DIR=${AESWEEP_FULL_DIR}"
  TIMEOUT 300)
