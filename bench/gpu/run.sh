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
# train.jsonl, test.json, curve.svg, profile.txt). Every step has a time cap
# and the whole script a deadline (DEADLINE_S, 520 s after it starts): a
# step that would run past it is cut short or skipped, and says so; the
# timed run trains for what is left after the other steps (at most
# TRAIN_SECONDS), keeping time for its test.
# REFERENCES="" leaves PyTorch and JAX out (or names one: "jax-jit"), TRAIN=0
# the timed run, for a quicker look at lopt's speed; NCU=1 adds ncu.csv
# and ncu-detail.csv (NCU_DETAIL: which kernels).
# CHECK_S caps the first look and each correctness check (60 s: plenty on a
# GPU; a dry run of an OpenCL bundle through pocl needs about 200).
# BINS=bins-NAME.tar.xz runs the binaries of another code state instead
# (prepare.sh VARIANT=NAME).
# usage: bench/gpu/run.sh [BUNDLE=build/gpu-bundle]
#        (TRAIN_SECONDS=120, ITERS=30, TEST_EPISODES=600, DEADLINE_S=520,
#        REFERENCES="pytorch-eager jax-jit", TRAIN=1, NCU=0, CHECK_S=60,
#        BINS=bins.tar.xz)
set -uo pipefail
bundle=$(realpath "${1:-build/gpu-bundle}")
out=${OUT:-/tmp/lopt-gpu-out}
mkdir -p "$out"
exec > >(tee "$out/run.log") 2>&1
tee_pid=$!
here=$(realpath "$(dirname "$0")")
iters=${ITERS:-30}
check_s=${CHECK_S:-60}
work=$(mktemp -d)
fails=0
start=$(date +%s)
deadline=${DEADLINE_S:-520}
stamp() { echo "== $(( $(date +%s) - start )) s: $*"; }
# left: seconds until the deadline. cap N: N, or what is left if less (>= 1).
left() { echo $(( deadline - ($(date +%s) - start) )); }
cap() { local l; l=$(left); (( l < $1 )) && echo $(( l > 1 ? l : 1 )) || echo "$1"; }
# The binaries find the bundled libraries (prepare.sh) first; nothing else
# (PyTorch, JAX) sees them.
lopt=(env "LD_LIBRARY_PATH=$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")

stamp "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader ||
  echo "no nvidia-smi here"
