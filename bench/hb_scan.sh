#!/usr/bin/env bash
# hb_scan.sh - which successive-halving / Hyperband schedules get within 5% of a grid's best for at
# most 25% of its compute (issue 16 item 7), replayed exactly from the grid's learning curves.
#
#   bench/hb_scan.sh [GRID.h5] [METRIC]
#
# GRID.h5 (default build-bench/hb-scan/grid100.h5, made when missing: jobs/moons-search-grid.cfg, its
# 400 cells with a curve point every 10 epochs, so that rungs at 10, 20, 30, 40, ... epochs lie on the
# curves; ~12 min at -np 2 on 2 quiet cores). For eta in {2, 3, 4}, min_epochs in {10, 20, 30, 50,
# 100} and brackets in {1, 2, 3, all} (1: plain successive halving), bench/hyperband_replay.py replays
# src/halving.c's schedule and promotion over 60 keyed permutations of the cells into brackets and
# prints the median gap to the grid's best, how many permutations land within 5%, and the median
# share of the grid's compute. METRIC (default the stage's select metric, test_mse_clean) ranks and
# scores; test_mse_noisy is the same cells scored on the other test set. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
GRID=${1:-build-bench/hb-scan/grid100.h5}
METRIC=${2:-}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ ! -f "$GRID" ]; then
  mkdir -p "$(dirname "$GRID")"
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DAESWEEP_BENCH=ON -DAESWEEP_TESTS=OFF > /dev/null
  cmake --build build-bench -j"$(nproc)" --target aesweep > /dev/null
  sed -e 's/curve_points = 20;/curve_points = 100;/' jobs/moons-search-grid.cfg > "${GRID%.h5}.cfg"
  grep -q 'curve_points = 100;' "${GRID%.h5}.cfg"
  "${MPIRUN:-mpirun}" --oversubscribe -np 2 build-bench/aesweep run "${GRID%.h5}.cfg" -o "$GRID" --quiet
fi
seeds=$(seq -s, 1 60)
printf '%-5s %-5s %-9s %-10s %-12s %-14s\n' eta min brackets "median gap" "within 5%" "median compute"
for eta in 2 3 4; do
  for mn in 10 20 30 50 100; do
    for br in 1 2 3 0; do
      line=$("$PY" bench/hyperband_replay.py "$GRID" ${METRIC:+--metric "$METRIC"} --min-epochs "$mn" --eta "$eta" \
               --brackets "$br" --perm-seeds "$seeds" 2>&1 | tail -1) || true
      # "median over 60 permutations: +4.96% of the grid's best (range ...), 17.1% of its compute (range ...); within 5%: 11 of 60"
      gap=$(sed -n 's/.*permutations: \([-+0-9.]*%\).*/\1/p' <<< "$line")
      comp=$(sed -n 's/.*), \([0-9.]*%\) of its compute.*/\1/p' <<< "$line")
      within=$(sed -n 's/.*within 5%: \([0-9]* of [0-9]*\).*/\1/p' <<< "$line")
      [ -n "$gap" ] || { gap="-"; comp="-"; within="(not a schedule: too many brackets)"; }
      printf '%-5s %-5s %-9s %-10s %-12s %-14s\n' "$eta" "$mn" "$([ "$br" = 0 ] && echo all || echo "$br")" "$gap" "$within" "$comp"
    done
  done
done
