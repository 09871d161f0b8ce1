#!/usr/bin/env python3
"""Compares two lopt binaries of the same episode by alternating runs.

  bench/ab.py OLD NEW [--pairs 6] [--iters 2] [--warmup 1] [--threads 2]

Runs OLD, NEW, OLD, NEW, ..., OLD (`bench` each time) and prints, for each
NEW run, its time per meta-iteration over the mean of the two OLD runs
around it, and the median of those ratios. On a machine whose speed drifts
(the cloud VMs these results come from switch between two speeds about
1.3x apart, every few seconds to minutes), a ratio whose three runs ran at
one speed is the change's; one across a switch is an outlier, which the
median leaves out where switches are rare.
"""
import argparse
import statistics
import subprocess
import sys

from run_benchmarks import json_line


def ms_per_iter(binary, args):
    try:
        out = subprocess.run([binary, "bench", "--iters", str(args.iters),
                              "--warmup", str(args.warmup), "--threads", str(args.threads)],
                             check=True, capture_output=True, text=True).stdout
    except OSError as e:
        sys.exit("ab: error: cannot run %s: %s" % (binary, e.strerror))
    except subprocess.CalledProcessError as e:
        said = e.stderr.strip().splitlines()
        sys.exit("ab: error: %s bench failed (exit %d)%s" % (
            binary, e.returncode, ": " + said[-1] if said else ""))
    return json_line(out)["ms_per_iter"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    old = [ms_per_iter(args.old, args)]
    new = []
    for _ in range(args.pairs):
        new.append(ms_per_iter(args.new, args))
        old.append(ms_per_iter(args.old, args))
    ratios = [n / ((a + b) / 2) for n, a, b in zip(new, old, old[1:])]
    print("old ms: " + " ".join("%.0f" % t for t in old))
    print("new ms: " + " ".join("%.0f" % t for t in new))
    print("new / old: median %.3f (%s)" % (statistics.median(ratios),
                                          " ".join("%.3f" % r for r in ratios)))


if __name__ == "__main__":
    main()
