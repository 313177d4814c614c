#!/usr/bin/env bash
# layering.sh - issue 14's layering rules, checked on the built objects and the sources:
#   1. no kernel calls back into the model: the objects of src/kernel_*.c reference no symbol
#      that src/model.c defines (model.c calls the kernels through kernel.h's tables, never the
#      reverse);
#   2. no getenv in the library but where options are read: src/options.c (the run-time options,
#      include/aesweep/options.h) and src/cli.c (whether a launcher started us).
# usage: layering.sh SRC_DIR OBJECT...   (the library's objects)
set -euo pipefail
src=$1
shift
fail=0
model_o= kernels=()
for o in "$@"; do
    case "$(basename "$o")" in
    model.c.o) model_o=$o ;;
    kernel_*.c.o) kernels+=("$o") ;;
    esac
done
[ -n "$model_o" ] && [ "${#kernels[@]}" -ge 4 ] || { echo "layering: model.c.o or the kernel objects not found" >&2; exit 1; }
defined=$(nm --defined-only -g "$model_o" | awk '{print $3}' | sort -u)
for k in "${kernels[@]}"; do
    back=$(comm -12 <(nm -u "$k" | awk '{print $2}' | sort -u) <(echo "$defined"))
    if [ -n "$back" ]; then
        echo "layering: $(basename "$k") calls into model.c: $back" >&2
        fail=1
    fi
done
[ $fail = 0 ] && echo "layering: ${#kernels[@]} kernel objects, none calls model.c ($(echo "$defined" | wc -l) symbols of model.c checked)"
bad=$(grep -ln 'getenv *(' "$src"/src/*.c | grep -v -e '/options\.c$' -e '/cli\.c$' || true)
if [ -n "$bad" ]; then
    echo "layering: getenv outside src/options.c and src/cli.c: $bad" >&2
    fail=1
fi
echo "layering: getenv only in $(grep -ln 'getenv *(' "$src"/src/*.c | xargs -n1 basename | tr '\n' ' ')"
exit $fail
