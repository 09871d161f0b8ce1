#!/usr/bin/env python3
"""GPU kernel launches per meta-iteration, counted without a GPU.

Usage: launches.py HALIDE FUSED [--top N]
  HALIDE: output of `loptc FILE -emit=halide --target host-cuda`
  FUSED:  output of `loptc FILE -emit=fused`
For each program (meta_grad: a meta-training iteration; unrolled: a
meta-test episode), prints its steps (Halide pipeline calls), its GPU
launches (`halide_cuda_run` calls of each kernel times the steps that call
it), and the kernels with the most launches in all.
"""
import re
import sys
from collections import Counter


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
        print(f"{name}: {steps} steps, {sum(launches.values())} GPU launches")
        for k, n in launches.most_common(top):
            print(f"  {n:5d}  @{k} {names[k]}: {calls[k]} calls x {per_kernel[k]}")


if __name__ == "__main__":
    main(sys.argv)
