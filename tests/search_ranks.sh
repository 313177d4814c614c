#!/usr/bin/env bash
# search_ranks.sh BIN SRC [SPEC] - search stages give the same file at any number of ranks (issue 16):
# SPEC (default tests/specs/search_ci.cfg: Sobol + Hyperband, a stage inheriting its best trial,
# TPE + halving, a Latin hypercube, a grid with halving, Hyperband and TPE batches as dataflows, ASHA) run at -np 1, 2, 3 and 4; every dataset but
# the timings byte-identical to -np 1's (tests/search_study.py same), and the stages really are
# searches: 27 trials x 3 rungs, every trial at rung 0, fewer at each later rung. ~10 s.
# `bash tests/search_ranks.sh build/aesweep . jobs/moons-search.cfg` runs the check on the full study.
set -euo pipefail
BIN=$(realpath "$1"); SRC=$(realpath "$2"); SPEC=${3:-$SRC/tests/specs/search_ci.cfg}
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 AESWEEP_BIN="$BIN"
for n in 1 2 3 4; do
  mpirun --oversubscribe -np $n "$BIN" run "$SPEC" -o "$T/np$n.h5" --quiet
done
for n in 2 3 4; do
  echo -n "-np 1 vs -np $n: "
  "$PY" "$SRC/tests/search_study.py" same "$T/np1.h5" "$T/np$n.h5"
done
if [ $# -lt 3 ]; then
  "$PY" - "$T/np4.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    g = f["search"]
    st, m = g["status"][()], g["test_mse_test"][()]
    assert st.shape == (27, 3) and m.shape == (27, 3), st.shape
    ran = (st != 3).sum(axis=0)
    assert ran[0] == 27 and 0 < ran[2] < ran[1] < 27, ran
    assert np.all(np.isfinite(m[st == 0])) and f.attrs["ranks"] == 4
    assert f["tpe/status"].shape == (18, 3) and f["lhs/test_mse_test"].shape == (6, 2)
    assert np.all(f["tpe/status"][:, 0] == 0) and np.all(np.isfinite(f["lhs/test_mse_test"][()]))
    fl = f["flow"]
    assert fl.attrs["align"] == "flow" and fl["status"].shape == (18, 3), fl["status"].shape
    fr = (fl["status"][()] != 3).sum(axis=0)
    assert fr[0] == 18 and 0 < fr[2] < fr[1] < 18, fr
    # a task's round is its rung in a dataflow (the round that runs it aligned at the start)
    rd, st_ = fl["round"][()], fl["status"][()]
    assert all(rd[t, k] == k for t in range(18) for k in range(3) if st_[t, k] != 3), rd
    # TPE batches as a dataflow: 4 batches of 6, each one bracket (6@3 2@9 1@27)
    tf = f["tpeflow"]
    assert tf.attrs["align"] == "flow" and (tf["status"][()] != 3).sum(axis=0).tolist() == [24, 8, 4]
    # ASHA in a fixed order: the rung sizes of whole-rung promotion, other trials in them
    ash = f["asha"]
    assert ash.attrs["promote"] == "asha" and ash.attrs["align"] == "flow" and fl.attrs["promote"] == "rung"
    assert (ash["status"][()] != 3).sum(axis=0).tolist() == ash["rung_trials"][()].sum(axis=0).tolist()
    # TPE + ASHA: 3 batches of 12, each one bracket (12@3 4@9 1@27, the sizes of whole-rung promotion)
    ta = f["tpeasha"]
    assert ta.attrs["promote"] == "asha" and ta.attrs["sampler"] == "tpe"
    assert (ta["status"][()] != 3).sum(axis=0).tolist() == [36, 12, 3], (ta["status"][()] != 3).sum(axis=0)
    print("search stage: trials per rung", ran.tolist(), "best trial", int(g.attrs["best_trial"]))
PYEOF
fi
