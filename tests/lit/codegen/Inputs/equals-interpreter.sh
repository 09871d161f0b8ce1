#!/usr/bin/env bash
# Compiled equals interpreted, for one Halide target. For every CELL:TRUNCATION
# argument: builds episode tiny_CELL of cells.lopt with that truncation
# policy, runs one episode of the binary on random images and random
# meta-parameters (a different seed each time) three times, each run bit for
# bit the first (--repeat; on CUDA the later runs replay a graph of the
# kernel launches), reruns the same inputs through the reference interpreter
# in float and in double, and prints "CELL TRUNCATION" and loptc compare's
# verdict: meta-loss, losses, logits and meta-gradients within 1e-4
# relative, or no further from the double-precision interpreter than 10x
# the float interpreter is (--exact; the Adam cell needs it, see
# CompareCommand.cpp). A failing step prints FAIL and its log.
#
# usage: equals-interpreter.sh LOPTC WORKDIR KERNEL_CACHE TARGET CELL:TRUNCATION...
set -uo pipefail
loptc=$1 work=$2 cache=$3 target=$4
shift 4
cells=$(dirname "$0")/cells.lopt
mkdir -p "$work"
seed=0
for ct in "$@"; do
  c=${ct%%:*} t=${ct#*:}
  seed=$((seed + 1))
  echo "$c $t"
  rm -f "$work"/{bin,got.npz,ref.npz,exact.npz}
  ep=(--episode "tiny_$c" --truncation "$t")
  if ! "$loptc" "$cells" "${ep[@]}" --target "$target" --cache "$cache" \
      -o "$work/bin" > "$work/log" 2>&1; then
    cat "$work/log"; echo "FAIL: build"; continue
  fi
  if ! "$work/bin" episode --seed "$seed" --repeat 3 --dump "$work/got.npz" > "$work/log" 2>&1; then
    cat "$work/log"; echo "FAIL: run"; continue
  fi
  "$loptc" episode "$cells" "${ep[@]}" --data "$work/got.npz" --meta "$work/got.npz" \
    --dump "$work/ref.npz" > /dev/null &&
  "$loptc" episode "$cells" "${ep[@]}" --data "$work/got.npz" --meta "$work/got.npz" \
    --precision double --dump "$work/exact.npz" > /dev/null &&
  "$loptc" compare "$work/got.npz" "$work/ref.npz" --exact "$work/exact.npz" \
    --tolerance 1e-4 | tail -1 || echo "FAIL: compare"
done
