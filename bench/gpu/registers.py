#!/usr/bin/env python3
"""Registers, spills and occupancy of every CUDA kernel, without a GPU.

Usage: registers.py HALIDE [--arch sm_90] [--ptxas PATH] [--top N]
  HALIDE: output of `loptc FILE -emit=halide --target host-cuda`
Assembles each kernel's PTX (Halide's, for sm_80) with NVIDIA's ptxas for
`--arch` (default sm_90, the H100 and H200) and prints, per GPU kernel, the
registers a thread uses, the bytes it spills to local memory and its stack
frame (a thread's array that stays off the registers), and the warps per
SM that its registers allow at 256 threads per block (at most 64; 65,536
registers per SM, allocated in blocks of 8 per thread). The kernels with
the fewest warps come first. Exit status 1 when any kernel spills or has a
stack frame.

ptxas is not part of the build: `pip install nvidia-cuda-nvcc` installs it
(under site-packages/nvidia/cuda_nvcc/bin); by default the first of
--ptxas, $PTXAS, `ptxas` on PATH and /usr/local/cuda/bin/ptxas is used.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

REGISTERS_PER_SM = 65536
MAX_WARPS_PER_SM = 64
THREADS_PER_BLOCK = 256


def find_tool(name, given, package):
    """The first of `given`, $NAME, `name` on PATH and the CUDA toolkit's that
    can run; exits naming the pip `package` that installs it if none."""
    for candidate in (given, os.environ.get(name.upper()), shutil.which(name),
                      f"/usr/local/cuda/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit(f"{os.path.basename(sys.argv[0])}: no {name} "
             f"(pip install {package}, or --{name} PATH)")


def find_ptxas(given):
    return find_tool("ptxas", given, "nvidia-cuda-nvcc")


def kernels_ptx(halide):
    """(kernel, PTX module) of every kernel with GPU code."""
    start = "buffer cuda_gpu_source_kernels = {\n"
    for part in re.split(r"^// kernel @", halide, flags=re.M)[1:]:
        kernel = part.split("\n", 1)[0].strip()
        begin = part.find(start)
        if begin < 0:
            continue
        # The module ends with its last function's closing brace, just
        # after that function's "End function" comment.
        end = part.find("\n}\n", part.rfind("// -- End function"))
        yield kernel, part[begin + len(start):end + 3]


def warps(registers):
    per_thread = (max(registers, 1) + 7) // 8 * 8
    blocks = REGISTERS_PER_SM // (per_thread * THREADS_PER_BLOCK)
    return min(MAX_WARPS_PER_SM, blocks * THREADS_PER_BLOCK // 32)


def main(argv):
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("halide")
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("--ptxas")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv[1:])
    arch, top = args.arch, args.top
    ptxas = find_ptxas(args.ptxas)
    halide = open(args.halide, "rb").read().decode("latin1")
    rows = []  # (warps, registers, spill bytes, stack bytes, kernel, function)
    with tempfile.TemporaryDirectory() as tmp:
        for kernel, ptx in kernels_ptx(halide):
            path = os.path.join(tmp, kernel + ".ptx")
            with open(path, "w") as f:
                f.write(ptx)
            run = subprocess.run([ptxas, f"-arch={arch}", "-v", "-o", os.devnull, path],
                                 capture_output=True, text=True)
            if run.returncode:
                sys.exit(f"registers.py: ptxas failed on @{kernel}:\n{run.stderr}")
            function = None
            for line in run.stderr.splitlines():
                m = re.search(r"Compiling entry function '(\S+)'", line)
                if m:
                    function = m.group(1)
                    stack = spill = 0
                m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores", line)
                if m:
                    stack, spill = int(m.group(1)), int(m.group(2))
                m = re.search(r"Used (\d+) registers", line)
                if m and function:
                    r = int(m.group(1))
                    rows.append((warps(r), r, spill, stack, kernel, function))
    if not rows:
        sys.exit(f"registers.py: no CUDA kernels in {args.halide} "
                 "(from loptc FILE -emit=halide --target host-cuda?)")
    rows.sort(key=lambda row: (row[0], -row[1]))
    bad = [row for row in rows if row[2] or row[3]]
    print(f"{len(rows)} GPU kernels ({arch}): {len(bad)} spill or keep a stack frame; "
          f"registers {min(r[1] for r in rows)} to {max(r[1] for r in rows)}")
    print(" warps/SM  registers  spilled  stack  kernel")
    for w, r, spill, stack, kernel, function in (bad + [x for x in rows if x not in bad])[:top]:
        name = re.sub(r"^_kernel_|___block_id_x.*$", "", function)
        print(f"{w:9d}  {r:9d}  {spill:7d}  {stack:5d}  @{kernel} {name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
