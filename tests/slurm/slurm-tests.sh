#!/usr/bin/env bash
# slurm-tests.sh - the jobs/*.sbatch scripts submitted to a real one-node Slurm, results checked.
#
#   tests/slurm/slurm-tests.sh setup            install what is missing (Debian 12, root), start Slurm
#   tests/slurm/slurm-tests.sh TEST...          srun mpirun array chain requeue signal export resubmit relaunch
#   tests/slurm/slurm-tests.sh teardown         stop Slurm
#   tests/slurm/slurm-tests.sh all              setup, every test, teardown
#
# CTest runs them as slurm_setup, slurm_<test>, slurm_teardown (tests/slurm.cmake).
# Environment: AESWEEP_BIN (default build/aesweep), AESWEEP_SRC (the checkout, default ../..),
# SLURM_TEST_DIR (cluster state and job folders, default build/slurm-test; CTest puts it in its
# build folder). Each test submits from its own folder SLURM_TEST_DIR/work/TEST, where the job
# logs (*.out) and results stay for inspection; logs are printed when a test fails.
# The cluster (tests/slurm/slurm-ci.sh) declares 4 CPUs on one node whatever the machine has.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${AESWEEP_SRC:-$(cd "$HERE/../.." && pwd)}
BIN=${AESWEEP_BIN:-$SRC/build/aesweep}
BASE=$(realpath -m "${SLURM_TEST_DIR:-$SRC/build/slurm-test}")
PY=/usr/bin/python3
CI=$HERE/slurm-ci.sh
export SLURM_CI_DIR=$BASE/cluster
# munged's and slurmd's Unix sockets live in there, and a socket path has at most 107 bytes
if [ ${#SLURM_CI_DIR} -gt 70 ]; then SLURM_CI_DIR=/tmp/aesweep-slurm-$(cksum <<<"$BASE" | cut -d' ' -f1); fi
export SLURM_CI_CPUS=${SLURM_CI_CPUS:-4}
# a requeued job may start again after cred_expire + 1 s (Slurm's default 120 s), and the
# scheduler looks at pending jobs every 2 s instead of every 30-60 s: the tests then take seconds
export SLURM_CI_CRED_EXPIRE=${SLURM_CI_CRED_EXPIRE:-5}
export SLURM_CI_SCHED_PARAMS=${SLURM_CI_SCHED_PARAMS:-sched_interval=2,bf_interval=2}
# on a loaded machine slurmd once took longer than the default 10 s to answer a job launch: Slurm
# then requeues the job held ("launch failed requeued held") and the test waits in vain
export SLURM_CI_MSG_TIMEOUT=${SLURM_CI_MSG_TIMEOUT:-60}
export SLURM_CONF=$SLURM_CI_DIR/etc/slurm.conf
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export AESWEEP_PROGRESS_SECONDS=2   # progress lines in the job logs every 2 s
# what the job scripts read (sbatch passes the environment on)
export AESWEEP_BIN=$BIN AESWEEP_HOME=$SRC
unset SPEC OUT SPECS OUTDIR AESWEEP_ARGS REPORT_DIR AESWEEP_MODULES MPIRUN_ARGS

T0=$SECONDS
say() { echo "slurm-tests: [$((SECONDS - T0))s] $*"; }
W=
logs() {
  [ -n "$W" ] || return 0
  local f
  for f in "$W"/*.out; do [ -f "$f" ] && { echo "----- $f"; cat "$f"; }; done
  echo "----- slurmctld.log (tail)"; tail -n 15 "$SLURM_CI_DIR/log/slurmctld.log" 2>/dev/null || true
}
fail() { { say "FAIL: $*"; logs; } >&2; exit 1; }
cleanup() {  # cancel what this test submitted and left behind
  local j
  [ -n "$W" ] && [ -f "$W/jobs.txt" ] || return 0
  for j in $(cat "$W/jobs.txt"); do
    [ -n "$(squeue -h -j "$j" 2>/dev/null)" ] && scancel "$j" 2>/dev/null || true
  done
}
trap cleanup EXIT
workdir() { W=$BASE/work/$1; rm -rf "$W"; mkdir -p "$W"; cd "$W"; }
submit() {  # submit [sbatch options] SCRIPT: prints the job id (and notes it for cleanup)
  local j
  j=$(sbatch --parsable "$@") || fail "sbatch $*"
  echo "${j%%;*}" >>"$W/jobs.txt"; echo "${j%%;*}"
}
field() { scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
waitok() { "$CI" wait "$1" "${2:-120}" || fail "job $1 did not complete"; }
until_true() {  # until_true SECS DESCRIPTION COMMAND...: poll every 0.2 s
  local t=$1 what=$2 i; shift 2
  for ((i = 0; i < t * 5; i++)); do "$@" && return 0; sleep 0.2; done
  fail "waited ${t}s for: $what"
}
check() { $PY "$HERE/h5check.py" "$@" || fail "h5check $*"; }
ranks_of() { $PY -c 'import h5py, sys; print(int(h5py.File(sys.argv[1], "r").attrs["ranks"]))' "$1"; }
need_cluster() {
  [ -x "$BIN" ] || fail "no aesweep binary at $BIN (set AESWEEP_BIN)"
  "$CI" start </dev/null >/dev/null 2>&1 || fail "Slurm is not up; run: $0 setup"
}

checkout_like() {  # checkout_like DIR: a folder that looks like a checkout to the job scripts
  mkdir -p "$1/build"; ln -sfn "$BIN" "$1/build/aesweep"
  ln -sfn "$SRC/jobs" "$1/jobs"; ln -sfn "$SRC/analysis" "$1/analysis"
}

do_setup() {
  local missing=() c
  for c in slurmctld slurmd sinfo sbatch munged mpirun; do command -v $c >/dev/null || missing+=("$c"); done
  $PY -c 'import h5py, numpy, matplotlib, sklearn' 2>/dev/null || missing+=(python3-modules)
  if ((${#missing[@]})); then
    say "installing Debian packages (missing: ${missing[*]})"
    [ "$(id -u)" -eq 0 ] || fail "not root: install slurmctld slurmd slurm-client munge openmpi-bin python3-h5py by hand"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurmctld slurmd slurm-client munge openmpi-bin libopenmpi-dev \
      python3-h5py python3-numpy python3-matplotlib python3-sklearn >/dev/null
  fi
  mkdir -p "$BASE"
  local p; p=$(cat "$SLURM_CI_DIR/run/slurmctld.pid" 2>/dev/null || true)
  if [ -z "$p" ] || [ "$(cat "/proc/$p/comm" 2>/dev/null)" != slurmctld ]; then
    rm -rf "$SLURM_CI_DIR/state"   # no jobs of an earlier run come back
  fi
  # the daemons must not hold this script's stdout/stderr open (CTest waits for them to close)
  if ! "$CI" start </dev/null >"$BASE/start.log" 2>&1; then cat "$BASE/start.log"; fail "Slurm did not start"; fi
  cat "$BASE/start.log"
  sinfo
  [ -x "$BIN" ] || fail "no aesweep binary at $BIN"
  say "setup done: $(sinfo -h -o '%n %c CPUs %T'), state in $SLURM_CI_DIR"
}

do_teardown() { "$CI" stop </dev/null; }

# (a) srun with PMIx: jobs/study.sbatch as it is (1 node x 4 ranks), default spec and output
t_srun() {
  workdir srun; need_cluster
  $BIN run "$SRC/jobs/quick.cfg" -o "$W/ref.h5" --quiet || fail "1-rank reference run"
  local j; j=$(submit "$SRC/jobs/study.sbatch")
  say "submitted jobs/study.sbatch as job $j"
  waitok "$j"
  check complete "$W/results/quick.h5"
  [ "$(ranks_of "$W/results/quick.h5")" = 4 ] || fail "expected 4 ranks in $W/results/quick.h5"
  check same "$W/ref.h5" "$W/results/quick.h5"
  grep -q "aesweep: done" "$W/aesweep-$j.out" || fail "no 'done' in the log"
}

# (i) a crash in MPI start-up: when a launch dies of a signal before every rank is past MPI_Init (Open
# MPI 4.1's TCP wire-up does that under load: a NULL callback inside MPI_Init, 4 in 120 srun jobs
# across the multihost namespaces), the job scripts launch it once more, and only once; aesweep's
# rank 0 tells them it started through AESWEEP_STARTED_FILE.
t_relaunch() {
  workdir relaunch; need_cluster
  $BIN run "$SRC/jobs/quick.cfg" -o "$W/ref.h5" --quiet || fail "1-rank reference run"
  # Every rank of the job's first CRASH_STEPS launches dies of SIGSEGV before aesweep starts (a
  # launch is known by its PMIx namespace, else by the ranks' parent); with CRASH_LATE=1 every rank
  # runs aesweep and dies of SIGSEGV once rank 0 has announced the start (AESWEEP_STARTED_FILE).
  cat >"$W/crashy" <<'EOF'
#!/bin/sh
ulimit -c 0
if [ "${CRASH_LATE:-0}" = 1 ]; then
  "$REAL_BIN" "$@" &
  p=$!
  i=0
  while [ ! -e "$AESWEEP_STARTED_FILE" ] && kill -0 "$p" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
  kill -SEGV "$p"
  wait "$p"
  exit $?
fi
d=$CRASH_DIR/launchers.$SLURM_JOB_ID
mkdir -p "$d"
touch "$d/${PMIX_NAMESPACE:-$PPID}"
[ "$(ls "$d" | wc -l)" -le "$CRASH_STEPS" ] && kill -SEGV $$
exec "$REAL_BIN" "$@"
EOF
  chmod +x "$W/crashy"
  export REAL_BIN=$BIN CRASH_DIR=$W
  local j k n m q l msg="before every rank was past MPI start-up: launching once more"
  j=$(CRASH_STEPS=1 AESWEEP_BIN=$W/crashy SPEC=$SRC/jobs/quick.cfg OUT=$W/once/quick.h5 submit "$SRC/jobs/study.sbatch")
  k=$(CRASH_STEPS=2 AESWEEP_BIN=$W/crashy SPEC=$SRC/jobs/quick.cfg OUT=$W/twice/quick.h5 submit "$SRC/jobs/study.sbatch")
  m=$(CRASH_STEPS=1 AESWEEP_BIN=$W/crashy SPEC=$SRC/jobs/quick.cfg OUT=$W/mpirun/quick.h5 submit "$SRC/jobs/study-mpirun.sbatch")
  q=$(CRASH_STEPS=1 AESWEEP_BIN=$W/crashy SPEC=$SRC/jobs/quick.cfg OUT=$W/requeue/quick.h5 submit "$SRC/jobs/study-requeue.sbatch")
  l=$(CRASH_LATE=1 AESWEEP_BIN=$W/crashy SPEC=$SRC/tests/slurm/long.cfg OUT=$W/late/long.h5 submit "$SRC/jobs/study.sbatch")
  say "submitted jobs/study.sbatch with its first launch crashing (job $j), its first two (job $k) and" \
    "its ranks crashing after the start (job $l); study-mpirun.sbatch (job $m) and study-requeue.sbatch (job $q)" \
    "with their first launch crashing"
  waitok "$j"
  n=$(grep -c "$msg" "$W/aesweep-$j.out" || true)
  [ "$n" = 1 ] || fail "job $j: $n relaunch messages, expected 1"
  grep -q "aesweep: done" "$W/aesweep-$j.out" || fail "job $j: no 'done' in the log"
  check complete "$W/once/quick.h5"
  check same "$W/ref.h5" "$W/once/quick.h5"
  if "$CI" wait "$k" 120 >/dev/null 2>&1; then fail "job $k completed, but both of its launches crashed"; fi
  [ "$(field "$k" JobState)" = FAILED ] || fail "job $k is $(field "$k" JobState), expected FAILED"
  n=$(grep -c "launching once more" "$W/aesweep-$k.out" || true)
  [ "$n" = 1 ] || fail "job $k: $n relaunch messages, expected exactly 1"
  grep -q "aesweep: failed (exit 139)" "$W/aesweep-$k.out" || fail "job $k: no 'failed (exit 139)' in the log"
  [ ! -e "$W/twice/quick.h5" ] && [ ! -e "$W/twice/quick.h5.journal" ] || fail "job $k left a file behind"
  waitok "$m"
  waitok "$q"
  grep -q "$msg" "$W/aesweep-mpirun-$m.out" || fail "job $m (study-mpirun.sbatch): no relaunch message"
  grep -q "$msg" "$W/aesweep-requeue-$q.out" || fail "job $q (study-requeue.sbatch): no relaunch message"
  [ "$(scontrol -o show job "$q" | grep -o 'Restarts=[0-9]*')" = Restarts=0 ] || fail "job $q was requeued instead of relaunched"
  for f in "$W/mpirun/quick.h5" "$W/requeue/quick.h5"; do check complete "$f"; check same "$W/ref.h5" "$f"; done
  # a crash after the start (here: before the journal exists, where a check of the output's files
  # would still see nothing written) is the study's: no relaunch, the job fails
  if "$CI" wait "$l" 180 >/dev/null 2>&1; then fail "job $l completed, but its ranks crashed after the start"; fi
  if grep -q "launching once more" "$W/aesweep-$l.out"; then fail "job $l was relaunched after a crash past the start"; fi
  grep -Eq "aesweep: failed \(exit 1[3-9][0-9]\)" "$W/aesweep-$l.out" || fail "job $l: no 'failed (exit 13x-19x)' in the log"
  ls -A "$W"/once "$W"/twice "$W"/mpirun "$W"/requeue "$W"/late | grep -q '^\.aesweep-started' &&
    fail "a start marker (.aesweep-started.*) was left behind"
  say "a launch that crashed before every rank started was launched once more and finished byte-identical" \
    "(study, study-mpirun, study-requeue); two such crashes end the job (exit 139); a crash after the start is not relaunched"
}

# (b) mpirun inside the allocation: jobs/study-mpirun.sbatch (1 node x 4 ranks)
t_mpirun() {
  workdir mpirun; need_cluster
  $BIN run "$SRC/jobs/quick.cfg" -o "$W/ref.h5" --quiet || fail "1-rank reference run"
  local j; j=$(SPEC=$SRC/jobs/quick.cfg OUT=$W/out/quick-mpirun.h5 submit "$SRC/jobs/study-mpirun.sbatch")
  say "submitted jobs/study-mpirun.sbatch as job $j"
  waitok "$j"
  check complete "$W/out/quick-mpirun.h5"
  [ "$(ranks_of "$W/out/quick-mpirun.h5")" = 4 ] || fail "expected 4 ranks"
  check same "$W/ref.h5" "$W/out/quick-mpirun.h5"
}

# (d) a job array of three studies (quick.cfg with three seeds), two side by side (2 ranks each);
# specs and output folder given as arguments
t_array() {
  workdir array; need_cluster
  local s specs=()
  mkdir specs
  for s in 101 102 103; do
    sed "s/^seed = .*/seed = $s;/" "$SRC/jobs/quick.cfg" >"specs/quick-s$s.cfg"
    specs+=("$W/specs/quick-s$s.cfg")
  done
  # the specs and the output folder as arguments (SPECS and OUTDIR as variables: docs/cluster.md)
  local j; j=$(submit --array=0-2 "$SRC/jobs/array.sbatch" --outdir "$W/results" "${specs[@]}")
  say "submitted jobs/array.sbatch --array=0-2 as job $j"
  waitok "$j"
  for s in 101 102 103; do check complete "$W/results/quick-s$s.h5" --seed $s; done
  check differ "$W/results/quick-s101.h5" "$W/results/quick-s102.h5"
  check differ "$W/results/quick-s102.h5" "$W/results/quick-s103.h5"
  # side by side: the first two tasks' allocations overlap in time
  local a b
  a=$(scontrol -o show job "${j}_0" | grep -o 'StartTime=[^ ]* EndTime=[^ ]*')
  b=$(scontrol -o show job "${j}_1" | grep -o 'StartTime=[^ ]* EndTime=[^ ]*')
  say "task 0: $a; task 1: $b"
  $PY - "$a" "$b" <<'EOF' || fail "array tasks 0 and 1 did not run side by side"
import sys
s0, e0 = [x.split("=")[1] for x in sys.argv[1].split()]
s1, e1 = [x.split("=")[1] for x in sys.argv[2].split()]
sys.exit(0 if s0 <= e1 and s1 <= e0 else 1)
EOF
  for s in 0 1 2; do [ -f "$W/aesweep-array-${j}_$s.out" ] || fail "no log of array task $s"; done
}

# (e) sweep then analysis with --dependency=afterok (jobs/submit-chain.sh, under --export=NONE); and
# a failing sweep (its output as a variable), whose analysis must never run
t_chain() {
  workdir chain; need_cluster
  [ -f "$SRC/analysis/report.py" ] || fail "no analysis/report.py in $SRC"
  printf 'study = "bad";\nseed = 1;\n' >"$W/bad.cfg"
  local ids sweep ana bids bsweep bana
  # spec and output as arguments, under --export=NONE (the jobs see none of this shell's variables),
  # submitted from a folder laid out like a checkout (build/aesweep, jobs/, analysis/)
  checkout_like "$W"
  ids=$(env -u AESWEEP_BIN -u AESWEEP_HOME "$SRC/jobs/submit-chain.sh" "$SRC/jobs/quick.cfg" \
        "$W/results/quick.h5" -- --export=NONE) || fail "submit-chain.sh"
  read -r sweep ana <<<"$ids"; echo "$sweep $ana" >>"$W/jobs.txt"
  bids=$(OUT=$W/bad/bad.h5 "$SRC/jobs/submit-chain.sh" "$W/bad.cfg") || fail "submit-chain.sh (bad spec)"
  read -r bsweep bana <<<"$bids"; echo "$bsweep $bana" >>"$W/jobs.txt"
  say "chain: sweep $sweep -> analysis $ana; failing chain: sweep $bsweep -> analysis $bana"
  [ "$(field "$ana" Dependency)" = "afterok:${sweep}(unfulfilled)" ] || [ "$(field "$ana" JobState)" != PENDING ] ||
    fail "analysis job $ana: Dependency=$(field "$ana" Dependency)"
  waitok "$sweep"
  waitok "$ana" 300
  check complete "$W/results/quick.h5"
  [ -s "$W/results/quick-report/report.md" ] || fail "no report in $W/results/quick-report"
  local se as
  se=$(field "$sweep" EndTime); as=$(field "$ana" StartTime)
  say "sweep ended $se, analysis started $as; report: $(ls "$W/results/quick-report" | tr '\n' ' ')"
  [[ ! $as < $se ]] || fail "the analysis started ($as) before the sweep ended ($se)"
  # the failing chain: the sweep exits 2, the analysis is cancelled without running
  "$CI" wait "$bsweep" 60 && fail "the sweep of a bad spec completed"
  [ "$(field "$bsweep" ExitCode)" = "2:0" ] || fail "bad sweep: ExitCode=$(field "$bsweep" ExitCode), expected 2:0"
  until_true 30 "the analysis of the failed sweep to be cancelled" \
    bash -c "[ \"\$(scontrol -o show job $bana | grep -o 'JobState=[A-Z]*')\" = JobState=CANCELLED ]"
  [ ! -e "$W/aesweep-analysis-$bana.out" ] || fail "the analysis of the failed sweep ran"
  [ ! -e "$W/bad/bad-report" ] || fail "a report of the failed sweep exists"
}

# (c) a study cut off twice and requeued: first by the signal Slurm sends before a time limit
# (USR1 to the batch shell only, as --signal=B:USR1@60 does), then by the SIGTERM a time limit
# sends to every process of the job. It must finish in the third allocation, byte-identical to an
# uninterrupted run in every metric, without running again the tasks finished before a cut.
# Each cut is made while the study is held at a known point (hold): a study of a few seconds
# cannot then finish between the test's look at the journal and its signal, however loaded the
# machine (the cut used to find "scancel: Invalid job id" under ctest -j2 now and then).
jcount() { $PY "$HERE/h5check.py" journal "$1"; }
job_running() { [ "$(field "$1" JobState)" = RUNNING ]; }
rank_pids() {  # rank_pids OUT: the aesweep processes writing OUT (not srun, whose argv has OUT too)
  local p
  for p in $(pgrep -f -- "-o $1( |\$)" || true); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = aesweep ] && echo "$p"
  done
  return 0
}
HELD=
hold() {  # hold OUT N: run OUT's ranks in short bursts until OUT.journal has >= N tasks, then keep
  # them stopped (SIGSTOP); the held pids are in HELD. Between bursts the ranks are stopped, so they
  # advance only while this test looks, by at most a burst however slowly the test is scheduled.
  local out=$1 n=$2 pids k i
  for ((i = 0; i < 1200; i++)); do
    pids=$(rank_pids "$out")
    if [ -n "$pids" ]; then
      # shellcheck disable=SC2086
      kill -STOP $pids 2>/dev/null
      k=$(jcount "$out.journal")
      if [ "$k" -ge "$n" ]; then HELD=$pids; say "held ranks $(echo $pids) with $k tasks in the journal"; return 0; fi
      # shellcheck disable=SC2086
      kill -CONT $pids 2>/dev/null
    fi
    sleep 0.1
  done
  fail "waited for $n tasks in $out.journal"
}
sig_pending() {  # sig_pending SIGNUM PID...: each PID has the signal pending, or is gone
  local bit=$((1 << ($1 - 1))) p m h; shift
  for p in "$@"; do
    [ -r "/proc/$p/status" ] || continue
    m=0
    for h in $(awk '/^(SigPnd|ShdPnd):/ {print $2}' "/proc/$p/status"); do m=$((m | 0x$h)); done
    (( (m & bit) != 0 )) || return 1
  done
}
release() {  # release SIGNUM: once the held ranks have the signal pending (or are gone), continue them
  # shellcheck disable=SC2086
  until_true 30 "signal $1 to reach the held ranks $HELD" sig_pending "$1" $HELD
  # shellcheck disable=SC2086
  kill -CONT $HELD 2>/dev/null || true
  HELD=
}
tasks_of() { $BIN validate "$1" | grep -o '[0-9]* tasks,' | awk '{ s += $1 } END { print s }'; }
t_requeue() {
  workdir requeue; need_cluster
  local out=$W/requeue/long.h5 ref j r k1 k2 total
  total=$(tasks_of "$HERE/long.cfg")
  r=$(SPEC=$HERE/long.cfg OUT=$W/ref/long.h5 submit --ntasks-per-node=2 "$SRC/jobs/study.sbatch")
  j=$(SPEC=$HERE/long.cfg OUT=$out submit --ntasks-per-node=2 "$SRC/jobs/study-requeue.sbatch")
  say "reference job $r (jobs/study.sbatch) and requeue job $j (jobs/study-requeue.sbatch), 2 ranks each, $total tasks"
  hold "$out" 10
  job_running "$j" || fail "job $j is not running"
  say "cut 1: scancel --batch --signal=USR1 $j (journal: $(jcount "$out.journal") of $total tasks)"
  scancel --batch --signal=USR1 "$j" || fail "scancel --batch --signal=USR1 $j"
  release 10
  until_true 60 "job $j to be requeued" bash -c "[ \"\$(scontrol -o show job $j | grep -o 'Restarts=[0-9]*')\" = Restarts=1 ]"
  k1=$($PY "$HERE/h5check.py" partial "$out") || fail "no partial result file after the first cut"
  cp "$out" "$W/partial-1.h5"
  say "requeued; partial result with $k1 tasks; journal $(jcount "$out.journal") tasks"
  until_true 60 "job $j to run again" job_running "$j"
  hold "$out" $((k1 + 10))
  k2=$(jcount "$out.journal")
  [ "$k2" -lt "$total" ] || fail "held with all $total tasks journaled: nothing left to cut"
  say "cut 2: scancel --full --signal=TERM $j (journal: $k2 of $total tasks)"
  scancel --full --signal=TERM "$j" || fail "scancel --full --signal=TERM $j"
  release 15
  until_true 60 "job $j to be requeued again" bash -c "[ \"\$(scontrol -o show job $j | grep -o 'Restarts=[0-9]*')\" = Restarts=2 ]"
  waitok "$j" 240
  waitok "$r" 120
  grep -q 'aesweep-requeue: .* got SIGUSR1' "$W/aesweep-requeue-$j.out" || fail "the script did not see USR1"
  grep -q 'aesweep-requeue: .* got SIGTERM' "$W/aesweep-requeue-$j.out" || fail "the script did not see TERM"
  local n; n=$(grep -c 'aesweep-requeue: \[job [0-9]* allocation [0-9]* .*\] start on' "$W/aesweep-requeue-$j.out")
  [ "$n" -ge 3 ] || fail "$n allocations in the log, expected 3"
  [ "$(field "$j" Restarts)" = 2 ] || fail "Restarts=$(field "$j" Restarts)"
  say "job $j: $n allocations, Restarts=$(field "$j" Restarts), state $(field "$j" JobState)"
  grep 'aesweep-requeue:' "$W/aesweep-requeue-$j.out"
  check complete "$out"
  check same "$W/ref/long.h5" "$out"
  check kept "$W/partial-1.h5" "$out"
  [ ! -e "$out.journal" ] || fail "the journal is still there after completion"
}

# (f) where Slurm refuses the requeue (here: a job submitted with --no-requeue), the requeueing
# script submits a new job after it with the job's own options and arguments; that job finishes the
# study. Spec and output as arguments, the sbatch options different from the script's #SBATCH lines.
t_resubmit() {
  workdir resubmit; need_cluster
  local out=$W/results/long.h5 j j2 log
  j=$(submit --no-requeue --ntasks-per-node=2 --time=00:09:00 --job-name=resub "$SRC/jobs/study-requeue.sbatch" \
      "$HERE/long.cfg" "$out" --quiet)
  log=$W/resub-$j.out
  say "submitted jobs/study-requeue.sbatch --no-requeue as job $j"
  hold "$out" 5
  scancel --batch --signal=USR1 "$j" || fail "scancel --batch --signal=USR1 $j"
  release 10
  until_true 60 "job $j to submit a job to resume" grep -qs 'requeue refused: submitted job' "$log"
  j2=$(grep -o 'requeue refused: submitted job [0-9]*' "$log" | awk '{print $NF}')
  echo "$j2" >>"$W/jobs.txt"
  say "job $j: $(grep 'requeue refused' "$log")"
  "$CI" wait "$j" 30 && fail "job $j completed: it should have exited 75"
  [ "$(field "$j" ExitCode)" = "75:0" ] || fail "job $j: ExitCode=$(field "$j" ExitCode), expected 75:0"
  waitok "$j2" 180
  local f want
  for f in NumTasks:2 TimeLimit:00:09:00 JobName:resub StdOut:"$log"; do
    want=${f#*:}
    [ "$(field "$j2" "${f%%:*}")" = "$want" ] || fail "job $j2: ${f%%:*}=$(field "$j2" "${f%%:*}"), expected $want"
  done
  grep -q "allocation 1 .*start on.* $out --resume --quiet" "$log" || fail "job $j2 did not run with the spec, output and options of job $j"
  check complete "$out"
  [ ! -e "$out.journal" ] || fail "the journal is still there after completion"
}

# (g) --export=NONE, common on clusters: the job sees none of the submitting shell's variables,
# and srun inside it would pass NONE on to the ranks. Spec and output as arguments; submitted from
# a folder laid out like a checkout; the result equals a 1-rank run of the same spec.
t_export() {
  workdir export; need_cluster
  sed "s/^seed = .*/seed = 77;/" "$SRC/jobs/quick.cfg" >"$W/seed77.cfg"
  $BIN run "$W/seed77.cfg" -o "$W/ref.h5" --quiet || fail "1-rank reference run"
  checkout_like "$W"
  local j; j=$(env -u AESWEEP_BIN -u AESWEEP_HOME sbatch --parsable --export=NONE \
    "$SRC/jobs/study.sbatch" "$W/seed77.cfg" "$W/out/seed77.h5") || fail "sbatch --export=NONE"
  j=${j%%;*}; echo "$j" >>"$W/jobs.txt"
  say "submitted sbatch --export=NONE jobs/study.sbatch SPEC OUT as job $j"
  waitok "$j"
  check complete "$W/out/seed77.h5" --seed 77
  [ "$(ranks_of "$W/out/seed77.h5")" = 4 ] || fail "expected 4 ranks"
  check same "$W/ref.h5" "$W/out/seed77.h5"
  grep -q "aesweep: done: $W/out/seed77.h5" "$W/aesweep-$j.out" || fail "no 'done' in the log"
  # a binary nowhere: the message names the path it tried (it printed an empty one)
  mkdir -p "$W/nobin"
  local k; k=$(cd "$W/nobin" && env -u AESWEEP_BIN -u AESWEEP_HOME sbatch --parsable --export=NONE \
    "$SRC/jobs/study.sbatch" "$W/seed77.cfg" "$W/none.h5") || fail "sbatch (no binary)"
  k=${k%%;*}; echo "$k" >>"$W/jobs.txt"
  "$CI" wait "$k" 60 && fail "job $k ran without a binary"
  grep -q "aesweep: no binary at $W/nobin/build/aesweep nor on PATH; set AESWEEP_BIN" "$W/nobin/aesweep-$k.out" ||
    fail "job $k: $(cat "$W/nobin/aesweep-$k.out")"
}

# the signal before the limit, sent by Slurm itself: jobs/study-requeue.sbatch with a 2-minute limit
# gets USR1 from its own `#SBATCH --signal=B:USR1@60`, stops and requeues (or, had no task finished
# yet, says so and stops). Then `scancel` of the requeued job must end it for good: the script must
# not requeue a cancelled job.
# Why 2 minutes: the controller looks at time limits every 30 s and sends the signal at the first
# look that finds the job within 60 + 30 s of its limit. With a 1-minute limit that is the first look
# after the start. Under ctest -j2 no USR1 came once and the job ran into its limit (slurmctld logged
# no signal; the limit at exactly 60 s): most likely that look came before the batch script ran, and
# the controller, which sends the warning once, lost it. With 2 minutes the first look that can send
# it comes 30 to 60 s after the start, when the script is long running.
restarts_are() { [ "$(field "$1" Restarts)" = "$2" ]; }
cancel_stays() {  # cancel_stays JOB LOG: scancel; the job ends CANCELLED and is not requeued
  local j=$1 log=$2 r
  r=$(field "$j" Restarts)
  scancel "$j"
  until_true 30 "job $j to end" bash -c "[ -z \"\$(squeue -h -j $j)\" ]"
  sleep $((SLURM_CI_CRED_EXPIRE + 4))
  [ -z "$(squeue -h -j "$j")" ] || fail "job $j came back after scancel"
  [ "$(field "$j" JobState)" = CANCELLED ] || fail "job $j: JobState=$(field "$j" JobState) after scancel"
  [ "$(field "$j" Restarts)" = "$r" ] || fail "job $j was requeued after scancel"
  grep -q 'the job is ending (COMPLETING, reason None: scancel?): not requeueing' "$log" || fail "the script did not see the cancel"
  say "scancel ended job $j for good (CANCELLED, Restarts=$r)"
}
t_signal() {
  workdir signal; need_cluster
  local out=$W/results/longer.h5 j log k
  # several minutes on 1 rank (it is cancelled long before): Slurm's signal must find it running
  sed 's/repeats = 6;/repeats = 200;/' "$HERE/long.cfg" >"$W/longer.cfg"
  j=$(SPEC=$W/longer.cfg OUT=$out submit --time=2 --ntasks-per-node=1 "$SRC/jobs/study-requeue.sbatch")
  log=$W/aesweep-requeue-$j.out
  say "submitted jobs/study-requeue.sbatch --time=2 as job $j"
  until_true 100 "Slurm's USR1 to job $j" grep -qs 'allocation 1 .* got SIGUSR1' "$log"
  until_true 30 "job $j to stop" bash -c "! grep -q JobState=RUNNING <(scontrol -o show job $j) || grep -q 'not requeueing\|requeueing job' $log"
  grep -q 'aesweep interrupted (exit 75)' "$log" || fail "aesweep did not exit 75 on USR1"
  say "USR1 from Slurm: $(grep -o 'allocation 1 [0-9:]*\] \(start\|got SIGUSR1\)' "$log" | tr '\n' ' ')"
  if grep -q 'before any task finished' "$log"; then
    # the time check came within the first task: the script rightly did not requeue
    "$CI" wait "$j" 30 && fail "job $j completed"
    [ "$(field "$j" ExitCode)" = "75:0" ] || fail "job $j: ExitCode=$(field "$j" ExitCode), expected 75:0"
    say "the signal came before the first task finished: not requeued (exit 75); checking scancel on a new job"
    j=$(SPEC=$W/longer.cfg OUT=$W/results/again.h5 submit --ntasks-per-node=1 "$SRC/jobs/study-requeue.sbatch")
    log=$W/aesweep-requeue-$j.out
    until_true 60 "a task in the journal" bash -c "[ \$($PY $HERE/h5check.py journal $W/results/again.h5.journal) -ge 1 ]"
    cancel_stays "$j" "$log"
    return 0
  fi
  until_true 30 "job $j to be requeued" restarts_are "$j" 1
  k=$($PY "$HERE/h5check.py" partial "$out") || fail "no partial result after the signal"
  [ "$k" -gt 0 ] || fail "requeued with no task saved"
  until_true 60 "allocation 2 of job $j" grep -qs 'allocation 2 .* start on' "$log"
  until_true 30 "job $j to run again" job_running "$j"
  say "requeued with $k tasks saved; allocation 2 resumes"
  cancel_stays "$j" "$log"
  grep 'aesweep-requeue:' "$log"
}

case ${1:-} in
  setup) do_setup ;;
  teardown) do_teardown ;;
  all) do_setup; for t in srun mpirun array chain requeue signal export resubmit relaunch; do say "== $t"; "t_$t"; say "== $t passed"; done; do_teardown ;;
  srun | mpirun | array | chain | requeue | signal | export | resubmit | relaunch)
    for t in "$@"; do say "== $t"; "t_$t"; say "== $t passed"; done ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
