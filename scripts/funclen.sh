#!/usr/bin/env bash
# funclen.sh [LIMIT] - list C functions in src/ longer than LIMIT lines (default 120), longest first.
# Measured with universal-ctags (start line and `end:` field); the numeric kernels (kernel_*.c,
# simd.h) are exempt, as issue 14 allows. Exit 1 if any other function is over the limit.
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-120}
ctags --c-kinds=f --fields=+ne -o - src/*.c |
  awk -F'\t' -v lim="$LIMIT" '{
      line = ""; end = "";
      for (i = 4; i <= NF; i++) {
          if ($i ~ /^line:/) line = substr($i, 6);
          if ($i ~ /^end:/) end = substr($i, 5);
      }
      if (line == "" || end == "") next;
      n = end - line + 1;
      exempt = ($2 ~ /kernel_|simd\.h/);
      printf "%d\t%s:%s\t%s%s\n", n, $2, line, $1, exempt ? "\t(kernel, exempt)" : "";
  }' | sort -rn | awk -F'\t' -v lim="$LIMIT" '
      $1 > lim { print; if ($4 == "") bad++ }
      END { exit bad > 0 }'
