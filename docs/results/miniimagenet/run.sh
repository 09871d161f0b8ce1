#!/bin/bash
# Mini-ImageNet 5-way 5-shot (84x84, T = 8) on the CPU: the reference
# meta-learner meta-trained for EPISODES episodes, then the best validation
# checkpoint and the untrained cell meta-tested on the same 600 test
# episodes (seed 1).
#
#   docs/results/miniimagenet/run.sh [DATA] [EPISODES]
#
# DATA defaults to ../shared/data/mini-imagenet (the Ravi split's csv files;
# the shared copy holds 100 images of each class, the published split 600).
# The binary and the run go to build/results/miniimagenet/ (a run that
# exists is resumed); the log, the curve and the JSON of both tests go to
# docs/results/miniimagenet/. Needs build/bin/loptc (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."
DATA=$(realpath "${1:-../shared/data/mini-imagenet}")
E=${2:-6000}
OUT=build/results/miniimagenet
DOCS=docs/results/miniimagenet
THREADS=${THREADS:-2}
ep=miniimagenet_5w5s
mkdir -p "$OUT" "$DOCS/json"
build/bin/loptc examples/ravi_larochelle/$ep.lopt -o $OUT/$ep --cache build/kernel-cache
# Meta-train (resumed when a run exists), validation every 500 episodes.
resume=$([ -e $OUT/5w5s/last.npz ] && echo --resume || true)
$OUT/$ep train --data "$DATA" --episodes "$E" --out $OUT/5w5s \
  --val-every 500 --val-episodes 100 --seed 1 --threads $THREADS $resume \
  | tee $OUT/5w5s.train.txt
cp $OUT/5w5s/log.jsonl $DOCS/5w5s.log.jsonl
cp $OUT/5w5s/curve.svg $DOCS/5w5s.curve.svg
# Meta-test the best checkpoint and the untrained cell.
$OUT/$ep test --data "$DATA" --checkpoint $OUT/5w5s/best --episodes 600 \
  --seed 1 --threads $THREADS --json $DOCS/json/5w5s.trained.json
$OUT/$ep test --data "$DATA" --checkpoint init --episodes 600 \
  --seed 1 --threads $THREADS --json $DOCS/json/5w5s.init.json
