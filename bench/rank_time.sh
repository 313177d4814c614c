#!/usr/bin/env bash
# rank_time.sh OUTFILE CMD... - run CMD under /usr/bin/time and append one line
# "rank <MPI rank> maxrss_kb <peak RSS> wall_s <seconds> cpu_s <user+system>" to OUTFILE
# (bench/run.sh wraps each MPI rank with it to get peak memory per rank).
out=$1
shift
exec /usr/bin/time -a -o "$out" -f "rank ${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}} maxrss_kb %M wall_s %e cpu_s %U %S" "$@"
