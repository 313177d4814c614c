#!/usr/bin/env bash
# search_resume.sh BIN SRC - a search stage killed mid-bracket resumes to the same file (issue 16):
# SPEC (default tests/specs/search_slow.cfg: random + Hyperband, 4 brackets, 60 trials; CTest also runs
# search_slow_flow.cfg, the same as a dataflow) run uninterrupted at -np 2;
# then run at -np 1 and SIGTERMed once an interim report (a curve point mid-rung, wire.h) is journaled;
# resumed at -np 2 and one rank SIGKILLed once the journal holds some, not all, rung-0 results;
# resumed at -np 3 and a rank SIGKILLed again once some, not all, rung-1 results are journaled (the
# promoted trials continue from states that only the journal holds); resumed at -np 2 and every rank
# sent SIGTERM (a Slurm time limit: exit 75) once it has journaled a result, before the stage ends; resumed at -np 2 to the end:
# every dataset but the timings byte-identical to the uninterrupted run, the journal gone. At every cut
# the journal's interim reports equal the reference's curve points bit for bit, each a new best.
# SEARCH_CUT_RUNGS="A B C" moves the cuts to rungs A, B (and C, named in the SIGTERM cut's line).
# A cut leaves the journal and, at the output, nothing or a partial file (complete = 0): mpirun sends
# the surviving rank 0 SIGTERM, and whether it closes the run as interrupted before mpirun's SIGKILL is
# a race (kill-at checks either). The kills wait for journal states (tests/search_study.py kill-at), never for seconds. ~30 s.
# `bash tests/search_resume.sh build/aesweep . jobs/moons-search.cfg` does the same to the full study
# (its stage "search").
set -euo pipefail
BIN=$(realpath "$1"); SRC=$(realpath "$2"); SPEC=${3:-$SRC/tests/specs/search_slow.cfg}
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 AESWEEP_BIN="$BIN"
CHECK="$PY $SRC/tests/search_study.py"
# the rungs the three cuts wait for (SEARCH_CUT_RUNGS; a TPE dataflow is cut later, once batches overlap)
read -r R1 R2 R3 <<< "${SEARCH_CUT_RUNGS:-0 1 2}"
mpirun --oversubscribe -np 2 "$BIN" run "$SPEC" -o "$T/ref.h5" --quiet
# the slow specs record curves: at -np 1 (one order of results and reports, so the state must come)
# SIGTERM once an interim report is journaled; every cut after checks the reports in the journal
$CHECK interim-at "$T/cut.h5" "$T/ref.h5" search -- \
  mpirun --oversubscribe -np 1 "$BIN" run "$SPEC" -o "$T/cut.h5" --quiet
$CHECK kill-at "$T/cut.h5" "$T/ref.h5" search "$R1" -- \
  mpirun --oversubscribe -np 2 "$BIN" run "$SPEC" -o "$T/cut.h5" --quiet --resume
$CHECK kill-at "$T/cut.h5" "$T/ref.h5" search "$R2" -- \
  mpirun --oversubscribe -np 3 "$BIN" run "$SPEC" -o "$T/cut.h5" --quiet --resume
$CHECK term-at "$T/cut.h5" "$T/ref.h5" search "$R3" -- \
  mpirun --oversubscribe -np 2 "$BIN" run "$SPEC" -o "$T/cut.h5" --quiet --resume
mpirun --oversubscribe -np 2 "$BIN" run "$SPEC" -o "$T/cut.h5" --quiet --resume
if test -e "$T/cut.h5.journal"; then echo "search_resume: the completed resume left its journal behind" >&2; exit 1; fi
$CHECK same "$T/ref.h5" "$T/cut.h5"
