#!/usr/bin/env bash
# multihost-tests.sh - aesweep across several hosts: three network namespaces on one bridge
# (tests/multihost/net.sh) are the hosts; Open MPI launches across them over TCP, and a Slurm
# cluster runs one slurmd per host under one slurmctld.
#
#   tests/multihost/multihost-tests.sh setup      network + Slurm up (removes leftovers first)
#   tests/multihost/multihost-tests.sh TEST...    mpirun srun killhost linkcut slow requeue
#   tests/multihost/multihost-tests.sh teardown   Slurm and network down; idempotent
#   tests/multihost/multihost-tests.sh all        setup, every test, teardown
#
# CTest runs them as multihost_setup, multihost_<test>, multihost_teardown (tests/multihost.cmake),
# one at a time and never beside the one-node Slurm tests (RESOURCE_LOCK slurm).
# Environment: AESWEEP_BIN, AESWEEP_SRC, MULTIHOST_TEST_DIR (job folders and cluster state;
# default build/multihost-test). Needs root, iproute2, Slurm, Open MPI (scripts/deps.sh).
#
# The hosts: aesw-h1..3 at 10.199.19.11..13; the root namespace is the "login node" at 10.199.19.1
# (mpirun and slurmctld run there). Each test works in MULTIHOST_TEST_DIR/work/TEST and prints
# the logs of what failed.
set -euo pipefail
# `flock LOCK cmd` passes its lock's descriptor on; the daemons started from here (munged,
# slurmctld, slurmd) would keep it, and the lock, after this script ends
for fd in {3..19}; do eval "exec $fd>&-" 2>/dev/null || true; done
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${AESWEEP_SRC:-$(cd "$HERE/../.." && pwd)}
BIN=${AESWEEP_BIN:-$SRC/build/aesweep}
BASE=$(realpath -m "${MULTIHOST_TEST_DIR:-$SRC/build/multihost-test}")
PY=/usr/bin/python3
NET=$HERE/net.sh
CI=$SRC/tests/slurm/slurm-ci.sh
H5CHECK=$SRC/tests/slurm/h5check.py
NHOSTS=3
SUBNET=10.199.19.0/24
# The cluster: its own state folder (munged's socket path must stay short; not in /tmp, which each
# host has its own of) and ports, so that it
# never meets the one-node cluster of tests/slurm (which never runs at the same time either).
export SLURM_CI_DIR=$BASE/cluster
if [ ${#SLURM_CI_DIR} -gt 70 ]; then SLURM_CI_DIR=/run/aesweep-mh-$(cksum <<<"$BASE" | cut -d' ' -f1); fi
export SLURM_CI_NODES="aesw-h1=10.199.19.11 aesw-h2=10.199.19.12 aesw-h3=10.199.19.13"
export SLURM_CI_NODE_EXEC="$NET exec" SLURM_CI_CTLD_ADDR=10.199.19.1
export SLURM_CI_CTLD_PORT=6917 SLURM_CI_SLURMD_PORT=6918
export SLURM_CI_CPUS=2 SLURM_CI_CRED_EXPIRE=5 SLURM_CI_SCHED_PARAMS=sched_interval=2,bf_interval=2
export SLURM_CONF=$SLURM_CI_DIR/etc/slurm.conf
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export AESWEEP_PROGRESS_SECONDS=2
export AESWEEP_BIN=$BIN AESWEEP_HOME=$SRC
unset SPEC OUT SPECS OUTDIR AESWEEP_ARGS REPORT_DIR AESWEEP_MODULES MPIRUN_ARGS
# What Open MPI needs across the hosts, in the environment so that mpirun, the daemons it starts,
# srun's ranks and mpirun inside a Slurm job all see it (docs/cluster.md, "Several hosts"):
# TCP between hosts, shared memory inside one; only the test network's interfaces; PMIx's hash
# store (its shared-memory store printed errors across the namespaces); and TCP keepalive on the
# launcher's connections, so that a host that drops off the network is noticed in ~25 s.
export OMPI_MCA_btl=tcp,self,vader OMPI_MCA_btl_tcp_if_include=$SUBNET OMPI_MCA_oob_tcp_if_include=$SUBNET
export PMIX_MCA_gds=hash
export OMPI_MCA_oob_tcp_keepalive_time=10 OMPI_MCA_oob_tcp_keepalive_intvl=5 OMPI_MCA_oob_tcp_keepalive_probes=3
# the mpirun line of the mpirun-launched tests (the agent enters the host's namespaces)
MPIRUN=(mpirun --hostfile "$BASE/hostfile" --mca plm_rsh_agent "$HERE/rsh-agent.sh")

T0=$SECONDS
say() { echo "multihost: [$((SECONDS - T0))s] $*"; }
W=
logs() {
  [ -n "$W" ] || return 0
  local f
  for f in "$W"/*.out "$W"/*.log; do [ -f "$f" ] && { echo "----- $f"; tail -n 40 "$f"; }; done
  echo "----- slurmctld.log (tail)"; tail -n 15 "$SLURM_CI_DIR/log/slurmctld.log" 2>/dev/null || true
}
fail() { { say "FAIL: $*"; logs; } >&2; exit 1; }
BG=
cleanup() {  # what this test started and left behind: a job launcher, Slurm jobs, a cut link
  local j
  [ -z "$BG" ] || kill -KILL "$BG" 2>/dev/null || true
  if [ -n "$W" ] && [ -f "$W/jobs.txt" ]; then
    for j in $(cat "$W/jobs.txt"); do [ -n "$(squeue -h -j "$j" 2>/dev/null)" ] && scancel "$j" 2>/dev/null || true; done
  fi
  for h in $(seq $NHOSTS); do ip link set "aesw-h${h}b" up 2>/dev/null || true; done
  stop_slow
}
trap cleanup EXIT
workdir() { W=$BASE/work/$1; rm -rf "$W"; mkdir -p "$W"; cd "$W"; }
submit() {
  local j
  j=$(sbatch --parsable "$@") || fail "sbatch $*"
  echo "${j%%;*}" >>"$W/jobs.txt"; echo "${j%%;*}"
}
field() { scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
waitok() { "$CI" wait "$1" "${2:-120}" || fail "job $1 did not complete"; }
until_true() {  # until_true SECS DESCRIPTION COMMAND...: poll every 0.2 s for SECS seconds
  local end=$((SECONDS + $1)) what=$2; shift 2
  while ((SECONDS < end)); do "$@" && return 0; sleep 0.2; done
  "$@" && return 0
  fail "waited until $((SECONDS - T0))s for: $what"
}
check() { $PY "$H5CHECK" "$@" || fail "h5check $*"; }
jcount() { $PY "$H5CHECK" journal "$1"; }
ranks_of() { $PY -c 'import h5py, sys; print(int(h5py.File(sys.argv[1], "r").attrs["ranks"]))' "$1"; }
now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
need_up() {
  [ -x "$BIN" ] || fail "no aesweep binary at $BIN (set AESWEEP_BIN)"
  ip netns list | grep -q '^aesw-h3' || fail "the test network is not up; run: $0 setup"
  "$CI" start </dev/null >/dev/null 2>&1 || fail "Slurm is not up; run: $0 setup"
}
# A reference run of SPEC on 1 rank on this host, computed once and shared by the tests.
reference() {
  local name; name=$(basename "$1" .cfg)
  if [ ! -s "$BASE/ref/$name.h5" ]; then
    mkdir -p "$BASE/ref"
    "$BIN" run "$1" -o "$BASE/ref/$name.tmp.h5" --quiet || fail "the 1-rank reference run of $1"
    mv "$BASE/ref/$name.tmp.h5" "$BASE/ref/$name.h5"
  fi
  echo "$BASE/ref/$name.h5"
}
# Every process of a host gone after a lost-host test (leftover ranks, the daemon), then the host
# back as it was: link up, its slurmd running again and the node idle.
restore_host() {
  local h=$1 old new pf=$SLURM_CI_DIR/run/slurmd-aesw-h$1.pid
  old=$(cat "$pf" 2>/dev/null || true)
  ip link set "aesw-h${h}b" up
  "$NET" killhost "$h" KILL
  until_true 10 "host $h to be empty" bash -c "[ -z \"\$($NET pids $h)\" ]"
  "$CI" start </dev/null >"$W/restore.log" 2>&1 || fail "slurmd of aesw-h$h did not come back"
  # a new slurmd, not the killed one taken for alive (a zombie keeps its comm: slurm-ci.sh alive)
  new=$(cat "$pf" 2>/dev/null || true)
  [ -n "$new" ] && [ "$new" != "$old" ] || fail "slurmd of aesw-h$h was not restarted (pid file: '$new', before: '$old')"
}

do_setup() {
  local c missing=()
  for c in ip tc nsenter unshare slurmctld slurmd sinfo munged mpirun; do command -v $c >/dev/null || missing+=("$c"); done
  if ((${#missing[@]})); then
    say "missing: ${missing[*]}; installing (scripts/deps.sh)"
    bash "$SRC/scripts/deps.sh" || fail "scripts/deps.sh"
  fi
  [ "$(id -u)" -eq 0 ] || fail "network namespaces need root"
  "$CI" stop </dev/null >/dev/null 2>&1 || true       # a cluster left by a killed run
  W=$BASE/work/slow stop_slow
  rm -rf "$SLURM_CI_DIR" "$BASE/ref"
  mkdir -p "$BASE"
  "$NET" up $NHOSTS || fail "could not create the test network"
  local h
  : >"$BASE/hostfile"
  for h in $(seq $NHOSTS); do echo "aesw-h$h slots=2" >>"$BASE/hostfile"; done
  # the daemons must not hold this script's stdout/stderr open (CTest waits for them to close)
  if ! "$CI" start </dev/null >"$BASE/start.log" 2>&1; then cat "$BASE/start.log"; fail "Slurm did not start"; fi
  cat "$BASE/start.log"
  sinfo -N -o '%N %T %c %o'
  for h in $(seq $NHOSTS); do
    [ "$("$NET" exec $h hostname)" = "aesw-h$h" ] || fail "host $h does not see its own name"
  done
  say "setup done: $NHOSTS hosts on aeswbr0 ($SUBNET), Slurm state in $SLURM_CI_DIR"
}

do_teardown() {
  W=$BASE/work/slow stop_slow   # a delay hub left by a killed slow test
  "$CI" stop </dev/null || true
  "$NET" down
  # nothing of the test network may remain: namespaces, bridge, veths, persisted namespaces
  # (a deleted namespace's devices go away asynchronously: allow them 10 s)
  local left i
  for i in $(seq 50); do
    left=$( { ip netns list | grep '^aesw-h'; ip -o link show | grep -o 'aesw[a-z0-9-]*'; ls /run/aesw 2>/dev/null; } || true)
    [ -z "$left" ] && break
    sleep 0.2
  done
  [ -z "$left" ] || fail "teardown left: $(echo $left)"
  say "teardown done: nothing of the test network left"
}

# 3 hosts x 2 ranks with mpirun and a hostfile: metrics byte-identical to 1 rank on 1 host
t_mpirun() {
  workdir mpirun; need_up
  local ref t; ref=$(reference "$SRC/jobs/quick.cfg")
  say "${MPIRUN[*]} -np 6 aesweep run jobs/quick.cfg"
  t=$(now)
  "${MPIRUN[@]}" -np 6 "$BIN" run "$SRC/jobs/quick.cfg" -o "$W/quick.h5" >"$W/mpirun.log" 2>&1 ||
    fail "mpirun across 3 hosts"
  say "3 hosts x 2 ranks: $(secs_since "$t") s"
  check complete "$W/quick.h5"
  [ "$(ranks_of "$W/quick.h5")" = 6 ] || fail "expected 6 ranks in $W/quick.h5"
  check same "$ref" "$W/quick.h5"
}

# srun -N 3: jobs/study.sbatch (srun, PMIx) and jobs/study-mpirun.sbatch (mpirun in the allocation)
# with 3 nodes x 2 ranks; each rank reports its host, so the spread is checked, not assumed
t_srun() {
  workdir srun; need_up
  local ref j k; ref=$(reference "$SRC/jobs/quick.cfg")
  j=$(SPEC=$SRC/jobs/quick.cfg OUT=$W/srun/quick.h5 submit -N 3 --ntasks-per-node=2 "$SRC/jobs/study.sbatch")
  k=$(SPEC=$SRC/jobs/quick.cfg OUT=$W/mpirun/quick.h5 submit -N 3 --ntasks-per-node=2 "$SRC/jobs/study-mpirun.sbatch")
  say "submitted jobs/study.sbatch -N 3 as job $j, jobs/study-mpirun.sbatch -N 3 as job $k"
  waitok "$j" 180
  waitok "$k" 180
  [ "$(field "$j" NodeList)" = "aesw-h[1-3]" ] || fail "job $j ran on $(field "$j" NodeList)"
  [ "$(field "$k" NodeList)" = "aesw-h[1-3]" ] || fail "job $k ran on $(field "$k" NodeList)"
  for f in "$W/srun/quick.h5" "$W/mpirun/quick.h5"; do
    check complete "$f"
    [ "$(ranks_of "$f")" = 6 ] || fail "expected 6 ranks in $f"
    check same "$ref" "$f"
  done
  # one rank's host per line, seen from inside the job: two on each of the three hosts
  local spread
  j=$(submit -N 3 --ntasks-per-node=2 --wrap "srun --mpi=pmix hostname")
  waitok "$j" 60
  spread=$(sort "$W/slurm-$j.out" | uniq -c | awk '{print $2 ":" $1}' | paste -sd' ')
  say "srun -N 3 --ntasks-per-node=2 hostname: $spread"
  [ "$spread" = "aesw-h1:2 aesw-h2:2 aesw-h3:2" ] || fail "ranks spread as $spread"
}

# A host lost in the middle of a study run by mpirun across the 3 hosts. HOW = kill (every process
# in the host's namespace gets SIGKILL) or cut (its link goes down: no process dies, the packets
# stop). The job must end within LIMIT s (a hang fails the test), with a message that names the
# host; the journal keeps every task it had; --resume on the 2 hosts left completes the study
# byte-identical to an uninterrupted run, without running a journalled task again.
LIMIT=120
lost_host() {
  local how=$1 spec=$SRC/tests/slurm/long.cfg out=$W/lost.h5 ref t rc=0 k0 k1 d
  ref=$(reference "$spec")
  say "${MPIRUN[*]} -np 6 aesweep run tests/slurm/long.cfg"
  "${MPIRUN[@]}" -np 6 "$BIN" run "$spec" -o "$out" >"$W/mpirun.log" 2>&1 &
  BG=$!
  until_true 120 "8 tasks in the journal" bash -c "[ \$($PY $H5CHECK journal $out.journal) -ge 8 ]"
  # the host runs ranks 4 and 5 of the job
  [ -n "$(ip netns pids aesw-h3 | xargs -r ps -o comm= -p | grep -x aesweep)" ] || fail "no rank on aesw-h3"
  k0=$(jcount "$out.journal")
  t=$(now)
  case $how in
    kill) say "killing every process of aesw-h3 (journal: $k0 tasks)"; "$NET" killhost 3 KILL ;;
    cut) say "ip link set aesw-h3b down (journal: $k0 tasks)"; ip link set aesw-h3b down ;;
  esac
  local i
  for ((i = 0; i < LIMIT * 5; i++)); do kill -0 "$BG" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$BG" 2>/dev/null; then fail "mpirun still running ${LIMIT}s after the host was lost"; fi
  wait "$BG" || rc=$?
  BG=
  d=$(secs_since "$t")
  say "mpirun ended $d s after the host was lost, exit code $rc"
  echo "$how $d $rc" >"$W/detection.txt"
  [ "$rc" -ne 0 ] || fail "mpirun exited 0 after losing a host"
  case $how in
    # which of two messages mpirun prints depends on what it sees first: the connection to the
    # host's daemon reset, or the launcher's agent process for that host dying
    kill) grep -q -e "lost communication with a remote daemon" -e "unable to reliably start one or more daemons" "$W/mpirun.log" ||
            fail "no message about the lost daemon" ;;
    cut) grep -q "lost communication with a remote daemon" "$W/mpirun.log" || fail "no 'lost communication' message"
         grep -q "aesw-h3" "$W/mpirun.log" || fail "the message does not name the lost host" ;;
  esac
  grep -B2 -A8 -- '-----' "$W/mpirun.log" | head -n 14
  [ ! -e "$out" ] || fail "a result file appeared at $out"
  k1=$(jcount "$out.journal")
  [ "$k1" -ge "$k0" ] || fail "the journal lost tasks: $k0 before, $k1 after"
  cp "$out.journal" "$W/journal-at-loss"
  if [ "$how" = cut ]; then
    # the cut-off host's daemon notices too (keepalive) and ends its ranks: nothing stays running
    until_true 60 "the ranks on the cut-off host to end" \
      bash -c "! ip netns pids aesw-h3 | xargs -r ps -o comm= -p | grep -qx -e aesweep -e orted"
    say "the cut-off host's ranks and daemon ended by themselves"
  fi
  restore_host 3
  # resume on the two hosts left
  head -n 2 "$BASE/hostfile" >"$W/hostfile-2"
  say "resume on aesw-h1 and aesw-h2 ($k1 tasks journalled)"
  mpirun --hostfile "$W/hostfile-2" --mca plm_rsh_agent "$HERE/rsh-agent.sh" -np 4 \
    "$BIN" run "$spec" -o "$out" --resume >"$W/resume.log" 2>&1 || fail "mpirun --resume on 2 hosts"
  grep -q "(resuming)" "$W/resume.log" || fail "the run did not resume"
  check complete "$out"
  check same "$ref" "$out"
  local kept; kept=$($PY "$HERE/journal_kept.py" "$W/journal-at-loss" "$out") || fail "journalled tasks ran again"
  say "$kept journalled tasks kept (not run again); the resumed study is byte-identical to 1 rank on 1 host"
  [ ! -e "$out.journal" ] || fail "the journal is still there after completion"
}
t_killhost() { workdir killhost; need_up; lost_host kill; }
t_linkcut() { workdir linkcut; need_up; lost_host cut; }

# A slow network: every frame between two hosts (or a host and the login node) 20 ms late. With
# sch_netem in the kernel: `tc qdisc add dev aesw-hHb root netem delay 20ms` on every port of the
# bridge (a frame leaves the bridge through one port: +20 ms each way). Without it (this test
# machine's kernel has no CONFIG_NET_SCH_NETEM and no modules): tests/multihost/delayhub.py, a
# user-space hub between TAP devices on a second subnet that holds every frame 20 ms. Either way
# the round trip is measured first (a TCP connect to a closed port: SYN out, RST back, ~40 ms),
# and the study must give the same bits; the time it costs is printed.
SLOWNET=10.199.20
rtt_ms() {  # rtt_ms ADDR: one TCP round trip (connection refused) from the login node, in ms
  $PY - "$1" <<'PYEND'
import socket, sys, time
best = 1e9
for _ in range(5):
    s = socket.socket(); s.settimeout(5); t = time.monotonic()
    try:
        s.connect((sys.argv[1], 9))
    except OSError:
        pass
    best = min(best, time.monotonic() - t); s.close()
print(f"{best * 1e3:.1f}")
PYEND
}
t_slow() {
  workdir slow; need_up
  local ref spec=$SRC/jobs/quick.cfg t fast slow h how net addr r0 r1
  ref=$(reference "$spec")
  t=$(now)
  "${MPIRUN[@]}" -np 6 "$BIN" run "$spec" -o "$W/fast.h5" --quiet >"$W/fast.log" 2>&1 || fail "mpirun without delay"
  fast=$(secs_since "$t")
  r0=$(rtt_ms 10.199.19.12)
  if tc qdisc add dev aesw-h1b root netem delay 20ms 2>/dev/null; then
    for h in $(seq 2 $NHOSTS); do tc qdisc add dev "aesw-h${h}b" root netem delay 20ms; done
    how="tc netem delay 20ms on every bridge port" net=${SUBNET%.0/24} addr=10.199.19.12
  else
    "$HERE/delayhub.py" 20 $SLOWNET $(for h in $(seq $NHOSTS); do echo aesw-h$h; done) >"$W/delayhub.log" 2>&1 &
    echo $! >"$W/delayhub.pid"
    until_true 20 "the delay hub" grep -q ready "$W/delayhub.log"
    how="tests/multihost/delayhub.py 20 (no sch_netem in this kernel)" net=$SLOWNET addr=$SLOWNET.12
  fi
  r1=$(rtt_ms $addr)
  say "slow network: $how; TCP round trip login node -> aesw-h2: $r1 ms (without delay: $r0 ms)"
  awk -v a="$r0" -v b="$r1" 'BEGIN { exit !(b - a >= 35) }' || fail "the delay is not there: round trip $r1 ms"
  t=$(now)
  OMPI_MCA_btl_tcp_if_include=$net.0/24 OMPI_MCA_oob_tcp_if_include=$net.0/24 \
    "${MPIRUN[@]}" -np 6 "$BIN" run "$spec" -o "$W/slow.h5" --quiet >"$W/slow.log" 2>&1 || fail "mpirun on the slow network"
  slow=$(secs_since "$t")
  stop_slow
  check complete "$W/slow.h5"
  check same "$ref" "$W/slow.h5"
  awk -v a="$fast" -v b="$slow" 'BEGIN { printf "multihost: slow network: jobs/quick.cfg on 3 hosts x 2 ranks took %.1f s with 20 ms delay, %.1f s without (+%.1f s, x%.2f)\n", b, a, b - a, b / a }' |
    tee "$W/timing.txt"
}
stop_slow() {
  local h
  for h in $(seq $NHOSTS); do tc qdisc del dev "aesw-h${h}b" root 2>/dev/null || true; done
  if [ -n "$W" ] && [ -f "$W/delayhub.pid" ]; then kill "$(cat "$W/delayhub.pid")" 2>/dev/null || true; rm -f "$W/delayhub.pid"; fi
}

# jobs/study-requeue.sbatch across the 3 nodes, cut twice (USR1 to the batch shell as
# --signal=B:USR1@60 sends it, then SIGTERM to every process of the job as a time limit does),
# finished in the third allocation byte-identical to a 1-rank run
t_requeue() {
  workdir requeue; need_up
  local spec=$SRC/tests/slurm/long.cfg out=$W/requeue/long.h5 ref j k1 k2 n
  ref=$(reference "$spec")
  j=$(SPEC=$spec OUT=$out submit -N 3 --ntasks-per-node=2 "$SRC/jobs/study-requeue.sbatch")
  say "submitted jobs/study-requeue.sbatch -N 3 --ntasks-per-node=2 as job $j"
  # the cuts come early: on 6 ranks the study takes ~20 s, and the second cut must find it running
  until_true 120 "4 tasks in the journal of job $j" bash -c "[ \$($PY $H5CHECK journal $out.journal) -ge 4 ]"
  [ "$(field "$j" NodeList)" = "aesw-h[1-3]" ] || fail "job $j runs on $(field "$j" NodeList)"
  say "cut 1: scancel --batch --signal=USR1 $j (journal: $(jcount "$out.journal") tasks)"
  scancel --batch --signal=USR1 "$j"
  until_true 60 "job $j to be requeued" bash -c "[ \"\$(scontrol -o show job $j | grep -o 'Restarts=[0-9]*')\" = Restarts=1 ]"
  k1=$($PY "$H5CHECK" partial "$out") || fail "no partial result file after the first cut"
  cp "$out" "$W/partial-1.h5"
  until_true 60 "job $j to run again" bash -c "[ \"\$(scontrol -o show job $j | grep -o 'JobState=[A-Z]*')\" = JobState=RUNNING ]"
  until_true 120 "2 more tasks in the journal" bash -c "[ \$($PY $H5CHECK journal $out.journal) -ge $((k1 + 2)) ]"
  k2=$(jcount "$out.journal")
  say "cut 2: scancel --full --signal=TERM $j (journal: $k2 tasks)"
  scancel --full --signal=TERM "$j"
  until_true 60 "job $j to be requeued again" bash -c "[ \"\$(scontrol -o show job $j | grep -o 'Restarts=[0-9]*')\" = Restarts=2 ]"
  waitok "$j" 240
  n=$(grep -c 'aesweep-requeue: \[job [0-9]* allocation [0-9]* .*\] start on aesw-h\[1-3\], 6 ranks' "$W/aesweep-requeue-$j.out" || true)
  [ "$n" -ge 3 ] || fail "$n allocations on aesw-h[1-3] with 6 ranks in the log, expected 3"
  grep 'aesweep-requeue:' "$W/aesweep-requeue-$j.out"
  check complete "$out"
  check same "$ref" "$out"
  check kept "$W/partial-1.h5" "$out"
}

ALL="mpirun srun killhost linkcut slow requeue"
case ${1:-} in
  setup) do_setup ;;
  teardown) do_teardown ;;
  all) do_setup; for t in $ALL; do say "== $t"; "t_$t"; say "== $t passed"; done; do_teardown ;;
  mpirun | srun | killhost | linkcut | slow | requeue)
    for t in "$@"; do say "== $t"; "t_$t"; say "== $t passed"; done ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
