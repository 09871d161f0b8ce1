#!/usr/bin/env python3
"""`loptc compare` in NumPy, for the GPU machine (where loptc does not run).

Every array of REF must be in GOT with the same shape, and its largest
difference relative to REF's largest magnitude at most --tolerance; with
--exact (the double-precision interpreter on the same inputs) an array also
passes when GOT is no further from the exact values than 10 times REF is
(tools/loptc/CompareCommand.cpp says why). Prints one line per array and the
verdict; exits 1 on failure.
"""
import argparse
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("got")
    ap.add_argument("ref")
    ap.add_argument("--exact")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    got, ref = np.load(args.got), np.load(args.ref)
    exact = np.load(args.exact) if args.exact else None
    ok, worst, worst_name = True, 0.0, ""
    for name in ref.files:
        r = ref[name].astype(np.float64)
        if name not in got.files or got[name].shape != r.shape:
            print(f"{name}: missing or of another shape in {args.got}  FAIL")
            ok = False
            continue
        g = got[name].astype(np.float64)
        scale = float(np.abs(r).max()) if r.size else 0.0
        d = np.abs(g - r)
        err = float("inf") if np.isnan(d).any() else (float(d.max()) if d.size else 0.0)
        rel = err / scale if scale > 0 else err
        passed = rel <= args.tolerance
        note = ""
        if not passed and exact is not None and name in exact.files:
            e = exact[name].astype(np.float64)
            err_got = float(np.abs(g - e).max())
            err_ref = float(np.abs(r - e).max())
            passed = err_got <= 10 * err_ref + args.tolerance * scale
            note = f"  (from exact: {err_got:.3e}, the reference {err_ref:.3e})"
        print(f"{name:40s} {str(list(r.shape)):16s} max |diff| {err:.3e}  "
              f"relative {rel:.3e}{note}{'' if passed else '  FAIL'}")
        ok &= passed
        if rel >= worst:
            worst, worst_name = rel, name
    print(f"{'PASS' if ok else 'FAIL'}: worst relative difference {worst:.3e} "
          f"({worst_name}), tolerance {args.tolerance:.1e}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
