#!/usr/bin/env bash
# run_fuzz.sh - build the libFuzzer harnesses (clang, ASan + UBSan) and run
# each for a bounded time.  Passes when no crash, sanitizer report or broken
# message contract is found.
#
#   tests/fuzz/run_fuzz.sh [-t SECONDS] [-o DIR] [--build-only | --no-build] [--install] [spec] [csv] [array]
#
#   -t SECONDS   fuzzing time per harness (default 30)
#   -o DIR       build and work folder (default build-fuzz/ in the source tree)
#   --install    apt-get install clang and libclang-rt-14-dev when clang is missing
#   spec, csv, array   harnesses to run (default all three; array: the IDX and .npy loaders)
#
# The library sources the harnesses reach (FUZZ_SOURCES, default spec.c, util.c,
# data.c, data_array.c, rng.c, model.c, paths.c and the search groups' search_spec.c,
# sample.c and halving.c; "all" = src/*.c but main.c) are compiled with clang into
# an instrumented archive; each harness links it with HDF5, libconfig, zlib,
# OpenBLAS and MPI (pkg-config, mpicc --showme), as the CMake build does.
# (Not every source by default: clang -O1 with ASan needs minutes for the
# SIMD kernels, which the parsers never call.  spec.c calls model.c, which
# refers to the kernels: those (FUZZ_LINK_ONLY, default kernel_fast.c, kernel_ref.c,
# kernel_lanes.c and kernel_gemm.c) are compiled without instrumentation,
# only to link.)
# The seed corpora are tests/fuzz/corpus_spec, corpus_csv and corpus_array; the
# working corpora, crash artifacts and logs go to DIR.  A crash input is
# reproduced with: DIR/fuzz_spec DIR/artifacts/spec-crash-...
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=30
OUT=$SRC/build-fuzz
BUILD=1
RUN=1
INSTALL=0
HARNESSES=()
while (($#)); do
  case $1 in
    -t) T=$2; shift 2 ;;
    -o) OUT=$2; shift 2 ;;
    --build-only) RUN=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --install) INSTALL=1; shift ;;
    spec|csv|array) HARNESSES+=("$1"); shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
