# libFuzzer harnesses (tests/fuzz/fuzz_spec.c, fuzz_csv.c, fuzz_array.c), built with clang
# and ASan + UBSan by tests/fuzz/run_fuzz.sh and run for AESWEEP_FUZZ_SECONDS
# each; a test passes when no crash, sanitizer report or broken message
# contract is found.  Optional: registered only when clang is found
# (scripts/deps.sh installs clang and libclang-rt-14-dev).
find_program(AESWEEP_CLANG NAMES clang clang-14)
set(AESWEEP_FUZZ_SECONDS 30 CACHE STRING "Seconds each libFuzzer harness runs in CTest")
if(AESWEEP_CLANG)
  set(_fuzz_dir ${CMAKE_BINARY_DIR}/fuzz)
  set(_fuzz_env "FUZZ_CC=${AESWEEP_CLANG};AESWEEP_NATIVE=$<IF:$<BOOL:${AESWEEP_NATIVE}>,ON,OFF>")
  add_test(NAME fuzz_build
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh --build-only -o ${_fuzz_dir})
  set_tests_properties(fuzz_build PROPERTIES FIXTURES_SETUP fuzz_harnesses TIMEOUT 900
    ENVIRONMENT "${_fuzz_env}")
  foreach(h spec csv array)
    add_test(NAME fuzz_${h}
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh --no-build -t ${AESWEEP_FUZZ_SECONDS} -o ${_fuzz_dir} ${h})
    math(EXPR _fuzz_timeout "${AESWEEP_FUZZ_SECONDS} * 3 + 120")
    set_tests_properties(fuzz_${h} PROPERTIES FIXTURES_REQUIRED fuzz_harnesses TIMEOUT ${_fuzz_timeout}
      ENVIRONMENT "${_fuzz_env}")
  endforeach()
else()
  message(STATUS "clang not found: the fuzz tests are not registered (scripts/deps.sh installs clang)")
endif()
