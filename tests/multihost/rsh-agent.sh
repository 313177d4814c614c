#!/bin/sh
# rsh-agent.sh - Open MPI's rsh launcher agent (mpirun --mca plm_rsh_agent THIS): instead of ssh
# to HOST, run the command in the network, UTS and mount namespaces of that host (tests/multihost/net.sh): `rsh-agent.sh HOST CMD...`.
# HOST is a name of the test network (aesw-h2) or its address (10.199.19.12).
while [ $# -gt 0 ]; do case $1 in -*) shift ;; *) break ;; esac; done   # ssh-style options, if any
host=$1; shift
case $host in
  aesw-h*) ns=$host ;;
  *.1[0-9]) ns=aesw-h${host##*.1} ;;
  *) echo "rsh-agent.sh: unknown host $host" >&2; exit 255 ;;
esac
h=${ns#aesw-}
exec nsenter --net="/run/netns/$ns" --uts="/run/aesw/uts-$h" --mount="/run/aesw/mnt-$h" --wd="$PWD" -- /bin/sh -c "$*"
