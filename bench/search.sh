#!/usr/bin/env bash
# search.sh - the adaptive-search benchmarks of issue 16 in one run, with their ratios.
#
#   bench/search.sh [OUT]     (OUT default build-bench/search-out; ~1 h on 2 quiet cores)
#
# 1. anytime: wall and CPU seconds until the best test MSE so far first falls below 0.0085 and
#    0.0065, medians over seeds (SEARCH_SEEDS, default "1 2 3"), for
#      aesweep `run` of a search stage at -np 2 (bench/search_watch.py times each result as rank 0
#      journals it): random + Hyperband, Sobol + Hyperband (243 trials, min_epochs 10, max_epochs
#      1000, eta 3) and TPE + successive halving (243 trials proposed in rounds of 27, each round one
#      bracket: 27@10 9@30 3@90 1@270 1@1000 epochs);
#      Optuna 3.1 + HyperbandPruner (min_resource 10, max_resource 1000, eta 3) + PyTorch on one
#      thread in one process and in two (bench/search_optuna.py, stopped at SEARCH_OPTUNA_CPU CPU
#      seconds per process, default 120; two processes 60 each);
#    the space of jobs/moons-search.cfg (train_size {1000..9000 step 2000}, lr log-uniform on
#    [0.0005, 0.003], hidden {10, 15, 20, 40, 50}, layers {1..4}), test set "clean" (10,000 points).
#    The runs go one after another, so each has the machine to itself as far as the others' load
#    allows (compare the CPU seconds when the machine is shared).
# 2. Hyperband against the full grid: jobs/moons-search-grid.cfg (400 cells to 1,000 epochs), the same
#    stage with `halving` added (Hyperband over the grid's own cells: same seeds, so every trial at
#    1,000 epochs must equal its grid cell, checked) and the search stage of jobs/moons-search.cfg
#    (729 Sobol trials, continuous learning rate), and the grid stage with the two schedules
#    bench/hb_scan.sh found (eta 2 from 20 epochs: successive halving, and Hyperband's three most
#    aggressive brackets): best MSE against the grid's, share of its compute (FLOP model and
#    measured CPU) (bench/search_grid.py).
# 3. the simulator: build-bench/bench/simulate --hyperband 10000 --policy all (the rounds as
#    `aesweep run` runs them, at 16-4,096 ranks).
# Env: PYTHON, MPIRUN, SEARCH_SEEDS, SEARCH_OPTUNA_CPU, SEARCH_PARTS ("1 2 3"), SEARCH_TRIALS (243),
# SEARCH_KINDS (the aesweep variants of part 1: random sobol tpe, KIND_start, KIND_flow, KIND_asha
# (halving.promote = "asha"), tpe_flow, tpeN_flow for TPE batches of N as a dataflow, tpeN_asha for
# TPE batches of N promoting by ASHA's rule), SEARCH_OPTUNA
# (0: part 1 without the Optuna runs), SEARCH_HB and SEARCH_SH (the halving group's keys of the
# Hyperband and the TPE stages; default min_epochs 10, max_epochs 1000, eta 3, as Optuna's pruner),
# SEARCH_REUSE_GRID (1: keep OUT/grid.h5 from an earlier run), SEARCH_CURVE (curve points of the part-1
# stages, 100: a curve point and interim report every 10 epochs, as Optuna reports; 0: none),
# SEARCH_PEER_CORETYPE (OPENBLAS_CORETYPE for the Optuna runs only; unset: the machine's).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build-bench/search-out}
PY=${PYTHON:-/usr/bin/python3}
MPIRUN=${MPIRUN:-mpirun}
SEEDS=${SEARCH_SEEDS:-1 2 3}
OCPU=${SEARCH_OPTUNA_CPU:-120}
PARTS=${SEARCH_PARTS:-1 2 3}
NT=${SEARCH_TRIALS:-243}
# curve points over max_epochs: 100 = every 10 epochs, when Optuna's trials report (--report-every);
# each point is an interim report to rank 0 (0: results at rung ends only)
CURVE=${SEARCH_CURVE:-100}
# the peer's OpenBLAS core (PyTorch's matrix products): OpenBLAS 0.3.21 falls back to its Prescott
# (SSE3) kernels on CPUs it does not know, which costs PyTorch 5-8% on the moons networks
# (bench/RESULTS.md); SEARCH_PEER_CORETYPE=Cooperlake (say) gives the peer its AVX-512 kernels
PEER_ENV=${SEARCH_PEER_CORETYPE:+OPENBLAS_CORETYPE=$SEARCH_PEER_CORETYPE}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DAESWEEP_BENCH=ON -DAESWEEP_TESTS=OFF > /dev/null
cmake --build build-bench -j"$(nproc)" --target aesweep simulate > /dev/null
AES=$PWD/build-bench/aesweep
has() { [[ " $PARTS " == *" $1 "* ]]; }

