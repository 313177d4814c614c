#!/usr/bin/env bash
# net.sh - a private network of "hosts" on this machine: Linux network namespaces aesw-h1..N, each
# with one veth pair whose other end is on the bridge aeswbr0 in the root namespace.
#
#   net.sh up [N]     (re)create it: removes any leftover of an earlier (killed) run first
#   net.sh down       remove it all; idempotent, safe when nothing exists
#   net.sh pids H     the processes living in host H's namespace (aesw-hH)
#   net.sh killhost H SIG   send SIG to every process of host H
#   net.sh status
#
# Addresses: 10.199.19.1/24 on the bridge (the "login node": mpirun, slurmctld), 10.199.19.1H on
# host H. They exist only on interfaces this script creates; nothing is forwarded or routed
# elsewhere (ip_forward is not touched, no NAT), so all traffic stays on the bridge.
# Each host has its own hostname too (a UTS namespace kept in /run/aesw/uts-hH): Open MPI names its
# shared-memory segments after the host name, and with one name for all "hosts" two ranks on
# different hosts opened the same segment (vader crashed). And its own /tmp (a mount namespace kept
# in /run/aesw/mnt-hH, /tmp bound to /var/tmp/aesw-hosts/hH), as a node has: Slurm's PMIx plugin
# makes /tmp/spmix_appdir_<uid>_<job>.<step> on every node, and the second node of a job failed with
# "File exists". And its own /dev/shm (a tmpfs in that mount namespace), as a node has: Open MPI's
# shared-memory BTL keeps a segment file per rank there, and a killed host's segments now go with
# it instead of piling up in the machine's /dev/shm. (It did not cure the crash in MPI_Init that
# jobs/study.sbatch relaunches; docs/cluster.md.) Nothing else is private: every host sees
# the same files. Nothing needs names to resolve:
# Open MPI's agent and Slurm's NodeAddr use the addresses.
#   net.sh exec H CMD...   run CMD on host H (or aesw-hH): its network, hostname, /tmp and /dev/shm. (nsenter, not
#                          `ip netns exec`, which mounts a new /sys without the cgroup tree that
#                          slurmd needs.)
# Needs root and iproute2 (ip, tc) and util-linux (unshare, nsenter).
set -euo pipefail
PFX=${AESW_NET_PREFIX:-10.199.19}
BR=aeswbr0
UTS=/run/aesw
TMPS=/var/tmp/aesw-hosts
ns() { echo "aesw-h$1"; }
hosts_of() { ip netns list 2>/dev/null | sed -n 's/^\(aesw-h[0-9]*\).*/\1/p'; }

down() {
  local n p
  for n in $(hosts_of); do
    # no process may keep the namespace (and its veth) alive
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  done
  for n in $(hosts_of); do
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(ip netns pids "$n" 2>/dev/null)" ] && break; sleep 0.1; done
    ip netns del "$n" 2>/dev/null || true
  done
  ip link del "$BR" 2>/dev/null || true
  if [ -d "$UTS" ]; then
    for n in "$UTS"/uts-h* "$UTS"/mnt-h*; do [ -e "$n" ] && { umount "$n" 2>/dev/null || true; rm -f "$n"; }; done
    for n in "$UTS"/realtmp-h*; do [ -d "$n" ] && { umount "$n" 2>/dev/null || true; rmdir "$n" 2>/dev/null || true; }; done
    umount "$UTS" 2>/dev/null || true
    rmdir "$UTS" 2>/dev/null || true
  fi
  rm -rf "$TMPS"
  # veth ends left in the root namespace (a run killed between creating and moving them)
  for p in $(ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: \(aesw-h[0-9]*[bi]\)[@:].*/\1/p'); do ip link del "$p" 2>/dev/null || true; done
  return 0
}

up() {
  local N=${1:-3} i n
  down
  ip link add "$BR" type bridge
  ip link set "$BR" type bridge forward_delay 0 stp_state 0
  ip addr add "$PFX.1/24" dev "$BR"
  # a persistent namespace is a bind mount, which needs a private mount point to live on
  mkdir -p "$UTS"
  mount --bind "$UTS" "$UTS"
  mount --make-private "$UTS"
  ip link set "$BR" up
  for ((i = 1; i <= N; i++)); do
    n=$(ns $i)
    ip netns add "$n"
    ip link add "$n"b type veth peer name "$n"i
    ip link set "$n"i netns "$n"
    ip link set "$n"b master "$BR" up
    ip -n "$n" link set lo up
    ip -n "$n" addr add "$PFX.1$i/24" dev "$n"i
    ip -n "$n" link set "$n"i up
    touch "$UTS/uts-h$i"
    unshare --uts="$UTS/uts-h$i" hostname "$n"
    mkdir -p "$TMPS/h$i"; chmod 1777 "$TMPS/h$i"; touch "$UTS/mnt-h$i"
    # The host's own /tmp hides the machine's; a checkout or build folder that lives under /tmp
    # (a CI clone in /tmp/X) must stay visible, as a cluster's shared file system would be: the
    # machine's /tmp stays reachable at $UTS/realtmp-hH inside the namespace, and each top-level
    # entry of /tmp named in MULTIHOST_KEEP (paths; default: this checkout and the working folder)
    # is bound back over the host's /tmp.
    keep=()
    for k in ${MULTIHOST_KEEP:-$(cd "$(dirname "$0")/../.." && pwd) $PWD}; do
      k=$(realpath -m "$k")
      case $k in /tmp/?*) k=${k#/tmp/}; keep+=("${k%%/*}") ;; esac
    done
    mkdir -p "$UTS/realtmp-h$i"
    unshare --mount="$UTS/mnt-h$i" --propagation private /bin/sh -c '
      set -e; real=$1; own=$2; shift 2
      mount --bind /tmp "$real"
      mount --bind "$own" /tmp
      for e in "$@"; do mkdir -p "/tmp/$e"; mount --bind "$real/$e" "/tmp/$e"; done
      mount -t tmpfs -o mode=1777,size=256m "aesw-shm" /dev/shm' \
      sh "$UTS/realtmp-h$i" "$TMPS/h$i" ${keep[@]+"${keep[@]}"}
  done
  # wait until every host reaches the bridge (a new bridge port may take a moment to forward)
  for ((i = 1; i <= N; i++)); do
    for _ in $(seq 50); do
      ip netns exec "$(ns $i)" ip neigh flush all >/dev/null 2>&1 || true
      [ "$(ip -n "$(ns $i)" -o link show "$(ns $i)i" | grep -c 'state UP')" = 1 ] && break
      sleep 0.1
    done
  done
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  exec) h=${2#aesw-h}; shift 2; exec nsenter --net="/run/netns/$(ns "$h")" --uts="$UTS/uts-h$h" --mount="$UTS/mnt-h$h" --wd="$PWD" -- "$@" ;;
  pids) ip netns pids "$(ns "$2")" ;;
  killhost) for p in $(ip netns pids "$(ns "$2")"); do kill -"$3" "$p" 2>/dev/null || true; done ;;
  status) ip netns list; ip -br addr show "$BR" 2>/dev/null || echo "no bridge $BR" ;;
  *) sed -n '2,27p' "$0" >&2; exit 2 ;;
esac
