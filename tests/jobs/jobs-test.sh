#!/usr/bin/env bash
# jobs-test.sh - the job scripts' own logic, without Slurm: jobs/*.sbatch and jobs/submit-chain.sh run
# by bash with srun, mpirun, sbatch and scontrol replaced by stubs that record how they were called.
# Checks spec and output as arguments and as variables (an argument wins), SLURM_EXPORT_ENV=ALL for
# srun under --export=NONE, the messages (the path tried when there is no binary, the resume hints)
# and the requeue fallback's options. The real cluster runs are tests/slurm/slurm-tests.sh.
#
#   tests/jobs/jobs-test.sh SRC_DIR
set -euo pipefail
SRC=$(realpath "$1")
J=$SRC/jobs
T=$(mktemp -d "${TMPDIR:-/tmp}/aesweep-jobs.XXXXXX"); trap 'rm -rf "$T"' EXIT
fails=0 n=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
mkdir -p "$T/stub" "$T/home/build" "$T/submit"
LOG=$T/calls.log
# stubs: each logs "NAME ARGS" (and srun/mpirun the SLURM_EXPORT_ENV they see); srun and mpirun exit
# with $STUB_RC; sbatch prints a job id; scontrol prints $STUB_SHOW_JOB and refuses a requeue
for s in srun mpirun; do
  cat >"$T/stub/$s" <<STUB
