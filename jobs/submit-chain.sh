#!/usr/bin/env bash
# submit-chain.sh - submit a sweep and its analysis; the analysis starts only once the sweep has
# succeeded (--dependency=afterok) and is cancelled if the sweep fails (--kill-on-invalid-dep).
#
#   jobs/submit-chain.sh [SPEC] [-- more sbatch options for the sweep]
#   jobs/submit-chain.sh jobs/moons.cfg -- -N 2 --ntasks-per-node=32
#
# Prints the two job ids ("SWEEP ANALYSIS"). Run it from the aesweep checkout (the jobs read
# build/, jobs/ and analysis/ from the directory they were submitted from, unless AESWEEP_HOME
# says otherwise); results go to results/<spec name>.h5 and results/<spec name>-report/.
# Settings: every variable of study.sbatch and analysis.sbatch (OUT, REPORT_DIR, PYTHON, ...), and
#   SWEEP_SCRIPT     the sweep's job script (default jobs/study.sbatch; jobs/study-requeue.sbatch
#                    for a study longer than the time limit: afterok waits for its last allocation)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ] && [ "$1" != "--" ]; then SPEC=$1; shift; fi
[ "${1:-}" = "--" ] && shift
spec=${SPEC:-${AESWEEP_HOME:-$PWD}/jobs/quick.cfg}
[ -f "$spec" ] || { echo "submit-chain: no spec $spec" >&2; exit 2; }
export SPEC=$spec
export OUT=${OUT:-$PWD/results/$(basename "$spec" .cfg).h5}

sweep=$(sbatch --parsable "$@" "${SWEEP_SCRIPT:-$here/study.sbatch}")
sweep=${sweep%%;*}                   # --parsable prints "id" or "id;cluster"
analysis=$(sbatch --parsable --dependency=afterok:"$sweep" --kill-on-invalid-dep=yes "$here/analysis.sbatch")
analysis=${analysis%%;*}
echo "submit-chain: sweep job $sweep ($spec -> $OUT), analysis job $analysis after it succeeds" >&2
echo "$sweep $analysis"
