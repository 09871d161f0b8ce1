#!/usr/bin/env bash
# The main job on its built-in default: install what is missing, build, then
# compile the reference Omniglot example through the pipeline and run one
# seeded meta-training episode of real data in the reference interpreter.
# Data: $1 if given, else ../shared/data/omniglot, else Debian's Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh loptc
example=examples/omniglot/omniglot_5w1s.lopt
echo "== loptc $example -emit=metagrad ($(build/bin/loptc $example -emit=metagrad | wc -l) lines of lopt IR)"
data=()
[[ $# -ge 1 ]] && data=(--data "$1")
echo "== loptc episode $example ${data[*]} --seed 1"
build/bin/loptc episode "$example" "${data[@]}" --seed 1