# The search stage of jobs/moons-search.cfg with another sampler, trial count, seed and schedule.
search_spec() { # SAMPLER SEED TRIALS HALVING [SAMPLE_EXTRA]
  cat <<EOF
study = "search-bench"; seed = $2; hidden_above_input = true;
data = { source = "moons"; pool = 10000; noise = 0.1; };
tests = ( { name = "clean"; noise = 0.1; size = 10000; } );
defaults = { bottleneck = 1; };
stages = ( { name = "search";
  sample = { sampler = "$1"; n_trials = $3; ${5:-}
    space = { train_size = { choice = (1000, 3000, 5000, 7000, 9000); };
              lr = { log_uniform = [0.0005, 0.003]; };
              hidden = { choice = (10, 15, 20, 40, 50); };
              layers = { choice = (1, 2, 3, 4); }; }; };
  halving = { $4 };
  curve_points = $CURVE; } );
EOF
}
HB=${SEARCH_HB:-"min_epochs = 10; max_epochs = 1000; eta = 3; brackets = 0;"}
SH=${SEARCH_SH:-"min_epochs = 10; max_epochs = 1000; eta = 3; brackets = 1;"}

# run_watched LABEL SEED SPEC OUT.h5 [STAGE]: an aesweep run at -np 2 under search_watch.py
run_watched() {
  "$PY" bench/search_watch.py --label "$1" --seed "$2" --stage "${5:-search}" -- \
    "$MPIRUN" --oversubscribe -np 2 "$AES" run "$3" -o "$4" --quiet --fresh
}

