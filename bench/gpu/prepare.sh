#!/usr/bin/env bash
# Prepares, on a machine WITHOUT a GPU (the project's build machine), what
# bench/gpu/run.sh needs on the GPU machine, in one folder that the device
# tool carries (build/ is git-ignored):
#   lib/          the shared libraries they link that are not the C and C++
#                 runtimes (Debian 12's libpng, libjpeg, libzip, ...)
#   bins.tar.xz   CUDA binaries: the 21 compiled-equals-interpreted episodes
#                 (tests/lit/codegen/Inputs/cells.lopt: every example cell x
#                 first_order, full, horizon=2) and Mini-ImageNet 5-way
#                 1-shot (T=12) and 5-shot (T=8) from examples/ravi_larochelle
#   ref/          inputs and reference results: for each tiny episode one
#                 seeded episode's inputs (a CPU binary's dump) and the
#                 interpreter's results on them in float and in double; for
#                 Mini-ImageNet the same for a seeded synthetic episode (the
#                 CUDA binary draws the same one from the seed)
#   mini-imagenet/  IMAGES images per class of ../shared/data/mini-imagenet
#                 (itself a 100-per-class subset), for the timed run: the
#                 whole subset would not fit the 64 MiB the device tool carries
# TARGET=host-opencl builds the same bundle for OpenCL, to try run.sh on a
# machine without a GPU (through pocl; slow).
# CELLS="" leaves the tiny episodes out (a quicker bundle for speed alone).
# VARIANT=NAME adds to an existing bundle the same CUDA binaries built from
# the working tree as it is now, as bins-NAME.tar.xz (and COMMIT-NAME), to
# compare code states in one device run (run.sh BINS=bins-NAME.tar.xz):
# the references, libraries and images are the bundle's.
# usage: bench/gpu/prepare.sh [BUNDLE=build/gpu-bundle]   (IMAGES=60, TARGET=host-cuda,
#        CELLS="metalstm sgd ...", VARIANT=)
set -euo pipefail
root=$(realpath "$(dirname "$0")/../..")
bundle=$(realpath -m "${1:-$root/build/gpu-bundle}")
images=${IMAGES:-60}
target=${TARGET:-host-cuda}
data=$(realpath -m "${LOPT_SHARED_DATA:-$root/../shared/data}/mini-imagenet")
cd "$root"
# A Python with NumPy (a pyenv python3 first in PATH may lack it).
py=
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import numpy' 2>/dev/null; then py=$candidate; break; fi
done
[[ -n $py ]] || { echo "prepare.sh: needs a python3 with NumPy" >&2; exit 1; }
[[ -f $data/train.csv ]] || { echo "prepare.sh: no Mini-ImageNet at $data" >&2; exit 1; }
scripts/build.sh loptc LoptDriver > /dev/null
loptc=build/bin/loptc
cache=build/kernel-cache
# A failing step says which and stops.
trap 'echo "prepare.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

cells=tests/lit/codegen/Inputs/cells.lopt
cell_names=${CELLS-metalstm sgd sgd_momentum adam meta_sgd l2l_lstm metalstm_no_loss}
truncations="first_order full horizon=2"
# The $target binaries of every episode (tiny_CELL_TRUNCATION, mi_5wNs),
# built from the tree as it is, into folder $1.
build_bins() {
  local c t shots
  for c in $cell_names; do
    for t in $truncations; do
      $loptc $cells --episode "tiny_$c" --truncation "$t" --target "$target" \
        --cache $cache -o "$1/tiny_${c}_${t/=/}" > /dev/null
    done
  done
  for shots in 1 5; do
    $loptc examples/ravi_larochelle/miniimagenet_5w${shots}s.lopt --target "$target" \
      --cache $cache -o "$1/mi_5w${shots}s"
  done
}
# Folder $1's bin/ as $2/bins$3.tar.xz, with the commit it was built from
# in $2/COMMIT$3 (run.sh prints it).
pack_bins() {
  tar -C "$1" -cJf "$2/bins$3.tar.xz" bin
  git -C "$root" describe --always --dirty > "$2/COMMIT$3" 2> /dev/null ||
    echo unknown > "$2/COMMIT$3"
}

