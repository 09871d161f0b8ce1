#!/usr/bin/env bash
# The GPU check and benchmark, run ON the GPU machine from the repository
# root with the folder bench/gpu/prepare.sh made (carried by the device tool):
#   1. correctness: every CUDA binary's meta-loss, losses, logits and
#      meta-gradients against the interpreter (tiny episodes, every example
#      cell x truncation; Mini-ImageNet 5w1s and 5w5s on a seeded synthetic
#      episode): 1e-4 relative, or no further from the double-precision
#      result than 10x the float interpreter is (compare.py --exact; at
#      Mini-ImageNet size the float interpreter's own theta0 meta-gradient
#      is 1.4% (max-relative) from the double one);
#   2. speed and memory: lopt `bench`, PyTorch eager (torch_reference.py) and
#      JAX jit (jax_reference.py) on the same meta-iteration of Mini-ImageNet
#      5-way 1-shot (T=12) and 5-shot (T=8): median ms per meta-iteration
#      after warm-up, peak device memory (gpumem.py: the process as NVML sees
#      it; and each implementation's own count of its buffers);
#   3. a timed real run: the 5-shot binary meta-trains on the carried
#      Mini-ImageNet images for TRAIN_SECONDS (then SIGTERM: it saves and
#      stops), and meta-tests its best checkpoint on 600 test episodes.
# Everything is written to $OUT (run.log, correctness.txt, bench.jsonl,
# train.jsonl, test.json, curve.svg). Meant to finish in under 6 minutes.
# usage: bench/gpu/run.sh [BUNDLE=build/gpu-bundle]
#        (TRAIN_SECONDS=120, ITERS=30, TEST_EPISODES=600)
set -uo pipefail
bundle=$(realpath "${1:-build/gpu-bundle}")
out=${OUT:-/tmp/lopt-gpu-out}
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1
tee_pid=$!
here=$(realpath "$(dirname "$0")")
iters=${ITERS:-30}
work=$(mktemp -d)
fails=0
start=$(date +%s)
stamp() { echo "== $(( $(date +%s) - start )) s: $*"; }

stamp "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader ||
  echo "no nvidia-smi here"
date -u
tar -C "$work" -xJf "$bundle/bins.tar.xz"
bin=$work/bin

stamp "1. correctness"
: > "$out/correctness.txt"
check() { # NAME EPISODE-FLAGS...: binary NAME's episode against ref/{ref,exact}_NAME.npz
  local name=$1
  shift
  rm -f "$work/got.npz" "$work/cmp"
  if "$bin/$name" episode "$@" --dump "$work/got.npz" > "$work/log" 2>&1 &&
     python3 "$here/compare.py" "$work/got.npz" "$bundle/ref/ref_$name.npz" \
       --exact "$bundle/ref/exact_$name.npz" > "$work/cmp"; then
    echo "$name $(tail -1 "$work/cmp")" | tee -a "$out/correctness.txt"
  else
    fails=$((fails + 1))
    { echo "$name FAIL"; cat "$work/log" "$work/cmp" 2> /dev/null; } | tee -a "$out/correctness.txt"
  fi
}
for input in "$bundle"/ref/in_*.npz; do
  n=$(basename "$input" .npz)
  check "${n#in_}" --data "$input" --meta "$input"
done
for cfg in 5w1s 5w5s; do
  check "mi_$cfg" --seed 7
done
echo "correctness: $fails failing" | tee -a "$out/correctness.txt"

stamp "2. speed and memory"
: > "$out/bench.jsonl"
record() { # NAME CONFIG -- COMMAND...: the command's JSON line and gpumem's, as one line
  local name=$1 cfg=$2; shift 3
  "$@" > "$work/json" 2> "$work/err"
  local rc=$?
  python3 - "$name" "$cfg" "$work/json" "$work/err" "$rc" <<'PY' | tee -a "$out/bench.jsonl"
import json, sys
name, cfg, jpath, epath, rc = sys.argv[1:]
row = {"impl": name, "config": cfg, "rc": int(rc)}
for path in (jpath, epath):
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                row.update(json.loads(line))
            except ValueError:
                pass
if int(rc):
    row["error"] = open(epath).read()[-500:]
print(json.dumps(row))
PY
}
for cfg in 5w1s 5w5s; do
  if [[ $cfg == 5w1s ]]; then shots=1 steps=12 batch=5; else shots=5 steps=8 batch=25; fi
  args=(--ways 5 --shots $shots --queries 15 --size 84 --channels 3 --steps $steps
        --inner-batch $batch --iters $iters --warmup 5)
  record lopt $cfg -- python3 "$here/gpumem.py" "$bin/mi_$cfg" bench --iters $iters --warmup 5
  record pytorch-eager $cfg -- python3 "$here/gpumem.py" python3 "$here/../torch_reference.py" \
    --device cuda --bn-momentum 0.9 "${args[@]}"
  # (JAX would otherwise take 75% of the GPU's memory at start.)
  record jax-jit $cfg -- env XLA_PYTHON_CLIENT_PREALLOCATE=false \
    python3 "$here/gpumem.py" python3 "$here/../jax_reference.py" --device gpu "${args[@]}"
done

stamp "3. timed run: Mini-ImageNet 5-way 5-shot on the carried images"
seconds=${TRAIN_SECONDS:-120}
timeout -k 30 -s TERM "$seconds" "$bin/mi_5w5s" train --data "$bundle/mini-imagenet" \
  --episodes 1000000 --out "$work/run" --val-every 500 --val-episodes 50 --save-every 500
echo "train stopped after ${seconds} s (status $?)"
tail -1 "$work/run/log.jsonl"
cp "$work/run/log.jsonl" "$out/train.jsonl"
cp "$work/run/curve.svg" "$out/curve.svg" 2> /dev/null
checkpoint=$work/run/best.npz
[[ -f $checkpoint ]] || checkpoint=$work/run/last.npz
"$bin/mi_5w5s" test --data "$bundle/mini-imagenet" --checkpoint "$checkpoint" \
  --episodes "${TEST_EPISODES:-600}" --json "$out/test.json"
"$bin/mi_5w5s" test --data "$bundle/mini-imagenet" --checkpoint init --episodes "${TEST_EPISODES:-600}" \
  --json "$work/init.json" && cat "$work/init.json"
stamp "done"
rm -rf "$work"
# Let tee write the end of run.log before the device tool collects $OUT.
exec >&- 2>&-
wait "$tee_pid"
exit $((fails > 0))
