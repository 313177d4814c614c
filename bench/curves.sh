#!/usr/bin/env bash
# curves.sh [REPS] - what learning curves cost: the moons M1 grid (bench/m1.cfg,
# 20 tasks of 1000 epochs, two-moons test set of 10,000 points) at one rank with
# curve_points = $POINTS (default 20, the spec's default) and with
# curve_points = 0 (no curves), runs alternated REPS times (default 3).  Prints the median CPU seconds (user +
# system: the fair measure on a shared machine) and wall seconds of each, and
# the ratio curves / no curves.  Not part of the test suite.
#   BIN=build/aesweep bench/curves.sh 5
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/aesweep}
REPS=${1:-3}
POINTS=${POINTS:-20}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
sed 's/^output = .*/curve_points = 0;/' bench/m1.cfg > "$OUT/off.cfg"
sed "s/^output = .*/curve_points = $POINTS;/" bench/m1.cfg > "$OUT/on.cfg"
for r in $(seq "$REPS"); do
  for mode in on off; do
    /usr/bin/time -a -o "$OUT/$mode.times" -f "%U %S %e" \
      "$BIN" run "$OUT/$mode.cfg" -o "$OUT/$mode.h5" --fresh --quiet
  done
done
python3 - "$OUT" "$REPS" "$POINTS" <<'PY'
import statistics, sys
out, reps, points = sys.argv[1], sys.argv[2], sys.argv[3]
def med(mode):
    rows = [list(map(float, l.split())) for l in open(f"{out}/{mode}.times") if l.strip()]
    return statistics.median(u + s for u, s, _ in rows), statistics.median(w for _, _, w in rows)
on, off = med("on"), med("off")
print(f"M1 grid (bench/m1.cfg), 1 rank, median of {reps}:")
print(f"  curve_points = {points:>3}: {on[0]:7.2f} s CPU  {on[1]:7.2f} s wall")
print(f"  curve_points =   0: {off[0]:7.2f} s CPU  {off[1]:7.2f} s wall")
print(f"  curves / no curves: {on[0] / off[0]:.3f} (CPU)  {on[1] / off[1]:.3f} (wall)")
PY
