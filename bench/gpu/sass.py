#!/usr/bin/env python3
"""The SASS instructions of every GPU kernel, counted without a GPU.

Usage: sass.py HALIDE FUSED [--arch sm_90] [--top N] [--kernel kN ...] [--ops N]
  HALIDE: output of `loptc FILE -emit=halide --target host-cuda`
  FUSED:  output of `loptc FILE -emit=fused --target host-cuda`
Assembles each kernel's PTX with NVIDIA's ptxas (as registers.py) and
disassembles it with cuobjdump (`pip install nvidia-cuda-cuobjdump`: its
`nvidia/cu13/bin/cuobjdump`; or --cuobjdump, $CUOBJDUMP, `cuobjdump` on
PATH; it runs `nvdisasm`, from nvidia-cuda-nvdisasm, found on PATH). For each launched function: its SASS instructions (static: both
sides of a branch, a loop's body once; LOOP marks a function with a
backward branch), the most frequent opcodes (--ops, 4), and its instructions times
its threads times its launches in a meta-iteration (the first program of
FUSED), by which the functions are sorted: an estimate of where the
instruction issue goes, exact for the straight-line kernels (element-wise
stages, a cell's thread per coordinate), a lower bound for loops.
On 2026-11-28 it showed a GPU sigmoid's exponential and division to be
more than half of the Mini-ImageNet cell's instructions (16,392 -> 9,640
with the device's fast forms) and batch norm's statistics at 84x84 about
50 instructions a term.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registers import find_ptxas, find_tool, kernels_ptx  # noqa: E402


def launches(halide, fused):
    """(kernel, function) -> (blocks, threads), and kernel -> calls."""
    grid, kernel = {}, None
    for line in halide.splitlines():
        m = re.match(r"// kernel @(k\d+)$", line)
        if m:
            kernel = m.group(1)
        m = re.search(r'halide_cuda_run\(cuda\[0\], "(\S+)", (\d+), 1, 1, (\d+), 1, 1', line)
        if m and kernel:
            grid[(kernel, m.group(1))] = (int(m.group(2)), int(m.group(3)))
    programs = fused.split("program @")
    if len(programs) < 2:
        sys.exit("sass.py: no program in FUSED (from loptc FILE -emit=fused?)")
    calls = collections.Counter(re.findall(r"= @(k\d+)\(", programs[1]))
    return grid, calls


def functions(sass):
    """(function, opcode counts, has a backward branch) per function. The
    branch to itself after the last EXIT and the NOPs that pad the function
    after it are never run, and not counted (12 of the 80 instructions
    counted before for a batch-norm backward's element-wise stage)."""
    name, ops, loop, ended = None, collections.Counter(), False, False
    for line in sass.splitlines() + ["Function : "]:
        m = re.search(r"Function : (\S*)", line)
        if m:
            if name:
                yield name, ops, loop
            name, ops, loop, ended = m.group(1), collections.Counter(), False, False
            continue
        m = re.match(r"\s+/\*([0-9a-f]+)\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)\s*(\S*)", line)
        if not (m and name) or ended:
            continue
        if m.group(2) == "BRA" and m.group(3).startswith("0x"):
            here, target = int(m.group(1), 16), int(m.group(3).rstrip(";"), 16)
            if target == here:
                ended = True
                continue
            loop = loop or target < here  # a loop: a branch back
        ops[m.group(2).split(".")[0]] += 1


def main(argv):
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("halide")
    parser.add_argument("fused")
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("--ptxas")
    parser.add_argument("--cuobjdump")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--kernel", action="append", default=[])
    parser.add_argument("--ops", type=int, default=4)
    args = parser.parse_args(argv[1:])
    ptxas = find_ptxas(args.ptxas)
    cuobjdump = find_tool("cuobjdump", args.cuobjdump, "nvidia-cuda-cuobjdump")
    halide = open(args.halide, "rb").read().decode("latin1")
    grid, calls = launches(halide, open(args.fused, "rb").read().decode("latin1"))
    rows = []  # (work, kernel, calls, function, blocks, threads, instructions, ops, loop)
    with tempfile.TemporaryDirectory() as tmp:
        for kernel, ptx in kernels_ptx(halide):
            kernel = "k" + kernel.lstrip("k")
            if args.kernel and kernel not in args.kernel:
                continue
            ptx_path, cubin = os.path.join(tmp, "k.ptx"), os.path.join(tmp, "k.cubin")
            with open(ptx_path, "w") as f:
                f.write(ptx)
            run = subprocess.run([ptxas, f"-arch={args.arch}", "-o", cubin, ptx_path],
                                 capture_output=True, text=True)
            if run.returncode:
                sys.exit(f"sass.py: ptxas failed on @{kernel}:\n{run.stderr}")
            run = subprocess.run([cuobjdump, "-sass", cubin], capture_output=True, text=True)
            if run.returncode:
                sys.exit(f"sass.py: cuobjdump failed on @{kernel}:\n{run.stderr}")
            for function, ops, loop in functions(run.stdout):
                blocks, threads = grid.get((kernel, function), (0, 0))
                n = sum(ops.values())
                rows.append((n * blocks * threads * calls[kernel], kernel, calls[kernel],
                             function, blocks, threads, n, ops, loop))
    if not rows:
        sys.exit(f"sass.py: no CUDA kernels in {args.halide}")
    rows.sort(key=lambda r: -r[0])
    print(f"{len(rows)} GPU functions ({args.arch}); instructions x threads x launches "
          f"a meta-iteration: {sum(r[0] for r in rows):.3g} in all")
    print("   work  kernel  calls  blocks x threads  SASS  loop  opcodes  function")
    for work, kernel, n_calls, function, blocks, threads, n, ops, loop in rows[:args.top]:
        name = re.sub(r"^_kernel_|___block_id_x.*$", "", function)
        top = " ".join(f"{op}:{c}" for op, c in ops.most_common(args.ops))
        print(f"{work:7.3g}  @{kernel:5} {n_calls:5}  {blocks:6} x {threads:3}  {n:6}  "
              f"{'LOOP' if loop else '    '}  {top}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
