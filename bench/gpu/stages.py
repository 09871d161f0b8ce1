#!/usr/bin/env python3
"""The stages each CUDA kernel stores on the device, against the plan.

Usage: stages.py HALIDE FUSED [--top N]
  HALIDE: output of `loptc FILE -emit=halide --target host-cuda`
  FUSED:  output of `loptc FILE -emit=fused --target host-cuda`
A CUDA binary's kernel call stores its stages (the buffers Halide
allocates on the device only: `allocate NAME[TYPE * EXTENTS] if (uint1)0`
in the lowered statement) in the range of the arena that its step leaves
free; the memory plan makes that range at least the bytes loptc counted
for the kernel (`stages B in R@OFFSET` on its steps in -emit=fused). For
each kernel: the bytes its statement allocates (each rounded up to 256
bytes, as the driver places them), the most of those held at once, and
the bytes planned. Exits 1 when a kernel allocates more than was planned
(its stages would go beside the arena) or a step's range is smaller than
planned.
"""
import argparse
import re
import sys

BYTES = {"float32": 4, "float64": 8, "int32": 4, "uint32": 4, "int16": 2,
         "uint16": 2, "int8": 1, "uint8": 1, "bool": 1, "uint1": 1}
ALIGN = 256


def allocations(halide):
    """Per kernel ("k12"): (bytes allocated in all, most held at once)."""
    out = {}
    for part in re.split(r"^// kernel @", halide, flags=re.M)[1:]:
        kernel = part.split("\n", 1)[0].strip()  # as launches.py names it
        total = peak = 0
        live = {}
        for line in part.splitlines():
            m = re.match(r"\s*allocate (\S+)\[(\w+) \* ([\d *]+)\] if \(uint1\)0",
                         line)
            if m:
                n = 1
                for extent in m.group(3).split("*"):
                    n *= int(extent)
                size = (n * BYTES[m.group(2)] + ALIGN - 1) // ALIGN * ALIGN
                live[m.group(1)] = size
                total += size
                peak = max(peak, sum(live.values()))
                continue
            m = re.match(r"\s*free (\S+)\s*$", line)
            if m:
                live.pop(m.group(1), None)
        out[kernel] = (total, peak)
    return out


def planned(fused):
    """Per kernel: the stage bytes planned; and the steps whose range is
    smaller than that."""
    plan, short = {}, []
    for line in fused.splitlines():
        m = re.search(r"= @(k\d+)\(.*\) stages (\d+) in (\d+)@(\d+)", line)
        if m:
            plan[m.group(1)] = int(m.group(2))
            if int(m.group(3)) < int(m.group(2)):
                short.append(line.strip()[:120])
    return plan, short


def main(argv):
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("halide")
    parser.add_argument("fused")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv[1:])
    top = args.top
    with open(args.halide, encoding="latin-1") as f:
        allocated = allocations(f.read())
    with open(args.fused) as f:
        plan, short = planned(f.read())
    over = [k for k, (total, _) in allocated.items() if total > plan.get(k, 0)]
    mib = 1 << 20
    print("%d CUDA kernels: %.2f MiB of stages in all (%.2f MiB held at once, "
          "summed over kernels), %.2f MiB planned"
          % (len(allocated), sum(t for t, _ in allocated.values()) / mib,
             sum(p for _, p in allocated.values()) / mib,
             sum(plan.get(k, 0) for k in allocated) / mib))
    ranked = sorted(allocated.items(), key=lambda kv: -kv[1][0])
    for kernel, (total, peak) in ranked[:top]:
        print("  @%-4s %8.2f MiB allocated, %8.2f at once, %8.2f planned"
              % (kernel, total / mib, peak / mib, plan.get(kernel, 0) / mib))
    for kernel in over:
        print("error: @%s allocates %d bytes of stages, %d planned"
              % (kernel, allocated[kernel][0], plan.get(kernel, 0)))
    for line in short:
        print("error: a step's range is smaller than its stages: " + line)
    print("%d kernels allocate more than planned, %d steps' ranges are short"
          % (len(over), len(short)))
    return 1 if over or short else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
