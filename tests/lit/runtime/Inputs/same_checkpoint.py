"""Exits 0 when two checkpoints (.npz) hold the same arrays byte for byte,
apart from the wall time (train/elapsed_s). No NumPy needed."""
import sys
import zipfile

a, b = (zipfile.ZipFile(p) for p in sys.argv[1:3])
skip = {"train/elapsed_s.npy"}
names = sorted((set(a.namelist()) | set(b.namelist())) - skip)
bad = [n for n in names if
       (n not in a.namelist() or n not in b.namelist() or a.read(n) != b.read(n))]
print("%d arrays, %d differ %s" % (len(names), len(bad), " ".join(bad)))
sys.exit(1 if bad else 0)
