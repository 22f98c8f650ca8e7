#!/usr/bin/python3
"""Decode ggml's block formats in numpy, from the layouts alone (an
implementation independent of llm's C), on random block bytes, and compare
with what llm's llm_dequantize_row makes of the same bytes
(tests/llm/test_quant dequant TYPE IN OUT). Exit 0 when every type agrees."""
import subprocess
import sys
import tempfile
import os
import numpy as np

HELPER = sys.argv[1] if len(sys.argv) > 1 else "tests/llm/test_quant"

def f16(b, o):
    return b[:, o:o + 2].copy().view(np.float16).astype(np.float32)[:, 0]

def nib(qs):  # 16 bytes -> 32 levels: low nibbles, then high
    return np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.int32)

def fifth(qh4):  # 4 bytes little-endian -> bit e for element e
    h = qh4.copy().view("<u4")[:, 0].astype(np.uint64)
    return ((h[:, None] >> np.arange(32, dtype=np.uint64)) & 1).astype(np.int32)

def two_bit(qs):  # 64 bytes -> 256 levels, e = 128 n + 32 j + l in bits 2j of qs[32 n + l]
    q = qs.reshape(-1, 2, 1, 32) >> (2 * np.arange(4)).reshape(1, 1, 4, 1)
    return (q & 3).reshape(-1, 256).astype(np.int32)

def k4_scales(s):  # 12 bytes -> 8 scales, 8 minimums (6 bits each)
    s = s.astype(np.int32)
    sc = np.zeros((s.shape[0], 8), np.int32)
    mn = np.zeros_like(sc)
    for j in range(8):
        if j < 4:
            sc[:, j] = s[:, j] & 63
            mn[:, j] = s[:, j + 4] & 63
        else:
            sc[:, j] = (s[:, j + 4] & 15) | ((s[:, j - 4] >> 6) << 4)
            mn[:, j] = (s[:, j + 4] >> 4) | ((s[:, j] >> 6) << 4)
    return sc, mn

def dec(name, b):
    nb = b.shape[0]
    if name == "Q8_0":
        return f16(b, 0)[:, None] * b[:, 2:34].view(np.int8).astype(np.float32)
    if name == "Q4_0":
        return f16(b, 0)[:, None] * (nib(b[:, 2:18]) - 8)
    if name == "Q4_1":
        return f16(b, 0)[:, None] * nib(b[:, 4:20]) + f16(b, 2)[:, None]
    if name == "Q5_0":
        return f16(b, 0)[:, None] * (nib(b[:, 6:22]) + 16 * fifth(b[:, 2:6]) - 16)
    if name == "Q5_1":
        return f16(b, 0)[:, None] * (nib(b[:, 8:24]) + 16 * fifth(b[:, 4:8])) + f16(b, 2)[:, None]
    if name == "Q2_K":
        q = two_bit(b[:, 16:80])
        s = b[:, 0:16].astype(np.int32)
        sc, mn = np.repeat(s & 15, 16, axis=1), np.repeat(s >> 4, 16, axis=1)
        return f16(b, 80)[:, None] * sc * q - f16(b, 82)[:, None] * mn
    if name == "Q3_K":
        q = two_bit(b[:, 32:96])
        hm = b[:, 0:32].astype(np.int32)
        hb = (hm[:, None, :] >> np.arange(8).reshape(1, 8, 1)) & 1  # [c, l]: bit c of hmask[l]
        q = q - 4 * (1 - hb.reshape(nb, 256))
        s = b[:, 96:108].astype(np.int32)
        sc = np.zeros((nb, 16), np.int32)
        for k in range(16):
            low = s[:, k] & 15 if k < 8 else s[:, k - 8] >> 4
            high = (s[:, 8 + k % 4] >> (2 * (k // 4))) & 3
            sc[:, k] = (low | (high << 4)) - 32
        return f16(b, 108)[:, None] * np.repeat(sc, 16, axis=1) * q
    if name in ("Q4_K", "Q5_K"):
        sc, mn = k4_scales(b[:, 4:16])
        qs = b[:, 48:176] if name == "Q5_K" else b[:, 16:144]
        q = np.zeros((nb, 256), np.int32)
        for j in range(8):
            q[:, 32 * j:32 * j + 32] = (qs[:, 32 * (j // 2):32 * (j // 2) + 32] >> (4 * (j % 2))) & 15
            if name == "Q5_K":
                q[:, 32 * j:32 * j + 32] += 16 * ((b[:, 16:48] >> j) & 1)
        d, dmin = f16(b, 0)[:, None], f16(b, 2)[:, None]
        return (d * np.repeat(sc, 32, axis=1)) * q - dmin * np.repeat(mn, 32, axis=1)
    if name == "Q6_K":
        ql, qh = b[:, 0:128].astype(np.int32), b[:, 128:192].astype(np.int32)
        q = np.zeros((nb, 256), np.int32)
        for e0 in range(0, 256, 32):
            n, k = e0 // 128, (e0 % 128) // 32
            lo = (ql[:, 64 * n + 32 * (k & 1):64 * n + 32 * (k & 1) + 32] >> (4 if k >= 2 else 0)) & 15
            hi = (qh[:, 32 * n:32 * n + 32] >> (2 * k)) & 3
            q[:, e0:e0 + 32] = (lo | (hi << 4)) - 32
        sc = b[:, 192:208].view(np.int8).astype(np.int32)
        return f16(b, 208)[:, None] * np.repeat(sc, 16, axis=1) * q
    raise ValueError(name)

# name: (block bytes, offsets of fp16 fields)
TYPES = {"Q8_0": (34, [0]), "Q4_0": (18, [0]), "Q4_1": (20, [0, 2]), "Q5_0": (22, [0]), "Q5_1": (24, [0, 2]),
         "Q2_K": (84, [80, 82]), "Q3_K": (110, [108]), "Q4_K": (144, [0, 2]), "Q5_K": (176, [0, 2]),
         "Q6_K": (210, [208])}

GGML_IDS = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q2_K": 10, "Q3_K": 11, "Q4_K": 12,
             "Q5_K": 13, "Q6_K": 14}
BLOCK = {k: (256 if k.endswith("_K") else 32) for k in TYPES}


def dequant(raw, name, n):
    """n elements of type `name` from bytes, as float64."""
    bb = TYPES[name][0]
    b = np.frombuffer(raw, np.uint8, n // BLOCK[name] * bb).reshape(-1, bb)
    return dec(name, b).astype(np.float64).reshape(-1)


def main():
    rng = np.random.default_rng(12)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (bb, halves) in TYPES.items():
            nb = 512
            b = rng.integers(0, 256, size=(nb, bb), dtype=np.uint8)
            for o in halves:  # finite scales of either sign
                b[:, o:o + 2] = rng.uniform(-0.1, 0.1, nb).astype(np.float16).view(np.uint8).reshape(nb, 2)
            src, out = os.path.join(tmp, name + ".bin"), os.path.join(tmp, name + ".f32")
            b.tofile(src)
            subprocess.run([HELPER, "dequant", name, src, out], check=True)
            got = np.fromfile(out, dtype=np.float32).reshape(nb, -1)
            want = dec(name, b).astype(np.float64)
            err = np.abs(got - want).max()
            tol = 1e-6 * np.abs(want).max()
            ok = got.shape == want.shape and err <= tol
            print("%-5s %d blocks: largest difference %.3g (tolerance %.3g) %s" % (name, nb, err, tol, "agree" if ok else "DIFFER"))
            bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
