#!/usr/bin/env bash
# bench/wide.sh - part (g) of bench/run.sh: wide layers (issue 17 item 3), on
# its own or from run.sh.  Side by side in one run, one thread each:
#   aesweep (bench_wide: load, train_run, evaluate) with the default kernel
#   (the GEMM path of src/kernel_gemm.c for models with a layer >= 256 wide,
#   on OpenBLAS sgemm), the same path with the packed AVX-512 micro-kernel
#   (AESWEEP_GEMM=packed), and
#   PyTorch (torch_wide.py), on Fashion-MNIST (the Debian package
#   dataset-fashion-mnist; --synthetic for same-shaped uniform data):
#     784-800x1-32   mini-batch 256, 1 epoch of 40,000 images
#     784-800x1-32   full batch, 5 epochs of 4,000 images
#     784-512-256-32 (tapered) mini-batch 256, 1 epoch of 40,000 images
#     784-512x1-32 resnet (1 residual block per side) mini-batch 256, 1 epoch
#   and, for the narrow shapes in the same run, bench_train's default kernel
#   on moons 2-20x3-1 (9000 x 1000) and digits 64-100x2-8 (1198 x 1000), with
#   BASE_BUILD=<a build of the previous release with -DAESWEEP_BENCH=ON>
#   side by side with that build's bench_train.
# usage: bench/wide.sh [BUILD [OUT]] [--synthetic] [--reps N]
# Prints the table of bench/wide_report.py; raw JSON lines in OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-bench OUT= SYN= REPS=1
POS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --synthetic) SYN=--synthetic ;;
    --reps) REPS=$2; shift ;;
    *) POS+=("$1") ;;
    esac
    shift
done
BUILD=${POS[0]:-$BUILD}
OUT=${POS[1]:-$BUILD/bench-out}
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
if [ ! -x "$BUILD/bench/bench_wide" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAESWEEP_TESTS=OFF -DAESWEEP_BENCH=ON > /dev/null
    cmake --build "$BUILD" -j2 > /dev/null
fi
if [ -z "$SYN" ] && [ ! -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "bench/wide.sh: no Fashion-MNIST (apt-get install dataset-fashion-mnist); using --synthetic" >&2
    SYN=--synthetic
fi
mkdir -p "$OUT"
J=$OUT/wide.json
: > "$J"
CONFIGS=(
    "mb256|--hidden 800 --layers 1 --bottleneck 32 --batch 256 --epochs 1 --rows 40000"
    "full|--hidden 800 --layers 1 --bottleneck 32 --batch 0 --epochs 5 --rows 4000"
    "tapered|--hidden 512,256 --layers 0 --bottleneck 32 --batch 256 --epochs 1 --rows 40000"
    "resnet|--hidden 512 --layers 1 --bottleneck 32 --arch resnet --batch 256 --epochs 1 --rows 40000"
)
for r in $(seq 1 "$REPS"); do
    for c in "${CONFIGS[@]}"; do
        name=${c%%|*}
        flags=${c#*|}
        echo "== (g) $name, run $r: aesweep (OpenBLAS), aesweep (packed GEMM), PyTorch" >&2
        # shellcheck disable=SC2086
        "$BUILD/bench/bench_wide" $flags $SYN --label "$name" | tee -a "$J" | cut -c1-150
        # shellcheck disable=SC2086
        AESWEEP_GEMM=packed "$BUILD/bench/bench_wide" $flags $SYN --label "$name" | tee -a "$J" | cut -c1-150
        # shellcheck disable=SC2086
        "$PY" bench/torch_wide.py $flags $SYN --label "$name" | tee -a "$J" | cut -c1-150
    done
done
N=$OUT/narrow.json
: > "$N"
NARROW=(
    "--data moons --train-size 9000 --epochs 1000 --hidden 20 --layers 3 --bottleneck 1"
    "--data digits --train-size 1198 --epochs 1000 --hidden 100 --layers 2 --bottleneck 8"
)
for flags in "${NARROW[@]}"; do
    echo "== (g) narrow: $flags" >&2
    # shellcheck disable=SC2086
    "$BUILD/bench/bench_train" $flags --digits data/digits.csv.gz --reps 3 --kernel fast | sed 's/^{/{"build": "this",/' | tee -a "$N" | cut -c1-150
    if [ -n "${BASE_BUILD:-}" ]; then
        # shellcheck disable=SC2086
        "$BASE_BUILD/bench/bench_train" $flags --digits data/digits.csv.gz --reps 3 --kernel fast | sed 's/^{/{"build": "base",/' | tee -a "$N" | cut -c1-150
    fi
done
"$PY" bench/wide_report.py "$J" "$N" | tee "$OUT/wide_report.txt"
