#!/usr/bin/env bash
# cli-tests.sh - the command-line conventions: every command's --help, the man page, bash completion.
#
#   tests/cli/cli-tests.sh help AESWEEP             every `aesweep COMMAND --help` (and `-h`, `help
#                                                    COMMAND`) exits 0 and prints the usage and every
#                                                    option of the command table; unknown flags exit 2
#   tests/cli/cli-tests.sh man AESWEEP PAGE         the man page renders without a groff warning and
#                                                    documents every command and option
#   tests/cli/cli-tests.sh completion AESWEEP SCRIPT  bash completion of commands, flags, choices, files
#   tests/cli/cli-tests.sh version AESWEEP SRC      `aesweep --version` names the source tree's commit
#                                                    (with -dirty iff tracked files differ from it), as
#                                                    built: the build regenerates it (cmake/version.cmake)
#
# The list of commands and options comes from the binary (`aesweep --complete`), so a command added
# to src/cli.c is tested here without editing this file.
set -euo pipefail
mode=$1 BIN=$(realpath "$2")
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
commands=$("$BIN" --complete)
[ -n "$commands" ] || { echo "FAIL: $BIN --complete lists no command" >&2; exit 1; }
options_of() { "$BIN" --complete "$1" | awk '$1 != "@" && $1 != "--help" {print $1}'; }

case $mode in
help)
  "$BIN" --help >"$T/top" 2>"$T/err" || fail "aesweep --help exited $?"
  for c in $commands; do grep -q "^  $c" "$T/top" || fail "aesweep --help does not list '$c'"; done
  n=0
  for c in $commands; do
    for form in "$c --help" "$c -h" "help $c"; do
      # shellcheck disable=SC2086
      if ! "$BIN" $form >"$T/out" 2>"$T/err"; then fail "aesweep $form exited non-zero"; continue; fi
      [ ! -s "$T/err" ] || fail "aesweep $form wrote to stderr: $(head -n 2 "$T/err")"
      head -n 1 "$T/out" | grep -q "^usage: aesweep $c\b" || fail "aesweep $form: first line is not 'usage: aesweep $c ...': $(head -n 1 "$T/out")"
      grep -q "^exit codes:" "$T/out" || fail "aesweep $form: no exit codes"
      for o in $(options_of "$c"); do
        grep -qe "$o" "$T/out" || fail "aesweep $form does not describe $o"
      done
      n=$((n + 1))
    done
    # --help after other arguments still asks for help, and runs nothing
    "$BIN" "$c" no-such-file.cfg --help >"$T/out" 2>&1 || fail "aesweep $c FILE --help exited non-zero"
    grep -q "^usage: aesweep $c" "$T/out" || fail "aesweep $c FILE --help printed no usage"
    # a flag the table lacks: exit 2, one line naming it and the way to help
    rc=0; "$BIN" "$c" --no-such-flag >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "aesweep $c --no-such-flag exited $rc, expected 2"
    grep -q "unknown option '--no-such-flag' for $c (see aesweep $c --help)" "$T/err" ||
      fail "aesweep $c --no-such-flag: $(cat "$T/err")"
    echo "help: $c: usage and $(options_of "$c" | wc -l) options in each form"
  done
  rc=0; "$BIN" no-such-command --help >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = 2 ] || fail "aesweep no-such-command exited $rc, expected 2"
  echo "help: $n help forms checked"
  ;;
man)
  PAGE=$3
  # -ww: every warning; -z: no output, only the diagnostics
  groff -man -Tutf8 -ww -z "$PAGE" 2>"$T/warn" || fail "groff failed on $PAGE"
  [ ! -s "$T/warn" ] || fail "groff warnings on $PAGE: $(head -n 5 "$T/warn")"
  if command -v man >/dev/null; then
    MANWIDTH=100 man -l "$PAGE" 2>"$T/warn" >"$T/page" || fail "man -l $PAGE failed"
  else
    groff -man -Tutf8 -rLL=100n "$PAGE" | col -bx >"$T/page"
  fi
  LC_ALL=C sed -i 's/.\x08//g' "$T/page"     # no overstrike, whatever the pager settings
  for s in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" ENVIRONMENT FILES; do
    grep -q "^$s" "$T/page" || fail "the rendered page has no $s section"
  done
  for c in $commands; do
    grep -q "^ *aesweep $c\b" "$T/page" || fail "the man page has no subsection 'aesweep $c'"
    for o in $(options_of "$c"); do grep -qe "$o" "$T/page" || fail "the man page does not document $c $o"; done
  done
  grep -q '@[A-Z_]*@' "$PAGE" && fail "unreplaced placeholder in $PAGE: $(grep -o '@[A-Z_]*@' "$PAGE" | head -n 1)"
  echo "man: $(wc -l <"$T/page") lines rendered, $(echo $commands | wc -w) commands documented"
  ;;
completion)
  SCRIPT=$3
  # shellcheck disable=SC1090
  source "$SCRIPT"
  complete -p aesweep >/dev/null || fail "$SCRIPT does not register a completion for aesweep"
  mkdir -p "$T/w/sub"; cd "$T/w"; touch a.cfg b.h5 c.csv sub/d.cfg
  comp() { COMP_WORDS=("$BIN" "$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _aesweep
           printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'; }
  expect() { local want=$1 got; shift; got=$(comp "$@"); [ "$got" = "$want" ] || fail "complete [$*]: got '$got', expected '$want'"; }
  want=$(printf '%s\n' $commands --help --version | sort | tr '\n' ' ' | sed 's/ $//')
  expect "$want" ""
  expect "train" tr
  expect "--mmd-kernel --mmd-lambda --mmd-nscales --mmd-scale" train --mmd
  expect "imq rbf" train --mmd-kernel ""
  expect "minmax" train --scaler m
  expect "b.h5 c.csv digits moons sub" train --data ""
  expect "a.cfg sub" run ""
  expect "sub/d.cfg" run sub/
  expect "b.h5 sub" run a.cfg -o ""
  expect "b.h5 sub" info ""
  expect "" train --epochs ""
  for c in $commands; do
    want=$( (options_of "$c"; echo --help; "$BIN" --complete "$c" | awk '$1 ~ /^-[^-]/ {print $1}') | sort -u | tr '\n' ' ' | sed 's/ $//')
    expect "$want" "$c" -
  done
  echo "completion: commands, options of $(echo $commands | wc -w) commands, choices and files"
  ;;
version)
  # Every result file records this commit (git_commit) as its provenance, so it must be the commit
  # the binary was built from, not the one CMake was configured at.
  SRC=$3
  got=$("$BIN" --version | sed -n 's/^aesweep [0-9.]* (commit \([^,]*\), result schema [0-9]*)$/\1/p')
  [ -n "$got" ] || fail "aesweep --version: no 'aesweep X.Y.Z (commit C, result schema N)' line: $("$BIN" --version)"
  if git -C "$SRC" rev-parse HEAD >/dev/null 2>&1; then
    want=$(git -C "$SRC" rev-parse --short=12 HEAD)
    [ -z "$(git -C "$SRC" --no-optional-locks status --porcelain --untracked-files=no)" ] || want="$want-dirty"
  else
    want=unknown
  fi
  [ "$got" = "$want" ] || fail "aesweep --version says commit '$got', the source tree is at '$want' (rebuild: cmake --build)"
  echo "version: commit $got"
  ;;
*) echo "usage: $0 help|man|completion|version AESWEEP [PAGE|SCRIPT|SRC]" >&2; exit 2 ;;
esac
[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
