#!/usr/bin/env bash
# sanitize.sh - build everything with AddressSanitizer + UndefinedBehaviorSanitizer
# (-DAESWEEP_SANITIZE=ON) in its own folder and run the whole CTest suite
# under it; prints the CTest summary and exits non-zero if any test fails.
#
#   scripts/sanitize.sh [extra ctest arguments, e.g. -R bad_input or -E slurm_]
#
# Environment:
#   SANITIZE_BUILD_DIR  build folder (default build-sanitize)
#   SANITIZE_JOBS       ctest -j (default 2)
#   SANITIZE_LEAKS      1 = LeakSanitizer on (default 0, see below)
#   AESWEEP_FUZZ_SECONDS  seconds per fuzz harness when clang is there (default 10 here;
#                       the harnesses are ASan/UBSan builds of their own anyway)
#
# Runtime errors are fatal: UBSan is built with -fno-sanitize-recover and
# halts on the first report, ASan aborts on the first error; a sanitizer
# report inside a test makes that test fail.
#
# Leaks: LeakSanitizer is OFF by default (detect_leaks=0).  Open MPI, PMIx,
# hwloc and libevent keep allocations alive past MPI_Finalize, so every MPI
# process would "leak" at exit; SANITIZE_LEAKS=1 turns leak checking on with
# those libraries suppressed (BUILD/lsan.supp, written below), which checks
# the code of aesweep itself.  The fuzz harnesses always check leaks.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
B=${SANITIZE_BUILD_DIR:-build-sanitize}
JOBS=${SANITIZE_JOBS:-2}
t0=$(date +%s)

cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAESWEEP_SANITIZE=ON \
  -DAESWEEP_FUZZ_SECONDS="${AESWEEP_FUZZ_SECONDS:-10}" >/dev/null
cmake --build "$B" -j"$(nproc)"
t1=$(date +%s)

if [ "${SANITIZE_LEAKS:-0}" = 1 ]; then
  leaks="detect_leaks=1"
  # MPI and its runtime keep allocations alive past MPI_Finalize (not aesweep's)
  printf '%s\n' leak:libmpi.so leak:libopen-pal.so leak:libopen-rte.so leak:libpmix.so \
    leak:libhwloc.so leak:libevent leak:libucs.so leak:libucp.so leak:mca_ leak:libopenblas \
    leak:libconfig.so > "$B/lsan.supp"
  export LSAN_OPTIONS="suppressions=$(cd "$B" && pwd)/lsan.supp:print_suppressions=0"
else
  leaks="detect_leaks=0"
fi
# abort_on_error: a core-style abort (not exit 1) so that no test can mistake
# a sanitizer report for an ordinary refusal; detect_stack_use_after_return
# and strict string checks catch more of what the tests exercise.
export ASAN_OPTIONS="$leaks:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OPENBLAS_NUM_THREADS=1

cd "$B"
log=$(pwd)/sanitize-ctest.log
set +e
ctest --output-on-failure -j"$JOBS" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
t2=$(date +%s)
reports=$(grep -cE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$log" || true)
echo
echo "sanitize.sh: ASan+UBSan build in $B ($((t1 - t0)) s), ctest $((t2 - t1)) s, ASAN_OPTIONS=$ASAN_OPTIONS"
grep -E "tests passed|tests failed" "$log" | tail -1 | sed 's/^/sanitize.sh: /'
echo "sanitize.sh: sanitizer reports in the log: $reports (log $log)"
exit "$rc"
