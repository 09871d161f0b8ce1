#!/usr/bin/env bash
# Creates bench/.venv with a CPU-usable PyTorch 2.x (from PyPI) and numpy, for
# bench/torch_reference.py. Idempotent: a working venv is left as it is.
#
# PyPI's only Linux x86_64 torch wheels are CUDA builds that pull ~2.5 GB of
# nvidia-* wheels. We avoid them: torch is installed with --no-deps plus its
# pure-Python dependencies, and the CUDA shared libraries it links to are
# replaced by tiny generated stubs (bench/cuda_stubs.py) that only satisfy the
# dynamic loader; torch then runs as a CPU-only build (torch.cuda.is_available()
# is False). If that does not work, we fall back to the normal full install.
#
# Environment: TORCH_SPEC (default torch==2.15.0), PYTHON (default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
TORCH_SPEC="${TORCH_SPEC:-torch==2.15.0}"
PYTHON="${PYTHON:-python3}"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

# Smoke test: import torch, run a conv forward+backward on CPU.
check() {
  "$PY" - <<'EOF' 2>/dev/null
import numpy, torch
import torch.nn.functional as F
x = torch.randn(2, 3, 8, 8)
w = torch.randn(4, 3, 3, 3, requires_grad=True)
F.conv2d(x, w, padding=1).square().sum().backward()
assert w.grad is not None and torch.isfinite(w.grad).all()
assert not torch.cuda.is_available() or torch.cuda.device_count() >= 0
EOF
}

report() {
  "$PY" -c 'import torch, numpy; print("torch", torch.__version__, "| numpy", numpy.__version__, "| cuda available:", torch.cuda.is_available())'
  du -sh "$VENV" | awk '{print "venv size:", $1}'
}

if check; then echo "bench/.venv already set up"; report; exit 0; fi

SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# Deletes the stub libraries listed in the manifest(s) cuda_stubs.py wrote.
remove_stubs() {
  [ -d "$SITE/nvidia" ] || return 0
  find "$SITE/nvidia" -name TORCH_CUDA_STUBS_MANIFEST | while read -r m; do
    while read -r f; do [ -n "$f" ] && rm -f "$(dirname "$m")/$f"; done < "$m"
    rm -f "$m"
  done
}

echo "== installing numpy and torch's pure-Python dependencies"
"${PIP[@]}" numpy filelock typing-extensions sympy networkx jinja2 fsspec 'setuptools>=77'

echo "== installing $TORCH_SPEC without its CUDA dependencies"
"${PIP[@]}" --no-deps "$TORCH_SPEC"

if ! check && command -v gcc >/dev/null && command -v nm >/dev/null && command -v readelf >/dev/null; then
  echo "== generating CUDA stub libraries"
  remove_stubs
  "$PY" "$HERE/cuda_stubs.py" "$SITE/torch"
fi

if ! check; then
  echo "== lean install failed; falling back to the full install (with nvidia-* wheels)"
  remove_stubs
  "${PIP[@]}" "$TORCH_SPEC"
fi

if ! check; then echo "error: torch does not work in $VENV" >&2; exit 1; fi
report
