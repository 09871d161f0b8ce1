#!/bin/bash
# kill_and_resume.sh BINARY DATA RUN EPISODES: starts a long training run,
# kills it with SIGKILL once it has written a checkpoint and gone further,
# then resumes it to EPISODES episodes.
set -u
bin=$1 data=$2 run=$3 episodes=$4
flags="--data $data --val-every 5 --val-episodes 3 --save-every 2 --threads 1"
$bin train $flags --episodes 100000 --out "$run" > "$run.first.txt" 2>&1 &
pid=$!
for _ in $(seq 600); do
  if [ -e "$run/last.npz" ] && [ "$(grep -c meta_loss "$run/log.jsonl")" -ge 3 ]; then
    break
  fi
  sleep 0.05
done
kill -9 $pid || { echo "the run ended before it could be killed"; exit 1; }
wait $pid 2>/dev/null
echo "killed after $(grep -c meta_loss "$run/log.jsonl") logged episodes"
exec $bin train $flags --episodes "$episodes" --out "$run" --resume
