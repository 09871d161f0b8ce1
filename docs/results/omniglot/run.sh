#!/bin/bash
# Omniglot 5-way 1-shot and 5-shot (28x28, Vinyals split, rotations as
# classes): the reference meta-learner meta-trained, against the cell at its
# initialisation and plain SGD fine-tuning with a tuned learning rate, each
# meta-tested on the same 600 test-class episodes (seed 1).
#
#   docs/results/omniglot/run.sh [DATA] [EPISODES_1SHOT] [EPISODES_5SHOT]
#
# DATA defaults to ../shared/data/omniglot. Binaries and runs go to
# build/results/omniglot/ (a run that exists is resumed); the table and the
# JSON of every test go to docs/results/omniglot/. Needs build/bin/loptc
# (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD
DATA=$(realpath "${1:-../shared/data/omniglot}")
E1=${2:-3000}
E5=${3:-1500}
OUT=build/results/omniglot
DOCS=docs/results/omniglot
THREADS=${THREADS:-2}
LRS="0.01 0.03 0.1 0.3 1"
mkdir -p "$OUT" "$DOCS/json"
loptc() { build/bin/loptc "$@" --cache build/kernel-cache; }

for k in 1 5; do
  ep=omniglot_5w${k}s
  E=$([ $k = 1 ] && echo "$E1" || echo "$E5")
  loptc examples/omniglot/$ep.lopt -o $OUT/$ep
  # Meta-train (resumed when a run exists), validation every 250 episodes.
  resume=$([ -e $OUT/5w${k}s/last.npz ] && echo --resume || true)
  $OUT/$ep train --data "$DATA" --episodes "$E" --out $OUT/5w${k}s \
    --val-every 250 --val-episodes 100 --seed 1 --threads $THREADS $resume \
    | tee $OUT/5w${k}s.train.txt
  cp $OUT/5w${k}s/log.jsonl $DOCS/5w${k}s.log.jsonl
  cp $OUT/5w${k}s/curve.svg $DOCS/5w${k}s.curve.svg
  # Meta-test the best checkpoint and the untrained cell.
  $OUT/$ep test --data "$DATA" --checkpoint $OUT/5w${k}s/best --episodes 600 \
    --seed 1 --threads $THREADS --json $DOCS/json/5w${k}s.trained.json
  $OUT/$ep test --data "$DATA" --checkpoint init --episodes 600 \
    --seed 1 --threads $THREADS --json $DOCS/json/5w${k}s.init.json
  # SGD fine-tuning: the learning rate with the best accuracy on 100
  # validation episodes, then the 600 test episodes.
  best=""; bestacc=-1
  for lr in $LRS; do
    sed -e "s|lr = 0.1|lr = $lr|g" \
        -e "s|import \"../|import \"$ROOT/examples/|" \
        examples/omniglot/${ep}_sgd.lopt > $OUT/${ep}_sgd_lr$lr.lopt
    loptc $OUT/${ep}_sgd_lr$lr.lopt -o $OUT/${ep}_sgd_lr$lr
    $OUT/${ep}_sgd_lr$lr test --data "$DATA" --checkpoint init --split val \
      --episodes 100 --seed 1 --threads $THREADS \
      --json $DOCS/json/5w${k}s.sgd_lr$lr.val.json
    acc=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['accuracy'])" \
      $DOCS/json/5w${k}s.sgd_lr$lr.val.json)
    if python3 -c "import sys; sys.exit(not float(sys.argv[1]) > float(sys.argv[2]))" "$acc" "$bestacc"; then
      best=$lr; bestacc=$acc
    fi
  done
  echo "5w${k}s: SGD learning rate $best (validation accuracy $bestacc)"
  $OUT/${ep}_sgd_lr$best test --data "$DATA" --checkpoint init --episodes 600 \
    --seed 1 --threads $THREADS --json $DOCS/json/5w${k}s.sgd.json
  echo "$best" > $DOCS/json/5w${k}s.sgd_lr
done
python3 $DOCS/table.py $DOCS > $DOCS/table.md
cat $DOCS/table.md
