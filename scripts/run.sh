#!/usr/bin/env bash
# The main job on its built-in default: install what is missing, build, then
# compile the reference Omniglot example (the Ravi & Larochelle meta-LSTM,
# 5-way 1-shot, 12 inner steps) into a standalone binary, say what it is
# (info), meta-train it for a short run with progress and validation
# (train), and meta-test the best checkpoint with a 95% CI (test).
# Data: $1 if given, else ../shared/data/omniglot, else Debian's Fashion-MNIST.
# EPISODES (default 200) sets the length of the run.
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
episodes=${EPISODES:-200}
bin=build/omniglot_5w1s
run=build/run-omniglot_5w1s
echo "== loptc $example -o $bin"
build/bin/loptc "$example" -o "$bin" --cache build/kernel-cache
echo "== $bin info"
"$bin" info
rm -rf "$run"
echo "== $bin train --data $data --episodes $episodes --out $run"
"$bin" train --data "$data" --episodes "$episodes" --out "$run" \
  --val-every 100 --val-episodes 50
echo "== $bin test --data $data --checkpoint $run/best --episodes 200"
"$bin" test --data "$data" --checkpoint "$run/best" --episodes 200
echo "== $bin test --data $data --checkpoint init --episodes 200 (the untrained cell)"
"$bin" test --data "$data" --checkpoint init --episodes 200
