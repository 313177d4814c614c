#!/usr/bin/env bash
# submit-chain.sh - submit a sweep and its analysis; the analysis starts only once the sweep has
# succeeded (--dependency=afterok) and is cancelled if the sweep fails (--kill-on-invalid-dep).
#
#   jobs/submit-chain.sh [SPEC [OUT]] [-- more sbatch options for both jobs]
#   jobs/submit-chain.sh jobs/moons.cfg -- -N 2 --ntasks-per-node=32
#   jobs/submit-chain.sh jobs/moons.cfg results/moons.h5 -- --export=NONE
#
# Prints the two job ids ("SWEEP ANALYSIS"). Run it from the aesweep checkout (the jobs read
# build/, jobs/ and analysis/ from the directory they were submitted from, unless AESWEEP_HOME
# says otherwise); results go to OUT (default results/<spec name>.h5) and OUT without .h5 plus
# -report/. Spec, output and report folder reach the jobs as arguments, so --export=NONE works.
# The sbatch options after -- go to the sweep; of them, --export=, --partition=, --account= and
# --qos= (written with '=') go to the analysis too (its size stays that of analysis.sbatch).
# Settings: SPEC and OUT (an argument wins), every variable of study.sbatch and analysis.sbatch
# (REPORT_DIR, PYTHON, AESWEEP_ARGS, ...), and
#   SWEEP_SCRIPT     the sweep's job script (default jobs/study.sbatch; jobs/study-requeue.sbatch
#                    for a study longer than the time limit: afterok waits for its last allocation)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spec=${SPEC:-} out=${OUT:-}
if [ $# -gt 0 ] && [ "$1" != "--" ]; then spec=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then out=$1; shift; fi
[ "${1:-}" = "--" ] && shift
spec=${spec:-${AESWEEP_HOME:-$PWD}/jobs/quick.cfg}
[ -f "$spec" ] || { echo "submit-chain: no spec $spec" >&2; exit 2; }
out=${out:-$PWD/results/$(basename "$spec" .cfg).h5}
report=${REPORT_DIR:-${out%.h5}-report}
shared=()     # the sweep's options that the analysis job needs too
for o in "$@"; do
  case $o in --export=*|--partition=*|--account=*|--qos=*) shared+=("$o") ;; esac
done

sweep=$(sbatch --parsable "$@" "${SWEEP_SCRIPT:-$here/study.sbatch}" "$spec" "$out")
sweep=${sweep%%;*}                   # --parsable prints "id" or "id;cluster"
analysis=$(sbatch --parsable --dependency=afterok:"$sweep" --kill-on-invalid-dep=yes "${shared[@]}" \
  "$here/analysis.sbatch" "$out" "$report")
analysis=${analysis%%;*}
echo "submit-chain: sweep job $sweep ($spec -> $out), analysis job $analysis after it succeeds" >&2
echo "$sweep $analysis"