date -u
bins=${BINS:-bins.tar.xz}
commit=$bundle/COMMIT${bins#bins}
echo "binaries $bins, built from $(cat "${commit%.tar.xz}" 2> /dev/null || echo '(unknown)')"
ldconfig -p | grep -E 'libcuda\.so' || echo "ldconfig knows no libcuda"
python3 - "$bundle/$bins" "$work" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    t.extractall(sys.argv[2])
PY
bin=$work/bin
# A first look: whether the binary starts, finds the driver and runs (its
# second run records the kernel launches as a CUDA graph, the third replays
# it). Should that fail where calling the kernels one by one does not,
# everything after runs without graphs, and says so.
timeout 60 "${lopt[@]}" "$bin/mi_5w5s" info
look() { # ENV...: the 5w5s binary's bench, its JSON line in $work/look
  timeout "$check_s" "${lopt[@]}" "$@" "$bin/mi_5w5s" bench --iters 3 --warmup 1 |
    tee "$work/look"
}
if look; then
  # (A CUDA binary's cuda_graph is a string; other binaries' is null.)
  if grep -q '"cuda_graph": "' "$work/look" &&
     ! grep -q '"cuda_graph": "replayed' "$work/look"; then
    echo "!! its timed runs did not replay a CUDA graph: $(grep -o '"cuda_graph": "[^"]*"' "$work/look")"
  fi
elif look LOPT_CUDA_GRAPH=0; then
  echo "!! CUDA graphs fail here: everything below runs with LOPT_CUDA_GRAPH=0"
  lopt+=(LOPT_CUDA_GRAPH=0)
else
  echo "!! the 5w5s binary's bench fails, with CUDA graphs and without"
fi

stamp "1. correctness"
: > "$out/correctness.txt"
check() { # NAME EPISODE-FLAGS...: binary NAME's episode against ref/{ref,exact}_NAME.npz
  local name=$1
  shift
  rm -f "$work/got.npz" "$work/cmp"
  if (( $(left) < 5 )); then
    fails=$((fails + 1))
    echo "$name SKIPPED (past the deadline)" | tee -a "$out/correctness.txt"
    return
  fi
  # Three runs of the episode, each bit for bit the first: the second
  # records the kernel launches as a CUDA graph, the third replays it.
  run_check() { # ENV...: run and compare; status 0 when it passes
    rm -f "$work/got.npz" "$work/cmp"
    timeout -k 5 "$(cap "$check_s")" "${lopt[@]}" "$@" "$bin/$name" episode "${flags[@]}" \
      --repeat 3 --dump "$work/got.npz" > "$work/log" 2>&1
    local rc=$?
    (( rc == 124 || rc == 137 )) && echo "(timed out)" >> "$work/log"
    (( rc == 0 )) &&
      python3 "$here/compare.py" "$work/got.npz" "$bundle/ref/ref_$name.npz" \
        --exact "$bundle/ref/exact_$name.npz" > "$work/cmp"
  }
  local flags=("$@") graph label="$name${CHECK_ENV:+ ($CHECK_ENV)}"
  local envs=(${CHECK_ENV:-})
  if run_check "${envs[@]}"; then
    # (A CUDA binary says what became of its graph; "!!" where none replayed.)
    graph=$(grep -o 'CUDA graph: .*' "$work/log")
    [[ -n $graph && $graph != *replayed* ]] && graph+=" !!"
    [[ -n ${CHECK_ENV:-} ]] && graph+="; $(grep -o 'CUDA streams: .*' "$work/log")"
    echo "$label $(tail -1 "$work/cmp") [$graph]" | tee -a "$out/correctness.txt"
  else
    fails=$((fails + 1))
    { echo "$label FAIL [$(grep -o 'CUDA graph: .*' "$work/log")]"; tail -5 "$work/log"
      cat "$work/cmp" 2> /dev/null; } | tee -a "$out/correctness.txt"
    # Whether it is the graph's doing.
    if (( $(left) > 60 )) && run_check LOPT_CUDA_GRAPH=0; then
      echo "  ... and with LOPT_CUDA_GRAPH=0 it passes: $(tail -1 "$work/cmp")"
    else
      echo "  ... and fails with LOPT_CUDA_GRAPH=0 too (or no time was left)"
    fi | tee -a "$out/correctness.txt"
  fi
}
shopt -s nullglob # (a bundle without the tiny episodes: CELLS="")
for input in "$bundle"/ref/in_*.npz; do
  n=$(basename "$input" .npz)
  check "${n#in_}" --data "$input" --meta "$input"
done
for cfg in 5w1s 5w5s; do
  check "mi_$cfg" --seed 7
done
# The steps on several streams (StepStreams in Device.cpp; off by
# default): the same results, bit for bit on every run.
for cfg in 5w1s 5w5s; do
  CHECK_ENV=LOPT_CUDA_STREAMS=1 check "mi_$cfg" --seed 7
done
echo "correctness: $fails failing or skipped" | tee -a "$out/correctness.txt"

stamp "2. speed and memory"
: > "$out/bench.jsonl"
record() { # NAME CONFIG SECONDS -- COMMAND...: the command's JSON line and gpumem's, as one line
  local name=$1 cfg=$2 seconds; seconds=$(cap "$3"); shift 4
  if (( $(left) < 10 )); then
    echo "{\"impl\": \"$name\", \"config\": \"$cfg\", \"skipped\": \"past the deadline\"}" |
      tee -a "$out/bench.jsonl"
    return
  fi
  timeout -k 5 "$seconds" "$@" > "$work/json" 2> "$work/err"
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
    row["error"] = ("timed out; " if int(rc) in (124, 137) else "") + open(epath).read()[-500:]
print(json.dumps(row))
PY
}
: > "$out/profile.txt"
for cfg in 5w5s 5w1s; do
  if [[ $cfg == 5w1s ]]; then shots=1 steps=12 batch=5; else shots=5 steps=8 batch=25; fi
  args=(--ways 5 --shots $shots --queries 15 --size 84 --channels 3 --steps $steps
        --inner-batch $batch --iters $iters --warmup 5)
  record lopt $cfg 90 -- python3 "$here/gpumem.py" "${lopt[@]}" "$bin/mi_$cfg" bench \
    --iters $iters --warmup 5
  # The steps on several streams (StepStreams in Device.cpp; off by default).
  record lopt-streams $cfg 90 -- python3 "$here/gpumem.py" \
    env LOPT_CUDA_STREAMS=1 "${lopt[@]}" "$bin/mi_$cfg" bench --iters $iters --warmup 5
  # What replaying the kernel launches as a CUDA graph saves (Device.cpp).
  record lopt-no-graph $cfg 90 -- python3 "$here/gpumem.py" \
    env LOPT_CUDA_GRAPH=0 "${lopt[@]}" "$bin/mi_$cfg" bench --iters $iters --warmup 5
  # What the driver's cache of device allocations saves, what its
  # lowered stack limit saves, and what placing stages in the arena's free
  # ranges saves (Device.cpp).
  if [[ $cfg == 5w5s ]]; then
    record lopt-no-device-cache $cfg 90 -- python3 "$here/gpumem.py" \
      env LOPT_DEVICE_CACHE=0 "${lopt[@]}" "$bin/mi_$cfg" bench --iters $iters --warmup 5
    record lopt-no-stage-scratch $cfg 90 -- python3 "$here/gpumem.py" \
      env LOPT_STAGE_SCRATCH=0 "${lopt[@]}" "$bin/mi_$cfg" bench --iters $iters --warmup 5
    record lopt-default-stack $cfg 90 -- python3 "$here/gpumem.py" \
      env LOPT_CUDA_STACK_BYTES=1024 "${lopt[@]}" "$bin/mi_$cfg" bench --iters $iters --warmup 5
  fi
  # Where the time goes: each kernel waited for (slower than the timing above).
  if (( $(left) > 30 )); then
    echo "== mi_$cfg bench --profile" >> "$out/profile.txt"
    timeout "$(cap 60)" "${lopt[@]}" "$bin/mi_$cfg" bench --iters 5 --warmup 2 --profile 40 \
      >> "$out/profile.txt" 2>&1
  fi
  refs=" ${REFERENCES-pytorch-eager jax-jit} "
  [[ $refs == *" pytorch-eager "* ]] &&
  record pytorch-eager $cfg 120 -- python3 "$here/gpumem.py" python3 "$here/../torch_reference.py" \
    --device cuda --bn-momentum 0.9 "${args[@]}"
  # (JAX would otherwise take 75% of the GPU's memory at start.)
  [[ $refs == *" jax-jit "* ]] &&
  record jax-jit $cfg 150 -- env XLA_PYTHON_CLIENT_PREALLOCATE=false \
    python3 "$here/gpumem.py" python3 "$here/../jax_reference.py" --device gpu "${args[@]}"
done

# NCU=1: every kernel launch of one 5w5s meta-iteration timed by Nsight
# Compute (ncu.csv: its name, grid, block and duration), to see where a
# kernel's time goes launch by launch (bench --profile times whole kernels).
if (( ${NCU:-0} )); then
  ncu=$(command -v ncu)
  installed=(/opt/nvidia/nsight-compute/*/ncu) # (nullglob: none, none)
  [[ -z $ncu && ${#installed[@]} -gt 0 ]] && ncu=${installed[0]}
  if [[ -n $ncu ]] && (( $(left) > 60 )); then
    echo "== ncu ($ncu)"
    iteration=("${lopt[@]}" "$bin/mi_5w5s" bench --iters 1 --warmup 0)
    timeout "$(cap 120)" "$ncu" --csv --metrics gpu__time_duration.sum \
      "${iteration[@]}" > "$out/ncu.csv" 2> "$work/ncu.err"
    echo "ncu: status $?, $(wc -l < "$out/ncu.csv") lines"; tail -3 "$work/ncu.err"
    # Why the slowest kernels take their time: for the first launch of
    # each kernel name that matches one of NCU_DETAIL's regular
    # expressions (space-separated; REGEX@N: the launch after N matching
    # ones), its throughput against the peaks, occupancy, the warps' stall
    # reasons and the memory traffic (ncu-detail.csv, one ncu run each: a
    # few seconds). By default the NCU_TOP (10) kernels of the most time
    # in ncu.csv, each by its whole name (the names change with the code:
    # a fixed list named kernels that no longer existed).
    detail=${NCU_DETAIL-$(python3 - "$out/ncu.csv" "${NCU_TOP:-10}" <<'PY'
import collections, csv, re, sys
time = collections.Counter()
for row in csv.reader(open(sys.argv[1], errors="replace")):
    if len(row) > 14 and row[0].isdigit() and row[12] == "gpu__time_duration.sum":
        time[row[4]] += float(row[14].replace(",", ""))
print(" ".join("^" + re.escape(name) + "$" for name, _ in time.most_common(int(sys.argv[2]))))
PY
)}
    echo "ncu detail for: $detail"
    for entry in $detail; do
      k=${entry%@*} skip=0
      [[ $entry == *@* ]] && skip=${entry##*@}
      (( $(left) > 45 )) || { echo "ncu detail: no time left for $entry"; break; }
      timeout "$(cap 40)" "$ncu" --csv --page details -k "regex:$k" -s "$skip" -c 1 \
        --section SpeedOfLight --section Occupancy --section LaunchStats \
        --section WarpStateStats --section MemoryWorkloadAnalysis \
        --section ComputeWorkloadAnalysis \
        "${iteration[@]}" 2>> "$work/ncu.err" | grep '^"' >> "$out/ncu-detail.csv"
      echo "ncu detail $entry: status ${PIPESTATUS[0]}"
    done
  else
    echo "== ncu: not found, or no time left"
  fi
fi

# The CUDA context and the driver's own (what any process pays): a tiny
# episode's peak; and with CUDA's default stack of 1 KiB per thread, which
# the binaries lower to what their kernels need (Device.cpp).
if [[ -x $bin/tiny_sgd_first_order ]]; then
  record lopt-tiny-episode tiny 30 -- python3 "$here/gpumem.py" "${lopt[@]}" \
    "$bin/tiny_sgd_first_order" episode --seed 1
  record lopt-tiny-episode-default-stack tiny 30 -- python3 "$here/gpumem.py" \
    env LOPT_CUDA_STACK_BYTES=1024 "${lopt[@]}" "$bin/tiny_sgd_first_order" episode --seed 1
fi

if (( ${TRAIN:-1} )); then
  stamp "3. timed run: Mini-ImageNet 5-way 5-shot on the carried images"
  # Train for what is left but 80 s (the tests), at most TRAIN_SECONDS.
  seconds=$(( $(left) - 80 ))
  (( seconds > ${TRAIN_SECONDS:-120} )) && seconds=${TRAIN_SECONDS:-120}
  if (( seconds >= 20 )); then
    timeout -k 30 -s TERM "$seconds" "${lopt[@]}" "$bin/mi_5w5s" train \
      --data "$bundle/mini-imagenet" --episodes 1000000 --out "$work/run" \
      --val-every 500 --val-episodes 50 --save-every 500
    echo "train stopped after ${seconds} s (status $?)"
    tail -1 "$work/run/log.jsonl"
    cp "$work/run/log.jsonl" "$out/train.jsonl"
    cp "$work/run/curve.svg" "$out/curve.svg" 2> /dev/null
    checkpoint=$work/run/best.npz
    [[ -f $checkpoint ]] || checkpoint=$work/run/last.npz
    timeout "$(cap 70)" "${lopt[@]}" "$bin/mi_5w5s" test --data "$bundle/mini-imagenet" \
      --checkpoint "$checkpoint" --episodes "${TEST_EPISODES:-600}" --json "$out/test.json"
  else
    echo "no time left to train (${seconds} s)"
  fi
  if (( $(left) > 15 )); then
    timeout "$(cap 60)" "${lopt[@]}" "$bin/mi_5w5s" test --data "$bundle/mini-imagenet" \
      --checkpoint init --episodes "${TEST_EPISODES:-600}" --json "$work/init.json" &&
      cat "$work/init.json"
  fi
fi
stamp "done"
rm -rf "$work"
# Let tee write the end of run.log before the device tool collects $OUT.
exec >&- 2>&-
wait "$tee_pid"
exit $((fails > 0))
