#!/usr/bin/env bash
# main.sh - README command (1): install packages, build, run the moons study
# on all local cores, draw its report, and print where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
NP=${NP:-$(nproc)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # harmless when not root
mpirun -np "$NP" build/aesweep run jobs/moons.cfg -o results/moons.h5 "$@"
build/aesweep info results/moons.h5
if [ -f analysis/report.py ]; then
  "${PYTHON:-/usr/bin/python3}" analysis/report.py results/moons.h5 -o results/moons-report
fi
echo "result file: $(pwd)/results/moons.h5"
