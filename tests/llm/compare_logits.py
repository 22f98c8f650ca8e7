#!/usr/bin/python3
"""compare_logits.py A B VOCAB TOL [TOKENS_A TOKENS_B]

Two runs agree when, step by step, max |a - b| <= TOL * max(1, max |a|) over the
float32 logit dumps (one row of VOCAB per generated token) and the greedy tokens
(text files of ids) are the same. Tokens may part only at a near-tie: at the
first step where they differ, the logits still agree and the two tokens' logits
in A are within that tolerance of each other; the steps after are fed different
tokens and are not compared. Prints what it found; exit 1 on disagreement."""
import sys

import numpy as np

a = np.fromfile(sys.argv[1], "<f4")
b = np.fromfile(sys.argv[2], "<f4")
vocab, tol = int(sys.argv[3]), float(sys.argv[4])
if a.size == 0 or a.size != b.size or a.size % vocab:
    print("compare_logits: sizes differ (%d, %d floats)" % (a.size, b.size))
    sys.exit(1)
a, b = a.reshape(-1, vocab), b.reshape(-1, vocab)
ta = tb = None
if len(sys.argv) > 6:
    ta = [int(t) for t in open(sys.argv[5]).read().split()]
    tb = [int(t) for t in open(sys.argv[6]).read().split()]
    if len(ta) != len(a) or len(tb) != len(b):
        print("compare_logits: token counts differ from the dumps")
        sys.exit(1)
limit = tol * max(1.0, float(np.abs(a).max()))
worst = 0.0
for i in range(len(a)):
    d = float(np.abs(a[i] - b[i]).max())
    worst = max(worst, d) if np.isfinite(d) else float("inf")
    if not d <= limit:
        print("step %d: max |diff| %.3g exceeds the tolerance %.3g" % (i, d, limit))
        sys.exit(1)
    if ta is not None and ta[i] != tb[i]:
        gap = abs(float(a[i][ta[i]] - a[i][tb[i]]))
        if gap <= limit:
            print("max |diff| %.3g (tolerance %.3g); step %d: tokens %d and %d part at a near-tie (gap %.3g), rest not compared"
                  % (worst, limit, i, ta[i], tb[i], gap))
            sys.exit(0)
        print("step %d: tokens %d and %d differ with a logit gap of %.3g > %.3g" % (i, ta[i], tb[i], gap, limit))
        sys.exit(1)
print("max |diff| %.3g (tolerance %.3g)" % (worst, limit))
sys.exit(0)