((${#HARNESSES[@]})) || HARNESSES=(spec csv array)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

CC=${FUZZ_CC:-}
if [ -z "$CC" ]; then
  CC=$(command -v clang || command -v clang-14 || true)
fi
if [ -z "$CC" ] && ((INSTALL)); then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
  CC=$(command -v clang || command -v clang-14 || true)
fi
if [ -z "$CC" ]; then
  echo "run_fuzz.sh: clang not found; install clang and libclang-rt-14-dev (or pass --install)" >&2
  exit 2
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=gnu17 -g -O1 $SAN"
[ "${AESWEEP_NATIVE:-ON}" = ON ] && CFLAGS="$CFLAGS -march=native"
INC="-I$SRC/include -I$OUT/include $(pkg-config --cflags hdf5 libconfig openblas zlib) $(mpicc --showme:compile)"
LIBS="$(pkg-config --libs hdf5 libconfig openblas zlib) -lhdf5_hl $(mpicc --showme:link) -lm"
# hdf5.pc names the serial library folder; the high-level library sits next to it
HDF5_LIBDIR=$(pkg-config --variable=libdir hdf5 2>/dev/null || true)
[ -n "$HDF5_LIBDIR" ] && LIBS="-L$HDF5_LIBDIR $LIBS"

if ((BUILD)); then
  t0=$(date +%s)
  mkdir -p "$OUT/include/aesweep" "$OUT/obj"
  # version.h as CMake makes it (the harnesses do not use it; the library does)
  ver=$(sed -n 's/^project(aesweep VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
  sed -e "s/@PROJECT_VERSION@/${ver:-0}/" -e "s/@AESWEEP_GIT_COMMIT@/fuzz/" \
    "$SRC/include/aesweep/version.h.in" > "$OUT/include/aesweep/version.h.tmp"
  cmp -s "$OUT/include/aesweep/version.h.tmp" "$OUT/include/aesweep/version.h" 2>/dev/null \
    || mv "$OUT/include/aesweep/version.h.tmp" "$OUT/include/aesweep/version.h"
  rm -f "$OUT/include/aesweep/version.h.tmp"
  objs=()
  pids=()
  srcs=()
  if [ "${FUZZ_SOURCES:-}" = all ]; then
    for c in "$SRC"/src/*.c; do [ "$(basename "$c")" = main.c ] || srcs+=("$c"); done
  else
    for n in ${FUZZ_SOURCES:-spec search_spec sample halving data data_array rng model paths util}; do srcs+=("$SRC/src/$n.c"); done
  fi
  link_only=()
  if [ "${FUZZ_SOURCES:-}" != all ]; then
    for n in ${FUZZ_LINK_ONLY-kernel_fast kernel_lanes kernel_gemm kernel_ref}; do
      c=$SRC/src/$n.c
      o=$OUT/obj/$n.plain.o
      $CC -std=gnu17 -O1 $([ "${AESWEEP_NATIVE:-ON}" = ON ] && echo -march=native) $INC -c "$c" -o "$o" &
      pids+=($!)
      link_only+=("$o")
    done
  fi
  for c in "${srcs[@]}"; do
    o=$OUT/obj/$(basename "${c%.c}").o
    objs+=("$o")
    # instrument the library for coverage too (fuzzer-no-link)
    $CC $CFLAGS -fsanitize=fuzzer-no-link $INC -c "$c" -o "$o" &
    pids+=($!)
    if ((${#pids[@]} >= $(nproc))); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p"; done
  rm -f "$OUT/libaesweep_fuzz.a"
  ar rcs "$OUT/libaesweep_fuzz.a" "${objs[@]}" "${link_only[@]}"
  for h in spec csv array; do
    $CC $CFLAGS -fsanitize=fuzzer $INC "$SRC/tests/fuzz/fuzz_$h.c" "$OUT/libaesweep_fuzz.a" $LIBS -o "$OUT/fuzz_$h"
  done
  echo "run_fuzz.sh: built $OUT/fuzz_spec, fuzz_csv and fuzz_array with $($CC --version | head -1) in $(( $(date +%s) - t0 )) s"
fi
((RUN)) || exit 0

# LeakSanitizer stays on (the harnesses do not touch MPI); lsan.supp silences
# a leak inside libconfig 1.5 itself (a string left in its scanner after some
# parse errors), nothing of ours.
# (Set here, not inherited: scripts/sanitize.sh turns leaks off for MPI.)
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1${FUZZ_ASAN_OPTIONS:+:$FUZZ_ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$SRC/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OPENBLAS_NUM_THREADS=1
status=0
for h in "${HARNESSES[@]}"; do
  corpus=$OUT/corpus_$h
  mkdir -p "$corpus" "$OUT/artifacts"
  dict=()
  [ -f "$SRC/tests/fuzz/$h.dict" ] && dict=(-dict="$SRC/tests/fuzz/$h.dict")
  log=$OUT/fuzz_$h.log
  echo "run_fuzz.sh: fuzz_$h for $T s (corpus $corpus, seeds tests/fuzz/corpus_$h)"
  set +e
  "$OUT/fuzz_$h" -max_total_time="$T" -timeout=20 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$h-" "${dict[@]}" \
    "$corpus" "$SRC/tests/fuzz/corpus_$h" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if ((rc == 0)); then
    echo "run_fuzz.sh: fuzz_$h: no crash; ${execs:-?} executions in ${T} s (${cov:-cov ?}, corpus $(ls "$corpus" | wc -l) inputs)"
  else
    status=1
    echo "run_fuzz.sh: fuzz_$h FAILED (exit $rc) after ${execs:-?} executions; log $log; last lines:"
    tail -40 "$log"
    ls "$OUT/artifacts" | sed 's/^/  artifact: /'
  fi
done
exit $status
