#!/usr/bin/env bash
# search.sh - the adaptive-search benchmarks of issue 16 in one run, with their ratios.
#
#   bench/search.sh [OUT]          (OUT default build-bench/search-out; ~1-2 h of CPU at full size)
#
# 1. anytime: CPU and wall seconds until the best test MSE so far first falls below 0.0085 and
#    0.0065, medians over seeds 1-3: aesweep random + Hyperband and Sobol + Hyperband at -np 2
#    (bench/search_run.c, 243 trials, min_epochs 10, max_epochs 1000, eta 3) against Optuna 3.1 +
#    HyperbandPruner + PyTorch on one thread, in one process and in two (bench/search_optuna.py,
#    stopped at SEARCH_OPTUNA_CPU CPU seconds per process, default 120);
# 2. Hyperband against the full grid: bench/hb_grid.cfg run once, then replayed
#    (bench/hyperband_replay.py) at eta 3 and as successive halving at eta 2;
# 3. the simulator: build-bench/bench/simulate --hyperband 10000.
# Seeds run in parallel (each search is single-threaded per process): on a machine with fewer cores
# than processes compare CPU seconds, not wall seconds. Env: PYTHON, MPIRUN, SEARCH_SEEDS ("1 2 3").
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build-bench/search-out}
PY=${PYTHON:-/usr/bin/python3}
MPIRUN=${MPIRUN:-mpirun}
SEEDS=${SEARCH_SEEDS:-1 2 3}
OCPU=${SEARCH_OPTUNA_CPU:-120}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DAESWEEP_BENCH=ON -DAESWEEP_TESTS=OFF > /dev/null
cmake --build build-bench -j"$(nproc)" --target aesweep simulate search_run > /dev/null

echo "== 1. anytime (seeds $SEEDS in parallel)"
pids=()
for s in $SEEDS; do
  for smp in random sobol; do
    "$MPIRUN" --oversubscribe -np 2 build-bench/bench/search_run --sampler $smp --trials 243 --seed "$s" \
      > "$OUT/aesweep_${smp}_$s.jsonl" 2> "$OUT/aesweep_${smp}_$s.err" & pids+=($!)
  done
  "$PY" bench/search_optuna.py --procs 1 --seeds "$s" --cpu-limit "$OCPU" --time-limit 36000 \
    > "$OUT/optuna_np1_$s.jsonl" 2> "$OUT/optuna_np1_$s.err" & pids+=($!)
  "$PY" bench/search_optuna.py --procs 2 --seeds "$s" --cpu-limit $((OCPU / 2)) --time-limit 36000 \
    > "$OUT/optuna_np2_$s.jsonl" 2> "$OUT/optuna_np2_$s.err" & pids+=($!)
done
wait "${pids[@]}"
for kind in aesweep_random aesweep_sobol optuna_np1 optuna_np2; do
  "$PY" bench/search_optuna.py --summarize $(for s in $SEEDS; do echo "$OUT/${kind}_$s.jsonl"; done) \
    | tail -1 > "$OUT/${kind}_summary.json"
done
"$PY" bench/search_table.py "$OUT"

echo "== 2. Hyperband against the full grid"
TIMEFORMAT="%U %S"
{ time build-bench/aesweep run bench/hb_grid.cfg -o "$OUT/hb_grid.h5" --fresh --quiet; } 2> "$OUT/grid.time"
CPU=$(awk 'END {print $1 + $2}' "$OUT/grid.time")
"$PY" bench/hyperband_replay.py "$OUT/hb_grid.h5" --grid-cpu-seconds "$CPU" | tail -3
"$PY" bench/hyperband_replay.py "$OUT/hb_grid.h5" --grid-cpu-seconds "$CPU" --eta 2 --brackets 1 | tail -3

echo "== 3. simulator"
build-bench/bench/simulate --hyperband 10000 | tail -11
