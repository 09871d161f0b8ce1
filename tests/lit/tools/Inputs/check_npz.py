# Lists an .npz's arrays as "name dtype shape", sorted (used by lit tests).
import sys
import numpy as np

with np.load(sys.argv[1]) as archive:
    for name in sorted(archive.files):
        a = archive[name]
        print(name, a.dtype, a.shape)
