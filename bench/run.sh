#!/usr/bin/env bash
# bench/run.sh - aesweep's performance benchmark (issue 8), one command:
#
#     bench/run.sh            # quick mode: a few minutes
#     bench/run.sh --full     # full mode: every number measured, nothing extrapolated
#     options: --reps N (kernel runs per config), --study-reps N (whole-study runs)
#
# Measures on this machine, in one run, side by side:
#   (a) the single-core OpenBLAS sgemm peak (2048^2, OPENBLAS_NUM_THREADS=1),
#       and the core's FMA instruction peak for context;
#   (b) aesweep's training loop (train_run: full-batch Adam, one thread) on the
#       study's shapes: the default kernel (fused rows-in-lanes training step,
#       skipping dead units), the same without the skip ("dense"), the tiled
#       feature-vectorised kernel and the OpenBLAS kernel (bench_train);
#   (c) the same training in PyTorch as the study writes it (torch_train.py);
#   (d) the whole moons M1 grid (bench/m1.cfg, 100 cells) with mpirun -np 1 and
#       -np 2 against the study's Python loop (torch_grid.py) in one process and
#       split over two; peak RSS per rank;
#   (e) the per-task overhead on 100,000 tiny cells (bench/tiny.cfg);
#   (f) the scheduler simulator at 16..4096 ranks, calibrated from (d);
#   (g) wide layers (bench/wide.sh): 784-800x1-32 and tapered / resnet shapes
#       on Fashion-MNIST, aesweep's GEMM path beside PyTorch, per step and end
#       to end, with the narrow shapes of (b) again in the same run.
# and prints one table (bench/report.py).  Each number is the median of
# --reps runs (quick 3, full 5; whole-study runs quick 1, full 3).
# Quick mode shortens only PyTorch's whole-grid loop (each cell trained for
# min(epochs, 50) epochs and its time scaled up, labelled "extrapolated")
# and runs the 2-50x4-1 shape for 200 epochs instead of 1000.
#
# Environment: PYTHON (default /usr/bin/python3, which must import torch;
# python3-torch is installed with apt-get when missing), BUILD (default
# build-bench), MPIRUN (default mpirun).  Root runs are allowed for mpirun.
# Wall times on a shared machine are noisy: the table also shows CPU seconds
# of the training runs (a large gap means other processes took the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
MODE=quick
REPS=
SREPS_SET=
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) MODE=quick ;;
    --full) MODE=full ;;
    --reps) REPS=$2; shift ;;
    --study-reps) SREPS_SET=$2; shift ;;
    -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (use --quick, --full, --reps N, --study-reps N)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$MODE" = full ]; then REPS=${REPS:-5}; SREPS=3; W50=1000; QE=0; else REPS=${REPS:-3}; SREPS=1; W50=200; QE=50; fi
SREPS=${SREPS_SET:-$SREPS}
PY=${PYTHON:-/usr/bin/python3}
BUILD=${BUILD:-build-bench}
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# ---- set-up ------------------------------------------------------------------
if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "== installing python3-torch (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch
fi
"$PY" -c "import torch, h5py" || { echo "bench/run.sh: $PY needs torch and h5py (apt-get install python3-torch python3-h5py)" >&2; exit 2; }
echo "== building aesweep and the bench programs in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAESWEEP_TESTS=OFF -DAESWEEP_BENCH=ON > "$BUILD.cmake.log" 2>&1 || { cat "$BUILD.cmake.log"; exit 3; }
cmake --build "$BUILD" -j2 > /dev/null
OUT=$BUILD/bench-out
rm -rf "$OUT"
mkdir -p "$OUT"
B=$BUILD/bench
echo "mode $MODE reps $REPS study-reps $SREPS host $(hostname) cpus $(getconf _NPROCESSORS_ONLN) load $(cut -d" " -f1-3 /proc/loadavg) $(date -u +%FT%TZ)" > "$OUT/meta.txt"
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu /' >> "$OUT/meta.txt"

# ---- (a) sgemm peak ------------------------------------------------------------
echo "== (a) sgemm peak"
"$B/sgemm_peak" 2048 $((REPS + 4)) | tee "$OUT/sgemm.txt"

