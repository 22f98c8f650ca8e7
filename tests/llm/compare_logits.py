#!/usr/bin/python3
"""compare_logits.py A B VOCAB TOL: two float32 logit dumps (one row of VOCAB per
step) agree when max |a - b| <= TOL * max(1, max |a|); prints the worst difference."""
import sys

import numpy as np

a = np.fromfile(sys.argv[1], "<f4")
b = np.fromfile(sys.argv[2], "<f4")
vocab, tol = int(sys.argv[3]), float(sys.argv[4])
if a.size == 0 or a.size != b.size or a.size % vocab:
    print("compare_logits: sizes differ (%d, %d floats)" % (a.size, b.size))
    sys.exit(1)
scale = max(1.0, float(np.abs(a).max()))
diff = float(np.abs(a - b).max())
print("max |diff| %.3g (scale %.3g, tolerance %.3g)" % (diff, scale, tol * scale))
sys.exit(0 if np.isfinite(diff) and diff <= tol * scale else 1)
