# Regression against 0.3.0 (issue 14 "Must show"): jobs/quick.cfg, moons.cfg, digits.cfg and mmd.cfg
# run at 2 ranks by today's aesweep give the result files 0.3.0 (b951f2b) gave, in every dataset but
# the timing ones (tests/regress/regress.py).  On a machine whose fingerprint (CPU, SIMD flags,
# compiler, glibc, OpenBLAS core) is the one of a tests/regress/v030*.sha256 file (one per machine
# type: an AMD EPYC and an Intel Xeon VM so far), the files are checked against those stored hashes; anywhere else, or with AESWEEP_REGRESS_BUILD=1 in the environment, the
# fixture regress_v030_setup builds 0.3.0 from the git history into build/regress/v030 and every
# test runs both versions and compares by value.  Minutes: moons.cfg is the longest study.
# The fingerprint's compiler part: id, version and -march=native or not (0.3.0 is then built the same
# way).  The build type and sanitizers are not in it: results must not depend on them (no
# -ffast-math; scripts/sanitize.sh runs these tests against the stored hashes too).
set(AESWEEP_REGRESS_ENV
  "AESWEEP_CC_ID=${CMAKE_C_COMPILER_ID}-${CMAKE_C_COMPILER_VERSION}-native=${AESWEEP_NATIVE}"
  "AESWEEP_REGRESS_NATIVE=${AESWEEP_NATIVE}")
set(AESWEEP_REGRESS ${PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/regress/regress.py)
set(AESWEEP_REGRESS_ARGS --bin $<TARGET_FILE:aesweep> --hashes ${CMAKE_CURRENT_SOURCE_DIR}/regress
  --src ${CMAKE_SOURCE_DIR} --work ${CMAKE_BINARY_DIR}/regress)
add_test(NAME regress_v030_setup COMMAND ${AESWEEP_REGRESS} setup ${AESWEEP_REGRESS_ARGS})
set_tests_properties(regress_v030_setup PROPERTIES FIXTURES_SETUP regress_v030
  ENVIRONMENT "${AESWEEP_REGRESS_ENV}" TIMEOUT 900 RESOURCE_LOCK cpus)
foreach(study quick mmd digits moons)
  add_test(NAME regress_v030_${study} COMMAND ${AESWEEP_REGRESS} check --study ${study} ${AESWEEP_REGRESS_ARGS})
  set_tests_properties(regress_v030_${study} PROPERTIES FIXTURES_REQUIRED regress_v030
    ENVIRONMENT "${AESWEEP_REGRESS_ENV}" TIMEOUT 2400 RESOURCE_LOCK cpus)
endforeach()
