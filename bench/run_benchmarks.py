#!/usr/bin/env python3
"""Benchmarks lopt against the PyTorch reference on this machine, in one run.

For each configuration (Mini-ImageNet 5-way 1-shot and 5-shot at 84x84,
Omniglot 5-way 1-shot at 28x28, all with the Ravi & Larochelle meta-LSTM):
  1. loptc compiles the example description to a standalone binary;
  2. the binary's `bench` times meta-iterations (episode, first-order
     meta-gradient, Adam) on synthetic data of the episode's shapes;
  3. bench/torch_reference.py times the same meta-iteration in eager PyTorch,
     same shapes, same thread count;
and the machine's FMA peak is measured (bench/fma_peak.cpp). Steps 2 and 3
alternate for --rounds rounds: the speed-up is the median of the rounds'
(each round's two runs are next to each other, so a machine whose speed
drifts between runs, as cloud VMs' does, moves both). GFLOP/s are the lopt
FLOP count of one meta-iteration (the same work for both) over the median
time. Results go to bench/results/<date>-<host>[-N].{json,md} (-N: a new
file for each later run of the day).

  bench/run_benchmarks.py [--threads 2] [--iters 5] [--rounds 3]
                          [--configs omniglot_5w1s,...] [--skip-torch]

Needs a build (scripts/build.sh) and, for PyTorch, bench/setup_venv.sh (run
on demand).
"""
import argparse
import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOPTC = os.path.join(ROOT, "build", "bin", "loptc")
VENV_PY = os.path.join(HERE, ".venv", "bin", "python")

# name: (description, torch_reference.py flags)
CONFIGS = {
    "miniimagenet_5w1s": (
        "examples/ravi_larochelle/miniimagenet_5w1s.lopt",
        ["--shots", "1", "--size", "84", "--channels", "3", "--steps", "12",
         "--inner-batch", "5", "--bn-momentum", "0.9"]),
    "miniimagenet_5w5s": (
        "examples/ravi_larochelle/miniimagenet_5w5s.lopt",
        ["--shots", "5", "--size", "84", "--channels", "3", "--steps", "8",
         "--inner-batch", "25", "--bn-momentum", "0.95"]),
    "omniglot_5w1s": (
        "examples/omniglot/omniglot_5w1s.lopt",
        ["--shots", "1", "--size", "28", "--channels", "1", "--steps", "12",
         "--inner-batch", "5", "--bn-momentum", "0.9"]),
}


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def json_line(text):
    for line in text.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in:\n" + text)


def median_round(runs, key):
    """The run whose `key` is the median (the lower middle of an even count)."""
    return sorted(runs, key=lambda r: r[key])[(len(runs) - 1) // 2]


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"host": socket.gethostname(), "cpu": model,
            "cores": os.cpu_count(), "kernel": platform.release()}


