#!/usr/bin/python3
"""Write a small GGUF model with random weights, for llm's tests (numpy only).

    gguf_write.py OUT --arch llama|qwen2|qwen3 --type f32|f16|bf16|q8_0|q4_0|q4_1|...|q6_k|q4_k_m [--seed N]
                  [--dim 64 --ffn 128 --layers 2 --heads 4 --kv 2 --head-dim 32 --vocab 256]

Written from the GGUF specification (ggml's gguf.md), independently of llm's C code.
Q4_1, Q5_0, Q5_1 and the K-quants are random block bytes (every level and
sub-block scale pattern) with their fp16 scales set so that the weights,
decoded by quant_numpy.py, have the float matrix's rms; q4_k_m mixes Q4_K with
Q6_K for attn_v, ffn_down and output, as llama.cpp's Q4_K_M does.
"""
import argparse
import struct
import sys

import os

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quant_numpy  # noqa: E402

GGUF_UINT32, GGUF_FLOAT32, GGUF_STRING, GGUF_ARRAY = 4, 6, 8, 9
TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8, "bf16": 30, "q4_1": 3, "q5_0": 6, "q5_1": 7,
         "q2_k": 10, "q3_k": 11, "q4_k": 12, "q5_k": 13, "q6_k": 14, "q4_k_m": 12}
RANDOM_BLOCKS = {"q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"}


def tensor_kind(name, kind):
    """The type of tensor `name` in a file of type `kind` (the q4_k_m mix)."""
    if kind != "q4_k_m":
        return kind
    return "q6_k" if any(t in name for t in ("attn_v.", "ffn_down.", "output.")) else "q4_k"


def random_blocks(a, kind):
    name = kind.upper()
    bb, halves = quant_numpy.TYPES[name]
    nb = a.size // quant_numpy.BLOCK[name]
    rng = np.random.default_rng(a.size * 7919 + bb)
    b = rng.integers(0, 256, size=(nb, bb), dtype=np.uint8)
    for o in halves:  # each scale of either sign, independently
        d = np.where(rng.uniform(size=nb) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 1.0, nb)
        b[:, o:o + 2] = d.astype(np.float16).view(np.uint8).reshape(nb, 2)
    r = np.sqrt(np.mean(quant_numpy.dec(name, b).astype(np.float64) ** 2))
    scale = np.float64(np.sqrt(np.mean(a.astype(np.float64) ** 2))) / r
    for o in halves:
        d = b[:, o:o + 2].copy().view(np.float16).astype(np.float64)[:, 0] * scale
        b[:, o:o + 2] = d.astype(np.float16).view(np.uint8).reshape(nb, 2)
    return b.tobytes()