# ---- (b)+(c) kernel side by side ---------------------------------------------
# name | bench_train / torch_train flags
CONFIGS=(
    "moons_2-20x3-1_9000x1000|--data moons --train-size 9000 --epochs 1000 --hidden 20 --layers 3 --bottleneck 1"
    "moons_2-50x4-1_9000x${W50}|--data moons --train-size 9000 --epochs $W50 --hidden 50 --layers 4 --bottleneck 1"
    "digits_64-100x2-8_1198x1000|--data digits --train-size 1198 --epochs 1000 --hidden 100 --layers 2 --bottleneck 8"
    "moons_2-20x3-1_1000x50|--data moons --train-size 1000 --epochs 50 --hidden 20 --layers 3 --bottleneck 1"
)
for c in "${CONFIGS[@]}"; do
    name=${c%%|*}
    flags=${c#*|}
    echo "== (b,c) $name"
    # shellcheck disable=SC2086
    "$B/bench_train" $flags --digits data/digits.csv.gz --reps "$REPS" --kernel fast,dense,tiled,blas | tee "$OUT/aesweep_$name.json"
    # shellcheck disable=SC2086
    "$PY" bench/torch_train.py $flags --repeats "$REPS" --digits-path data/digits.csv.gz | tee "$OUT/torch_$name.json" | cut -c1-160
done

# ---- (d) whole study: M1 grid ------------------------------------------------
for np in 1 2; do
    for r in $(seq 1 "$SREPS"); do
        echo "== (d) aesweep M1, mpirun -np $np, run $r"
        t0=$(now)
        "$MPIRUN" -np "$np" bench/rank_time.sh "$OUT/m1_np${np}_rss.txt" "$BUILD/aesweep" run bench/m1.cfg \
            -o "$OUT/m1_np$np.h5" --fresh --quiet > "$OUT/m1_np${np}_run$r.log" 2>&1
        echo "{\"np\": $np, \"run\": $r, \"seconds\": $(since "$t0")}" | tee -a "$OUT/m1_aesweep.json"
    done
done
for r in $(seq 1 "$SREPS"); do
    echo "== (d) PyTorch M1 loop, one process, run $r"
    "$PY" bench/torch_grid.py --quick-epochs "$QE" | tee -a "$OUT/m1_torch1.json" | cut -c1-160
    echo "== (d) PyTorch M1 loop, two processes, run $r"
    t0=$(now)
    "$PY" bench/torch_grid.py --quick-epochs "$QE" --part 0 --nparts 2 > "$OUT/m1_torch2_p0.tmp" &
    "$PY" bench/torch_grid.py --quick-epochs "$QE" --part 1 --nparts 2 > "$OUT/m1_torch2_p1.tmp"
    wait
    "$PY" - "$OUT" "$(since "$t0")" <<'PYEOF' | tee -a "$OUT/m1_torch2.json"
import json, sys
out, wall = sys.argv[1], float(sys.argv[2])
p = [json.load(open(f"{out}/m1_torch2_p{i}.tmp")) for i in (0, 1)]
ext = p[0]["extrapolated"]
print(json.dumps({"seconds": max(x["seconds"] for x in p) if ext else wall, "extrapolated": ext,
                  "cpu_seconds": max(x["cpu_seconds"] for x in p), "parts": [x["seconds"] for x in p]}))
PYEOF
done

# ---- (e) per-task overhead: 100,000 tiny cells ---------------------------------
for np in 1 2; do
    echo "== (e) 100,000 tiny cells, mpirun -np $np"
    t0=$(now)
    "$MPIRUN" -np "$np" bench/rank_time.sh "$OUT/tiny_np${np}_rss.txt" "$BUILD/aesweep" run bench/tiny.cfg \
        -o "$OUT/tiny_np$np.h5" --fresh --quiet > "$OUT/tiny_np$np.log" 2>&1 || echo "   (run failed, see $OUT/tiny_np$np.log)"
    echo "{\"np\": $np, \"seconds\": $(since "$t0")}" | tee "$OUT/tiny_np$np.json"
done

# ---- (f) scheduler simulator -----------------------------------------------------
echo "== (f) simulator"
SPECS=$(ls jobs/moons.cfg jobs/digits.cfg 2>/dev/null || true)
# shellcheck disable=SC2086
"$B/simulate" $SPECS bench/m1.cfg --result "$OUT/m1_np1.h5" --calib-spec bench/m1.cfg --random 100000 --hyperband 10000 \
    > "$OUT/simulate.txt" 2>&1 || true

# ---- (g) wide layers (issue 17): aesweep's GEMM path beside PyTorch, narrow shapes again
echo "== (g) wide layers (bench/wide.sh)"
bench/wide.sh "$BUILD" "$OUT" > /dev/null

echo
"$PY" bench/report.py "$OUT" | tee "$OUT/report.txt"
tee -a "$OUT/report.txt" < "$OUT/wide_report.txt"
