#!/usr/bin/env bash
# The main job on its built-in default: install what is missing, build, then
# compile the reference Omniglot example (the Ravi & Larochelle meta-LSTM,
# 5-way 1-shot, 12 inner steps) into a standalone binary and run it: what it
# is (info), one seeded meta-training episode of real data (episode), and
# the time of a meta-iteration (bench).
# Data: $1 if given, else ../shared/data/omniglot, else Debian's Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh loptc
example=examples/omniglot/omniglot_5w1s.lopt
data="${1:-}"
if [[ -z "$data" ]]; then
  for d in ../shared/data/omniglot /usr/share/datasets/fashion-mnist; do
    [[ -d "$d" ]] && { data="$d"; break; }
  done
fi
bin=build/omniglot_5w1s
echo "== loptc $example -o $bin"
build/bin/loptc "$example" -o "$bin" --cache build/kernel-cache
echo "== $bin info"
"$bin" info
echo "== $bin episode --data $data --seed 1"
"$bin" episode --data "$data" --seed 1
echo "== $bin bench --iters 3"
"$bin" bench --iters 3 --warmup 1