variant=${VARIANT:-}
if [[ -n $variant ]]; then
  [[ -f $bundle/bins.tar.xz ]] || { echo "prepare.sh: VARIANT needs a bundle at $bundle" >&2; exit 1; }
  rm -rf "$bundle/variant.tmp"
  mkdir -p "$bundle/variant.tmp/bin"
  build_bins "$bundle/variant.tmp/bin"
  pack_bins "$bundle/variant.tmp" "$bundle" "-$variant"
  rm -rf "$bundle/variant.tmp"
  echo "prepared bins-$variant.tar.xz"
  exit 0
fi

rm -rf "$bundle.tmp"
mkdir -p "$bundle.tmp"/{bin,ref,cpu}
b=$bundle.tmp
build_bins "$b/bin"
seed=0
for c in $cell_names; do
  for t in $truncations; do
    seed=$((seed + 1))
    n=tiny_${c}_${t/=/}
    ep=(--episode "tiny_$c" --truncation "$t")
    $loptc $cells "${ep[@]}" --cache $cache -o "$b/cpu/$n" > /dev/null
    "$b/cpu/$n" episode --seed $seed --dump "$b/ref/in_$n.npz" > /dev/null
    $loptc episode $cells "${ep[@]}" --data "$b/ref/in_$n.npz" --meta "$b/ref/in_$n.npz" \
      --dump "$b/ref/ref_$n.npz" > /dev/null
    $loptc episode $cells "${ep[@]}" --data "$b/ref/in_$n.npz" --meta "$b/ref/in_$n.npz" \
      --precision double --dump "$b/ref/exact_$n.npz" > /dev/null
    echo "prepared $n"
  done
done
for shots in 1 5; do
  src=examples/ravi_larochelle/miniimagenet_5w${shots}s.lopt
  n=mi_5w${shots}s
  $loptc $src --cache $cache -o "$b/cpu/$n"
  # A seeded synthetic episode (the GPU binary draws the same one from the
  # seed), and the interpreter's results on it in float and in double.
  "$b/cpu/$n" episode --seed 7 --dump "$b/cpu/in.npz" > /dev/null
  $loptc episode $src --data "$b/cpu/in.npz" --meta "$b/cpu/in.npz" \
    --dump "$b/cpu/ref.npz" > /dev/null
  $loptc episode $src --data "$b/cpu/in.npz" --meta "$b/cpu/in.npz" \
    --precision double --dump "$b/cpu/exact.npz" > /dev/null
  # Results only (the inputs are 10 MB).
  for kind in ref exact; do
    "$py" - "$b/cpu/$kind.npz" "$b/ref/${kind}_$n.npz" <<'PY'
import sys, numpy as np
z = np.load(sys.argv[1])
keep = {k: z[k] for k in z.files
        if not k.startswith(("meta/", "state/", "support_", "query_x", "query_y"))}
np.savez(sys.argv[2], **keep)
PY
  done
  echo "prepared $n"
done
# The shared libraries the binaries link beyond the C and C++ runtimes
# (libpng, libjpeg, libzip and theirs: Debian 12's sonames, which the GPU
# machine's system may lack); run.sh puts them on the binaries' library path.
mkdir -p "$b/lib"
ldd "$b/bin/mi_5w5s" | awk '$3 ~ /^\// { print $3 }' |
  grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt)\.so' |
  xargs -r cp -L -t "$b/lib"
pack_bins "$b" "$b" ""
rm -rf "$b/bin" "$b/cpu"

# The data subset: the first $images images of every class, in CSV order.
mkdir -p "$b/mini-imagenet/images"
for split in train val test; do
  awk -F, -v n="$images" 'NR == 1 || ++seen[$2] <= n' "$data/$split.csv" > "$b/mini-imagenet/$split.csv"
  tail -n +2 "$b/mini-imagenet/$split.csv" | cut -d, -f1 | sed "s|^|$data/images/|" |
    xargs cp -t "$b/mini-imagenet/images"
done
rm -rf "$bundle"
mv "$b" "$bundle"
du -sh "$bundle" "$bundle"/*
