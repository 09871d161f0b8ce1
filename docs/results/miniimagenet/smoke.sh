#!/bin/bash
# A short real run of the reference Mini-ImageNet 5-way 1-shot binary (84x84,
# T = 12) on the shared data (a 100-image-per-class subset of the Ravi
# split): meta-train, interrupt and resume, meta-test. It shows that the
# pipeline works on this data and what an episode costs here; it is far too
# short to learn much (the reference uses 75,000 episodes).
#
#   docs/results/miniimagenet/smoke.sh [DATA] [EPISODES]
set -euo pipefail
cd "$(dirname "$0")/../../.."
DATA=$(realpath "${1:-../shared/data/mini-imagenet}")
E=${2:-40}
OUT=build/results/miniimagenet
mkdir -p $OUT
rm -rf $OUT/5w1s
bin=$OUT/miniimagenet_5w1s
build/bin/loptc examples/ravi_larochelle/miniimagenet_5w1s.lopt -o $bin --cache build/kernel-cache
$bin train --data "$DATA" --episodes $((E / 2)) --out $OUT/5w1s --val-every $((E / 2)) --val-episodes 10
$bin train --data "$DATA" --episodes $E --out $OUT/5w1s --val-every $((E / 2)) --val-episodes 10 --resume
$bin test --data "$DATA" --checkpoint $OUT/5w1s/best --episodes 100
$bin test --data "$DATA" --checkpoint init --episodes 100
