#!/usr/bin/env bash
# search_exact.sh BIN SRC - every trial of a Hyperband stage, at every rung it reached, equals
# `aesweep train` of its configuration to that rung's epochs, bit for bit (issue 16, item 3):
# tests/specs/search_ci.cfg at -np 2, then per (trial, rung) `aesweep train --json` with the trial's
# parameters as the file records them and the study's seed, stage name and data flags: test and
# training MSE equal (a promoted trial continued from its carried state; train starts from scratch);
# the same for the TPE + halving stage, the grid with halving and the four dataflow stages (align =
# "flow": Hyperband, TPE batches on the staircase, and Hyperband and TPE batches with promote = "asha", whose promoted
# trials are checked against an independent replay of ASHA's rule in a fixed order,
# search_study.py asha_lists), per (trial, repeat) for the Latin hypercube stage.
# The learning curves of "search" and "flow" (curve_points: one row per trial, the rungs' segments
# joined) equal the results at every rung epoch and `aesweep train` inside segments (search_study.py
# curves). Also: NaN beyond each trial's stop rung; rung epochs and the promoted trials as Hyperband's rule
# gives them, per bracket and per TPE batch (tests/search_study.py exact); `aesweep train --spec
# --trial` gives the same numbers; the next stage inherits the best trial's values. ~15 s.
set -euo pipefail
BIN=$(realpath "$1"); SRC=$(realpath "$2"); SPEC=$SRC/tests/specs/search_ci.cfg
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 AESWEEP_BIN="$BIN"
mpirun --oversubscribe -np 2 "$BIN" run "$SPEC" -o "$T/s.h5" --quiet
FLAGS="--data moons --seed 7 --pool 600 --noise 0.1 --test-size 300 --bottleneck 1"
"$PY" "$SRC/tests/search_study.py" exact "$T/s.h5" search test -- $FLAGS --repeat 0
"$PY" "$SRC/tests/search_study.py" curves "$T/s.h5" search test -- $FLAGS --repeat 0
"$PY" "$SRC/tests/search_study.py" exact "$T/s.h5" tpe test -- $FLAGS --repeat 0 --train-size 400
"$PY" "$SRC/tests/search_study.py" exact "$T/s.h5" lhs test -- $FLAGS
"$PY" "$SRC/tests/search_study.py" exact "$T/s.h5" gridhb test -- $FLAGS --repeat 0 --train-size 300
"$PY" "$SRC/tests/search_study.py" exact "$T/s.h5" flow test -- $FLAGS --repeat 0
"$PY" "$SRC/tests/search_study.py" curves "$T/s.h5" flow test -- $FLAGS --repeat 0
"$PY" "$SRC/tests/search_study.py" exact "$T/s.h5" tpeflow test -- $FLAGS --repeat 0 --train-size 400
"$PY" "$SRC/tests/search_study.py" exact "$T/s.h5" asha test -- $FLAGS --repeat 0
"$PY" "$SRC/tests/search_study.py" curves "$T/s.h5" asha test -- $FLAGS --repeat 0
"$PY" "$SRC/tests/search_study.py" exact "$T/s.h5" tpeasha test -- $FLAGS --repeat 0
for stage in search tpe lhs gridhb flow tpeflow asha tpeasha; do
  "$PY" "$SRC/tests/search_study.py" trial-flag "$SPEC" "$T/s.h5" $stage test
done
"$PY" - "$T/s.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    s, r = f["search"], f["refit"]
    t = int(s.attrs["best_trial"])
    for p in ("train_size", "lr", "hidden", "layers"):
        assert s[p][t] == s.attrs["best_" + p] == r.attrs[p], (p, s[p][t], s.attrs["best_" + p], r.attrs[p])
    print("refit inherits trial", t)
PYEOF