#!/bin/bash
echo "$s \$*" >>"$LOG"; echo "$s SLURM_EXPORT_ENV=\${SLURM_EXPORT_ENV:-unset}" >>"$LOG"
[ -z "\${STUB_GROW:-}" ] || echo "a finished task" >>"\$STUB_GROW"     # a task journaled
exit \${STUB_RC:-0}
STUB
done
cat >"$T/stub/sbatch" <<STUB
#!/bin/bash
echo "sbatch \$*" >>"$LOG"; echo \$((4242 + \$(grep -c '^sbatch' "$LOG")))
STUB
cat >"$T/stub/scontrol" <<STUB
#!/bin/bash
echo "scontrol \$*" >>"$LOG"
case "\$*" in *requeue*) echo "scontrol: error: Requested operation is presently disabled" >&2; exit 1 ;; esac
echo "\$STUB_SHOW_JOB"
STUB
cat >"$T/stub/python" <<STUB
#!/bin/bash
echo "python \$*" >>"$LOG"
STUB
chmod +x "$T/stub"/*
printf '#!/bin/bash\nexit 0\n' >"$T/home/build/aesweep"; chmod +x "$T/home/build/aesweep"
mkdir -p "$T/home/jobs" "$T/home/analysis"; touch "$T/home/jobs/quick.cfg" "$T/home/analysis/report.py"
BIN=$T/home/build/aesweep
run() {  # run SCRIPT ARGS...: the script as a batch job would run it; stdout+stderr in $T/out
  : >"$LOG"
  (cd "$T/submit" && env PATH="$T/stub:/usr/bin:/bin" SLURM_SUBMIT_DIR="$T/submit" SLURM_JOB_ID=7 \
     AESWEEP_HOME="$T/home" "$@") >"$T/out" 2>&1
}
has() { grep -qF -- "$2" "$1" || fail "$3: no '$2' in $1: $(cat "$1")"; n=$((n + 1)); }
hasnt() { ! grep -qF -- "$2" "$1" || fail "$3: '$2' in $1: $(cat "$1")"; n=$((n + 1)); }

for s in study.sbatch study-requeue.sbatch; do
  # arguments: spec, output, options; under --export=NONE (SLURM_EXPORT_ENV=NONE in the job)
  run env SLURM_EXPORT_ENV=NONE bash "$J/$s" my.cfg out/my.h5 --quiet || true
  has "$LOG" "srun --mpi=pmix $BIN run my.cfg -o out/my.h5" "$s args"
  has "$LOG" "--quiet" "$s args"
  has "$LOG" "srun SLURM_EXPORT_ENV=ALL" "$s --export=NONE"
  # variables, and an argument winning over a variable
  run env SPEC=var.cfg OUT=var.h5 AESWEEP_ARGS="--fresh" bash "$J/$s" || true
  has "$LOG" "run var.cfg -o var.h5" "$s variables"
  has "$LOG" "--fresh" "$s AESWEEP_ARGS"
  run env SPEC=var.cfg OUT=var.h5 bash "$J/$s" arg.cfg || true
  has "$LOG" "run arg.cfg -o var.h5" "$s argument over variable"
  # defaults: the checkout's quick study, results/<name>.h5 in the submit folder
  run bash "$J/$s" || true
  has "$LOG" "run $T/home/jobs/quick.cfg -o $T/submit/results/quick.h5" "$s defaults"
  # no binary: the path tried is named
  run env AESWEEP_HOME=/nonexistent bash "$J/$s" x.cfg || true
  has "$T/out" "no binary at /nonexistent/build/aesweep nor on PATH; set AESWEEP_BIN" "$s no binary"
done
run env STUB_RC=75 bash "$J/study.sbatch" my.cfg out/my.h5 || true
has "$T/out" "resume with: sbatch jobs/study.sbatch my.cfg out/my.h5 --resume" "study.sbatch resume hint"

# mpirun: the same arguments, and the export setting for the srun mpirun starts its daemons with
run env SLURM_EXPORT_ENV=NONE MPIRUN_ARGS="--bind-to core" bash "$J/study-mpirun.sbatch" my.cfg out/my.h5 --quiet || true
has "$LOG" "mpirun --bind-to core -x AESWEEP_STARTED_FILE $BIN run my.cfg -o out/my.h5 --quiet" "study-mpirun args"
has "$LOG" "mpirun SLURM_EXPORT_ENV=ALL" "study-mpirun --export=NONE"

# the requeue refused: a new job with this job's options, spec, output and arguments
show="JobId=7 JobName=resub UserId=root(0) JobState=RUNNING Reason=None Dependency=(null) Requeue=0 Restarts=0 \
NumNodes=1 NumCPUs=2 NumTasks=2 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TimeLimit=00:09:00 Partition=debug \
MinMemoryNode=0 Command=$J/study-requeue.sbatch my.cfg grown.h5 --quiet WorkDir=$T/submit StdErr=$T/submit/resub-7.out \
StdIn=/dev/null StdOut=$T/submit/resub-7.out Power="
printf 'AESWEEP-JOURNAL 123456789012345678901234567890\n' >"$T/submit/grown.h5.journal"
run env STUB_RC=75 STUB_GROW="$T/submit/grown.h5.journal" STUB_SHOW_JOB="$show" SLURM_NTASKS_PER_NODE=2 \
  AESWEEP_ARGS=--fresh bash "$J/study-requeue.sbatch" my.cfg grown.h5 --quiet || true
has "$T/out" "requeue refused: submitted job" "requeue fallback"
line=$(grep '^sbatch' "$LOG" || true)
for want in "--dependency=afterany:7" "--job-name=resub" "--nodes=1" "--ntasks=2" "--cpus-per-task=1" \
            "--time=00:09:00" "--partition=debug" "--output=$T/submit/resub-7.out" "--chdir=$T/submit" \
            "--ntasks-per-node=2" "$J/study-requeue.sbatch my.cfg grown.h5 --quiet"; do
  grep -qF -- "$want" <<<"$line" || fail "requeue fallback: no '$want' in: $line"; n=$((n + 1))
done
grep -qF -- "--mem" <<<"$line" && fail "requeue fallback passed --mem for MinMemoryNode=0: $line"
grep -qF -- "--fresh" <<<"$line" && fail "requeue fallback passed AESWEEP_ARGS as arguments (the environment has them): $line"

# array: specs and folder as arguments, or SPECS and OUTDIR; the resume hint names them all
run env SLURM_ARRAY_TASK_ID=1 bash "$J/array.sbatch" --outdir res a.cfg b.cfg c.cfg -- --quiet || true
has "$LOG" "run b.cfg -o res/b.h5 --quiet" "array arguments"
run env SLURM_ARRAY_TASK_ID=2 SPECS="a.cfg b.cfg c.cfg" OUTDIR=vres bash "$J/array.sbatch" || true
has "$LOG" "run c.cfg -o vres/c.h5" "array variables"
run env SLURM_ARRAY_TASK_ID=3 bash "$J/array.sbatch" a.cfg b.cfg || true
has "$T/out" "array task 3 but there are 2 specs (a.cfg b.cfg); submit with --array=0-1" "array range"
run env SLURM_ARRAY_TASK_ID=1 STUB_RC=75 bash "$J/array.sbatch" --outdir res a.cfg b.cfg || true
has "$T/out" "resume this task with: sbatch --array=1 jobs/array.sbatch --outdir res a.cfg b.cfg -- --resume" "array resume hint"

# analysis: result file and report folder as arguments
touch "$T/submit/r.h5"
run env PYTHON="$T/stub/python" bash "$J/analysis.sbatch" r.h5 rep -- --components 8 || true
has "$LOG" "python $T/home/analysis/report.py r.h5 -o rep --components 8" "analysis arguments"
hasnt "$T/out" "no analysis/report.py" "analysis arguments"

# submit-chain.sh: spec and output reach both jobs as arguments; --export= goes to both
touch "$T/submit/s.cfg"
run bash "$J/submit-chain.sh" s.cfg o/s.h5 -- --export=NONE -N 2 || true
has "$LOG" "sbatch --parsable --export=NONE -N 2 $J/study.sbatch s.cfg o/s.h5" "submit-chain sweep"
has "$LOG" "--kill-on-invalid-dep=yes --export=NONE $J/analysis.sbatch o/s.h5 o/s-report" "submit-chain analysis"
hasnt "$LOG" "--kill-on-invalid-dep=yes --export=NONE -N 2" "submit-chain analysis size"

[ "$fails" = 0 ] || { echo "$fails of $n checks failed" >&2; exit 1; }
echo "jobs-test: $n checks passed"
