#!/usr/bin/env bash
# install-test.sh - `cmake --install` into a temporary prefix, then use the installed tree as a
# downstream user would: build and run a small C program (tests/install/app/app.c) against it through
# pkg-config and through CMake's find_package(aesweep), run the installed binary outside the
# checkout (the digits data must be found), render the installed man page, load the completion.
#
#   tests/install/install-test.sh BUILD_DIR
#
# Checks, besides: only the public header is installed; the archive exports only aesweep_* symbols
# (and app.c, which defines functions named like the library's internal ones, links); the installed
# licence, data, analysis package and job templates.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(realpath "$1")
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d "${TMPDIR:-/tmp}/aesweep-install.XXXXXX"); trap 'rm -rf "$T"' EXIT
P=$T/prefix
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
say() { echo "install-test: $*"; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OPENBLAS_NUM_THREADS=1

cmake --install "$B" --prefix "$P" >"$T/install.log" || { cat "$T/install.log"; exit 1; }
say "installed $(grep -c Installing "$T/install.log") files into $P"

# -- the tree
for f in bin/aesweep include/aesweep.h lib/libaesweep.a lib/pkgconfig/aesweep.pc \
         lib/cmake/aesweep/aesweepConfig.cmake lib/cmake/aesweep/aesweepConfigVersion.cmake \
         lib/cmake/aesweep/aesweepTargets.cmake share/man/man1/aesweep.1 \
         share/bash-completion/completions/aesweep share/doc/aesweep/LICENSE share/doc/aesweep/README.md \
         share/doc/aesweep/study.md share/aesweep/data/digits.csv.gz share/aesweep/analysis/report.py \
         share/aesweep/analysis/__init__.py share/aesweep/jobs/quick.cfg share/aesweep/jobs/moons.cfg \
         share/aesweep/jobs/digits.cfg; do
  [ -f "$P/$f" ] || fail "not installed: $f"
done
for f in study.sbatch study-requeue.sbatch study-mpirun.sbatch array.sbatch analysis.sbatch submit-chain.sh; do
  [ -x "$P/share/aesweep/jobs/$f" ] || fail "not installed as a program: share/aesweep/jobs/$f"
done
headers=$(cd "$P/include" && find . -type f | sort | tr '\n' ' ')
[ "$headers" = "./aesweep.h " ] || fail "installed headers: $headers (only the public aesweep.h should be)"
[ ! -e "$P/lib/libaesweep_internal.a" ] || fail "the internal library was installed"

# -- exported symbols: one prefix
nm -g --defined-only "$P/lib/libaesweep.a" | awk 'NF == 3 {print $3}' | sort >"$T/syms"
[ -s "$T/syms" ] || fail "no global symbol in libaesweep.a"
if grep -v '^aesweep_' "$T/syms" >"$T/bad"; then fail "libaesweep.a exports symbols without the aesweep_ prefix: $(head -n 5 "$T/bad" | tr '\n' ' ')"; fi
say "exported symbols: $(tr '\n' ' ' <"$T/syms")"

# -- the binary outside the checkout: the digits data is found next to it
mkdir "$T/elsewhere"; cd "$T/elsewhere"
"$P/bin/aesweep" --version >/dev/null || fail "installed aesweep --version"
"$P/bin/aesweep" train --data digits --hidden 65 --layers 1 --bottleneck 2 --epochs 3 --train-size 200 --json \
  >"$T/bin-digits.json" 2>"$T/err" || fail "installed aesweep train --data digits outside the checkout: $(cat "$T/err")"
grep -q '"status": "ok"' "$T/bin-digits.json" || fail "train --data digits: $(cat "$T/bin-digits.json")"
"$P/bin/aesweep" validate "$P/share/aesweep/jobs/digits.cfg" >"$T/val" 2>&1 ||
  fail "installed aesweep validate share/aesweep/jobs/digits.cfg: $(tail -n 2 "$T/val")"
"$P/bin/aesweep" train --help | grep -q "^usage: aesweep train" || fail "installed aesweep train --help"

# -- the man page and the completion
if command -v man >/dev/null; then
  MANPATH=$P/share/man man -w aesweep >/dev/null || fail "man -w aesweep with MANPATH=$P/share/man"
  MANWIDTH=80 MANPATH=$P/share/man man aesweep 2>/dev/null | grep -q "aesweep train" || fail "man aesweep has no 'aesweep train'"
fi
# shellcheck disable=SC1091
bash -c "source '$P/share/bash-completion/completions/aesweep' && complete -p aesweep" >/dev/null ||
  fail "the installed completion does not load"

# -- the analysis package, run from the installed tree
PYTHONPATH=$P/share/aesweep "$PY" -c 'import analysis.resultfile' 2>"$T/err" ||
  fail "the installed analysis package does not import: $(tail -n 1 "$T/err")"

# -- a program built against the tree through pkg-config, and through CMake
train=(train --epochs 20 --train-size 300 --pool 300 --test-size 200 --seed 3 --json)
strip_secs() { sed 's/, "seconds": [0-9.e+-]*//' "$1"; }
"$P/bin/aesweep" "${train[@]}" >"$T/bin.json" || fail "installed aesweep ${train[*]}"
check_app() {  # check_app APP HOW
  local app=$1 how=$2 v
  v=$("$app" version) || fail "$how: app version exited non-zero (a clash with the library's names?)"
  [ "$v" = "$("$P/bin/aesweep" --version | awk '{print $2}') $(sed -n 's/.*result schema \([0-9]*\).*/\1/p' <<<"$("$P/bin/aesweep" --version)")" ] ||
    fail "$how: app version printed '$v', the binary says '$("$P/bin/aesweep" --version)'"
  "$app" "${train[@]}" >"$T/app.json" || fail "$how: aesweep_main(train) exited non-zero"
  [ "$(strip_secs "$T/app.json")" = "$(strip_secs "$T/bin.json")" ] ||
    fail "$how: aesweep_main(train) differs from the binary: $(cat "$T/app.json") vs $(cat "$T/bin.json")"
  AESWEEP_DATA=$P/share/aesweep/data "$app" train --data digits --hidden 65 --layers 1 --bottleneck 2 \
    --epochs 3 --train-size 200 --json >"$T/app-digits.json" || fail "$how: aesweep_main(train --data digits) with AESWEEP_DATA"
  [ "$(strip_secs "$T/app-digits.json")" = "$(strip_secs "$T/bin-digits.json")" ] ||
    fail "$how: digits training differs from the binary's"
  "$app" run "$P/share/aesweep/jobs/quick.cfg" -o "$T/$how/quick.h5" --quiet >"$T/run.log" 2>&1 ||
    fail "$how: aesweep_main(run quick.cfg): $(tail -n 3 "$T/run.log")"
  "$P/bin/aesweep" info "$T/$how/quick.h5" | grep -q "quick" || fail "$how: aesweep info of the app's result"
  rc=0; "$app" run --no-such-flag >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "$how: aesweep_main(run --no-such-flag) returned $rc, expected 2"
  say "$how: app linked, version $v, train and run equal to the binary's"
}
export PKG_CONFIG_PATH=$P/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
pkg-config --exists aesweep || fail "pkg-config does not find aesweep in $P/lib/pkgconfig"
# shellcheck disable=SC2046
# A sanitizer build installs an instrumented archive: the program must link the sanitizer runtimes
# too (INSTALL_TEST_SANFLAGS, set by tests/install.cmake when AESWEEP_SANITIZE is on; empty otherwise).
SAN=${INSTALL_TEST_SANFLAGS:-}
# shellcheck disable=SC2086
if cc $SAN -o "$T/app-pc" "$HERE/app/app.c" $(pkg-config --cflags --libs aesweep) 2>"$T/cc.log"; then
  check_app "$T/app-pc" pkg-config
else
  fail "cc app.c \$(pkg-config --cflags --libs aesweep): $(head -n 5 "$T/cc.log")"
fi
if cmake -S "$HERE/app" -B "$T/app-build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="$SAN" -DCMAKE_EXE_LINKER_FLAGS="$SAN" >"$T/cmake.log" 2>&1 &&
   cmake --build "$T/app-build" >>"$T/cmake.log" 2>&1; then
  grep -o 'aesweep [0-9.]* from .*' "$T/cmake.log" || true
  check_app "$T/app-build/app" cmake
else
  fail "find_package(aesweep) build of app.c: $(tail -n 15 "$T/cmake.log")"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
say "all checks passed"