def fma_peak(threads, workdir):
    exe = os.path.join(workdir, "fma_peak")
    run(["c++", "-O3", "-march=native", "-std=c++17", "-pthread",
         os.path.join(HERE, "fma_peak.cpp"), "-o", exe])
    return json_line(run([exe, str(threads)]).stdout)["gflops"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()

    work = os.path.join(HERE, ".work")
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    if not os.path.exists(LOPTC):
        sys.exit("run_benchmarks: error: %s is missing; run scripts/build.sh" % LOPTC)
    if not args.skip_torch and not os.path.exists(VENV_PY):
        subprocess.run([os.path.join(HERE, "setup_venv.sh")], check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))

    date = datetime.datetime.now(datetime.timezone.utc)
    report = {"date": date.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
              "threads": args.threads, "iters": args.iters, "rounds": args.rounds,
              "fma_peak_gflops": fma_peak(args.threads, work), "configs": {}}
    if not args.skip_torch:
        report["torch"] = run([VENV_PY, "-c", "import torch; print(torch.__version__)"]).stdout.strip()

    for name in args.configs.split(","):
        desc, torch_flags = CONFIGS[name]
        exe = os.path.join(work, name)
        build = run([LOPTC, os.path.join(ROOT, desc), "-o", exe,
                     "--cache", os.path.join(HERE, ".cache")])
        lopts, torches = [], []
        for _ in range(max(1, args.rounds)):
            lopts.append(json_line(run([exe, "bench", "--iters", str(args.iters),
                                        "--warmup", str(args.warmup),
                                        "--threads", str(args.threads)]).stdout))
            if not args.skip_torch:
                torches.append(json_line(run(
                    [VENV_PY, os.path.join(HERE, "torch_reference.py"), *torch_flags,
                     "--iters", str(args.iters), "--warmup", str(args.warmup),
                     "--threads", str(args.threads)], env=env).stdout))
        # Each side's figures from its median round; the rounds' times kept.
        lopt = dict(median_round(lopts, "ms_per_iter"),
                    ms_per_iter_rounds=[r["ms_per_iter"] for r in lopts])
        entry = {"description": desc, "build": build.stdout.strip(), "lopt": lopt}
        gflop = lopt["gflop_per_iter"]
        lopt["peak_fraction"] = lopt["gflops"] / report["fma_peak_gflops"]
        if torches:
            torch = dict(median_round(torches, "ms_per_iter_median"),
                         ms_per_iter_rounds=[r["ms_per_iter_median"] for r in torches])
            torch["gflops"] = gflop * 1e3 / torch["ms_per_iter_median"]
            entry["torch"] = torch
            ratios = [t["ms_per_iter_median"] / l["ms_per_iter"]
                      for l, t in zip(lopts, torches)]
            entry["speedup_rounds"] = ratios
            entry["speedup_vs_torch"] = statistics.median(ratios)
        report["configs"][name] = entry
        print(json.dumps({name: entry}), flush=True)

    stem = os.path.join(args.out, "%s-%s" % (date.strftime("%Y-%m-%d"),
                                            report["machine"]["host"]))
    # Never over an earlier run's files (same day, same host name).
    base, n = stem, 1
    while os.path.exists(stem + ".json") or os.path.exists(stem + ".md"):
        n += 1
        stem = "%s-%d" % (base, n)
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(markdown(report))
    print("wrote %s.json and %s.md" % (stem, stem))


def markdown(r):
    m = r["machine"]
    lines = [
        "# lopt vs PyTorch, %s" % r["date"], "",
        "Machine: %s, %d cores (%s). Threads: %d. FMA peak measured: %.1f GFLOP/s. "
        "Median of %d meta-iterations after warm-up, in each of %d rounds that "
        "alternate lopt and PyTorch; times are the median round's, the speed-up "
        "the median of the rounds' (their range in brackets). PyTorch %s (eager, "
        "CPU)." % (
            m["cpu"], m["cores"], m["host"], r["threads"], r["fma_peak_gflops"],
            r["iters"], r.get("rounds", 1), r.get("torch", "not run")), "",
        "| episode | GFLOP / iter | lopt ms | lopt GFLOP/s (% of peak) | lopt peak RSS MB "
        "| PyTorch ms | PyTorch GFLOP/s | PyTorch peak RSS MB | speed-up |",
        "|---|---|---|---|---|---|---|---|---|"]
    for name, e in r["configs"].items():
        l, t = e["lopt"], e.get("torch")
        lines.append("| %s | %.2f | %.0f | %.1f (%.0f%%) | %.0f | %s | %s | %s | %s |" % (
            name, l["gflop_per_iter"], l["ms_per_iter"], l["gflops"],
            100 * l["peak_fraction"], l["peak_rss_mb"],
            "%.0f" % t["ms_per_iter_median"] if t else "-",
            "%.1f" % t["gflops"] if t else "-",
            "%.0f" % t["peak_rss_mb"] if t else "-",
            "%.2fx (%.2f-%.2f)" % (e["speedup_vs_torch"], min(e["speedup_rounds"]),
                                   max(e["speedup_rounds"])) if t else "-"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
