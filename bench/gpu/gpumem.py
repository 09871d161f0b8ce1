#!/usr/bin/env python3
"""Runs a command and reports the peak GPU memory its process held, as the
driver saw it (NVML, every 5 ms): the same measure for lopt, PyTorch and JAX,
CUDA context included. Prints the command's output, then one JSON line on
stderr: {"peak_process_mb": the process's peak (0 where NVML cannot see the
process, as in some containers), "peak_device_delta_mb": the peak of the
device's used memory above what was used before the command started};
exits with the command's status.

usage: gpumem.py COMMAND [ARGS...]
"""
import json
import subprocess
import sys
import threading
import time

try:
    import pynvml
except ImportError:  # no NVML bindings: run the command, measure nothing
    pynvml = None


def main():
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    except Exception as e:  # noqa: BLE001 (no NVML, no driver, no GPU)
        print(f"gpumem.py: no NVML ({e}); not measuring", file=sys.stderr)
        sys.exit(subprocess.call(sys.argv[1:]))
    baseline = pynvml.nvmlDeviceGetMemoryInfo(handle).used
    proc = subprocess.Popen(sys.argv[1:])
    peak = delta = 0
    done = threading.Event()

    def poll():
        nonlocal peak, delta
        while not done.is_set():
            try:
                used = pynvml.nvmlDeviceGetMemoryInfo(handle).used
                delta = max(delta, used - baseline)
                for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                    if p.pid == proc.pid and p.usedGpuMemory:
                        peak = max(peak, p.usedGpuMemory)
            except pynvml.NVMLError:
                pass
            time.sleep(0.005)

    t = threading.Thread(target=poll)
    t.start()
    rc = proc.wait()
    done.set()
    t.join()
    print(json.dumps({"peak_process_mb": round(peak / 2**20, 1),
                      "peak_device_delta_mb": round(delta / 2**20, 1)}),
          file=sys.stderr)
    sys.exit(rc)


if __name__ == "__main__":
    main()
