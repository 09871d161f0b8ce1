#!/usr/bin/env python3
"""GPU kernel launches per meta-iteration, counted without a GPU.

Usage: launches.py HALIDE FUSED [--top N]
  HALIDE: output of `loptc FILE -emit=halide --target host-cuda`
  FUSED:  output of `loptc FILE -emit=fused`
For each program (meta_grad: a meta-training iteration; unrolled: a
meta-test episode), prints its steps (Halide pipeline calls), its GPU
launches (`halide_cuda_run` calls of each kernel times the steps that call
it), and the kernels with the most launches in all. Where the steps are
planned on several streams (codegen/StreamPlan.h: `on stream S after step
J, ...` in -emit=fused), also the longest chain of launches that must run
one after another: each stream runs its steps in order, and a step starts
after the steps it waits for.
"""
import re
import sys
from collections import Counter


def longest_chain(program, per_kernel):
    """Launches on the longest chain of `program`'s stream plan."""
    ends, tail = [], {}
    for m in re.finditer(r"= @(k\d+)\(.*?\)(?: stages \d+ in \d+@\d+)?"
                         r" on stream (\d+)(?: after step ([\d, ]+))?\s*//", program):
        stream = int(m.group(2))
        start = tail.get(stream, 0)
        for j in (m.group(3) or "").split(","):
            if j.strip():
                start = max(start, ends[int(j)])
        ends.append(start + per_kernel[m.group(1)])
        tail[stream] = ends[-1]
    return max(ends, default=0)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    top = int(argv[argv.index("--top") + 1]) if "--top" in argv else 10
    halide = open(argv[1], "rb").read().decode("latin1")
    per_kernel = {}
    names = {}
    for part in re.split(r"^// kernel @", halide, flags=re.M)[1:]:
        kernel = part.split("\n", 1)[0].strip()
        per_kernel[kernel] = part.count("halide_cuda_run(")
        names[kernel] = re.search(r"module name=([^,]+),", part).group(1)
    fused = open(argv[2]).read()
    for program in re.split(r"^(?=program @)", fused, flags=re.M)[1:]:
        name = re.match(r"program @(\S+):", program).group(1)
        calls = Counter(re.findall(r"= @(k\d+)\(", program))
        steps = sum(calls.values())
        launches = Counter({k: n * per_kernel[k] for k, n in calls.items()})
        line = f"{name}: {steps} steps, {sum(launches.values())} GPU launches"
        if " on stream " in program:
            line += f", {longest_chain(program, per_kernel)} on the longest chain of the stream plan"
        print(line)
        for k, n in launches.most_common(top):
            print(f"  {n:5d}  @{k} {names[k]}: {calls[k]} calls x {per_kernel[k]}")


if __name__ == "__main__":
    main(sys.argv)