if has 1; then
  echo "== 1. anytime (seeds $SEEDS, one run at a time), $(date -u +%H:%M) UTC"
  for s in $SEEDS; do
    for kind in ${SEARCH_KINDS:-random sobol tpe random_start sobol_start random_flow sobol_flow random_asha sobol_asha tpe_flow tpe9_flow}; do
      case $kind in
        tpe) search_spec tpe "$s" "$NT" "$SH" "tpe_batch = 27;" > "$OUT/aesweep_${kind}_$s.cfg" ;;
        tpe_flow) search_spec tpe "$s" "$NT" "$SH align = \"flow\";" "tpe_batch = 27;" > "$OUT/aesweep_${kind}_$s.cfg" ;;
        tpe[0-9]*_flow) b=${kind#tpe}; search_spec tpe "$s" "$NT" "$SH align = \"flow\";" "tpe_batch = ${b%_flow};" \
                          > "$OUT/aesweep_${kind}_$s.cfg" ;;
        tpe[0-9]*_asha) b=${kind#tpe}; search_spec tpe "$s" "$NT" "$SH promote = \"asha\";" "tpe_batch = ${b%_asha};" \
                          > "$OUT/aesweep_${kind}_$s.cfg" ;;
        *_asha) search_spec "${kind%_asha}" "$s" "$NT" "$HB promote = \"asha\";" > "$OUT/aesweep_${kind}_$s.cfg" ;;
        *_start) search_spec "${kind%_start}" "$s" "$NT" "$HB align = \"start\";" > "$OUT/aesweep_${kind}_$s.cfg" ;;
        *_flow) search_spec "${kind%_flow}" "$s" "$NT" "$HB align = \"flow\";" > "$OUT/aesweep_${kind}_$s.cfg" ;;
        *) search_spec "$kind" "$s" "$NT" "$HB" > "$OUT/aesweep_${kind}_$s.cfg" ;;
      esac
      run_watched "$kind" "$s" "$OUT/aesweep_${kind}_$s.cfg" "$OUT/aesweep_${kind}_$s.h5" \
        > "$OUT/aesweep_${kind}_$s.jsonl" 2> "$OUT/aesweep_${kind}_$s.err"
      echo "  aesweep $kind seed $s: $(cut -c1-200 "$OUT/aesweep_${kind}_$s.jsonl")"
    done
    [ "${SEARCH_OPTUNA:-1}" = 0 ] && continue
    env $PEER_ENV "$PY" bench/search_optuna.py --procs 1 --seeds "$s" --cpu-limit "$OCPU" --time-limit 36000 \
      > "$OUT/optuna_np1_$s.jsonl" 2> "$OUT/optuna_np1_$s.err"
    echo "  optuna 1 process seed $s: $(head -1 "$OUT/optuna_np1_$s.jsonl" | cut -c1-200)"
    env $PEER_ENV "$PY" bench/search_optuna.py --procs 2 --seeds "$s" --cpu-limit $((OCPU / 2)) --time-limit 36000 \
      > "$OUT/optuna_np2_$s.jsonl" 2> "$OUT/optuna_np2_$s.err"
    echo "  optuna 2 processes seed $s: $(head -1 "$OUT/optuna_np2_$s.jsonl" | cut -c1-200)"
  done
  for kind in $(ls "$OUT" | sed -n 's/^\(aesweep_.*\|optuna_np[12]\)_[0-9]*\.jsonl$/\1/p' | sort -u); do
    "$PY" bench/search_optuna.py --summarize $(for s in $SEEDS; do echo "$OUT/${kind}_$s.jsonl"; done) \
      | tail -1 > "$OUT/${kind}_summary.json"
  done
  "$PY" bench/search_table.py "$OUT"
  # how soon any schedule of the same trials could have got there (not TPE: its proposals depend on
  # which results are in); the measured crossing beside it
  bound_args=()
  for f in "$OUT"/aesweep_*_[0-9]*.jsonl; do
    case ${f##*/} in *tpe*) continue ;; esac
    bound_args+=("${f%.jsonl}.h5" "$f")
  done
  [ ${#bound_args[@]} -eq 0 ] || "$PY" bench/anytime_bound.py --ranks 2 "${bound_args[@]}"
fi

if has 2; then
  echo "== 2. Hyperband against the full grid, $(date -u +%H:%M) UTC"
  # Hyperband over the grid's own cells: the grid stage with halving, epochs left to the schedule
  sed -e 's/defaults = { bottleneck = 1; epochs = 1000; };/defaults = { bottleneck = 1; };/' \
      -e 's/^    curve_points = 20;/    halving = { min_epochs = 10; max_epochs = 1000; eta = 3; };/' \
      jobs/moons-search-grid.cfg > "$OUT/grid_hyperband.cfg"
  grep -q 'halving' "$OUT/grid_hyperband.cfg"
  # the schedules the replay scan (bench/hb_scan.sh) found on this grid: from 20 epochs, eta 2, as
  # successive halving (one bracket) and as Hyperband's three most aggressive brackets
  for v in "sh_e2m20 1" "hb_e2m20b3 3"; do
    set -- $v
    sed -e "s/eta = 3; };/eta = 2; brackets = $2; };/" -e 's/min_epochs = 10;/min_epochs = 20;/' \
      "$OUT/grid_hyperband.cfg" > "$OUT/grid_$1.cfg"
    grep -q "eta = 2; brackets = $2;" "$OUT/grid_$1.cfg"
  done
  # the search stage of the job alone (no refit)
  awk '/name = "refit"/ {exit} {print}' jobs/moons-search.cfg | sed -e 's/^    select = "test_mse_clean"; },$/    select = "test_mse_clean"; } );/' \
    > "$OUT/moons_search.cfg"
  # SEARCH_REUSE_GRID=1: keep a grid run already in OUT (the grid is the same at any version that
  # keeps the training bits; search_grid.py checks that every Hyperband trial at 1,000 epochs still
  # equals its cell)
  if [ "${SEARCH_REUSE_GRID:-0}" = 1 ] && [ -s "$OUT/grid.jsonl" ] && [ -f "$OUT/grid.h5" ]; then
    echo "  (grid: reusing $OUT/grid.h5)"
  else
    run_watched grid 0 jobs/moons-search-grid.cfg "$OUT/grid.h5" grid > "$OUT/grid.jsonl"
  fi
  run_watched grid_hyperband 0 "$OUT/grid_hyperband.cfg" "$OUT/grid_hyperband.h5" grid > "$OUT/grid_hyperband.jsonl"
  for v in sh_e2m20 hb_e2m20b3; do
    run_watched "grid_$v" 0 "$OUT/grid_$v.cfg" "$OUT/grid_$v.h5" grid > "$OUT/grid_$v.jsonl"
  done
  run_watched moons_search 0 "$OUT/moons_search.cfg" "$OUT/moons_search.h5" > "$OUT/moons_search.jsonl"
  cpu() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cpu_seconds"])' "$1"; }
  "$PY" bench/search_grid.py "$OUT/grid.h5" --grid-cpu "$(cpu "$OUT/grid.jsonl")" \
    "$OUT/grid_hyperband.h5:grid:$(cpu "$OUT/grid_hyperband.jsonl")" \
    "$OUT/grid_sh_e2m20.h5:grid:$(cpu "$OUT/grid_sh_e2m20.jsonl")" \
    "$OUT/grid_hb_e2m20b3.h5:grid:$(cpu "$OUT/grid_hb_e2m20b3.jsonl")" \
    "$OUT/moons_search.h5:search:$(cpu "$OUT/moons_search.jsonl")"
fi

if has 3; then
  echo "== 3. simulator"
  build-bench/bench/simulate --hyperband 10000 --policy all
fi