def quantize(a, kind):
    """Rows of float32 `a` as the bytes of ggml type `kind`."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if kind in RANDOM_BLOCKS:
        return random_blocks(a, kind)
    if kind == "f32":
        return a.tobytes()
    if kind == "f16":
        return a.astype(np.float16).tobytes()
    if kind == "bf16":
        bits = a.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        return bits.astype(np.uint16).tobytes()
    blocks = a.reshape(-1, 32)
    if kind == "q8_0":
        amax = np.abs(blocks).max(axis=1)
        d = (amax / 127.0).astype(np.float32)
        inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0).astype(np.float32)
        q = np.rint(blocks * inv[:, None]).astype(np.int8)
        out = np.zeros(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", 32)])
        out["d"] = d.astype(np.float16)
        out["qs"] = q
        return out.tobytes()
    if kind == "q4_0":
        idx = np.abs(blocks).argmax(axis=1)
        mx = blocks[np.arange(len(blocks)), idx]
        d = (mx / -8.0).astype(np.float32)
        inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
        q = np.clip(np.trunc(blocks * inv[:, None] + np.float32(8.5)), 0, 15).astype(np.uint8)
        out = np.zeros(len(blocks), dtype=[("d", "<f2"), ("qs", "u1", 16)])
        out["d"] = d.astype(np.float16)
        out["qs"] = q[:, :16] | (q[:, 16:] << 4)
        return out.tobytes()
    raise ValueError(kind)


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--arch", default="llama", choices=["llama", "qwen2", "qwen3"])
    ap.add_argument("--type", default="f32", choices=sorted(TYPES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--ffn", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--tied", action="store_true", help="no output.weight")
    ap.add_argument("--version", type=int, default=3)
    ap.add_argument("--tokenizer-model", default=None,
                    help="write tokenizer.ggml.model (e.g. llama), which llama.cpp requires to load the file")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    qd, kvd = a.heads * a.head_dim, a.kv * a.head_dim

    def mat(rows, cols):
        return rng.uniform(-1, 1, (rows, cols)).astype(np.float32) * np.float32(np.sqrt(3.0 / cols))

    def norm(n):
        return (1 + 0.1 * rng.uniform(-1, 1, n)).astype(np.float32)

    tensors = [("token_embd.weight", rng.uniform(-1, 1, (a.vocab, a.dim)).astype(np.float32), a.type),
               ("output_norm.weight", norm(a.dim), "f32")]
    if not a.tied:
        tensors.append(("output.weight", mat(a.vocab, a.dim), a.type))
    for l in range(a.layers):
        p = "blk.%d." % l
        tensors += [(p + "attn_norm.weight", norm(a.dim), "f32"),
                    (p + "attn_q.weight", mat(qd, a.dim), a.type),
                    (p + "attn_k.weight", mat(kvd, a.dim), a.type),
                    (p + "attn_v.weight", mat(kvd, a.dim), a.type),
                    (p + "attn_output.weight", mat(a.dim, qd), a.type),
                    (p + "ffn_norm.weight", norm(a.dim), "f32"),
                    (p + "ffn_gate.weight", mat(a.ffn, a.dim), a.type),
                    (p + "ffn_up.weight", mat(a.ffn, a.dim), a.type),
                    (p + "ffn_down.weight", mat(a.dim, a.ffn), a.type)]
        if a.arch == "qwen2":
            tensors += [(p + "attn_q.bias", (0.1 * rng.uniform(-1, 1, qd)).astype(np.float32), "f32"),
                        (p + "attn_k.bias", (0.1 * rng.uniform(-1, 1, kvd)).astype(np.float32), "f32"),
                        (p + "attn_v.bias", (0.1 * rng.uniform(-1, 1, kvd)).astype(np.float32), "f32")]
        if a.arch == "qwen3":
            tensors += [(p + "attn_q_norm.weight", norm(a.head_dim), "f32"),
                        (p + "attn_k_norm.weight", norm(a.head_dim), "f32")]

    kv = [("general.architecture", GGUF_STRING, gguf_string(a.arch)),
          ("general.name", GGUF_STRING, gguf_string("test-%s-%s" % (a.arch, a.type))),
          ("general.alignment", GGUF_UINT32, struct.pack("<I", 32))]
    for key, val in [("embedding_length", a.dim), ("feed_forward_length", a.ffn), ("block_count", a.layers),
                     ("attention.head_count", a.heads), ("attention.head_count_kv", a.kv),
                     ("attention.key_length", a.head_dim), ("attention.value_length", a.head_dim),
                     ("context_length", a.ctx), ("rope.dimension_count", a.head_dim)]:
        kv.append(("%s.%s" % (a.arch, key), GGUF_UINT32, struct.pack("<I", val)))
    kv.append(("%s.rope.freq_base" % a.arch, GGUF_FLOAT32, struct.pack("<f", 10000.0 if a.arch == "llama" else 1e6)))
    kv.append(("%s.attention.layer_norm_rms_epsilon" % a.arch, GGUF_FLOAT32, struct.pack("<f", 1e-6)))
    toks = b"".join(gguf_string("t%d" % i) for i in range(a.vocab))
    kv.append(("tokenizer.ggml.tokens", GGUF_ARRAY, struct.pack("<IQ", GGUF_STRING, a.vocab) + toks))
    if a.tokenizer_model:
        kv.append(("tokenizer.ggml.model", GGUF_STRING, gguf_string(a.tokenizer_model)))

    header = b"GGUF" + struct.pack("<IQQ", a.version, len(tensors), len(kv))
    for key, t, val in kv:
        header += gguf_string(key) + struct.pack("<I", t) + val
    blobs, offset = [], 0
    for name, arr, kind in tensors:
        kind = tensor_kind(name, kind)
        data = quantize(arr, kind)
        shape = arr.shape[::-1]  # ggml order: row length first
        header += gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", n) for n in shape)
        header += struct.pack("<IQ", TYPES[kind], offset)
        pad = (-len(data)) % 32
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    header += b"\0" * ((-len(header)) % 32)
    with open(a.out, "wb") as f:
        f.write(header)
        for b in blobs:
            f.write(b)
    return 0


if __name__ == "__main__":
    sys.exit(main())
