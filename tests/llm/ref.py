#!/usr/bin/python3
"""An independent forward pass in numpy (float64), for llm's tests.

    ref.py MODEL --prompt 1,2,3 -n N [--batch-prompt] [--dump-logits FILE]

MODEL is a GGUF file (llama, qwen2, qwen3, qwen3moe; F32 F16 BF16 Q8_0 Q4_0) or a llama2.c
checkpoint. Prints the greedy continuation's token ids on one line. Written from
the formats' specifications and the models' papers, not from llm's C code.
A mixture-of-experts layer (Qwen3-MoE): softmax over all experts' router
logits, the top k (lowest id on ties), their probabilities renormalised to sum
1, the SwiGLU experts' outputs summed with those weights. --routes FILE writes
every (layer, token) choice and weight for the tests to compare.

Quantized weights are used as ggml defines their dot product: the activation
vector is itself quantized to 8-bit blocks of 32 (scale max|x|/127, round to
nearest even) for one token at a time; with --batch-prompt, prompt tokens use
float activations (llm processes prompts with sgemm on dequantized weights),
and the output head always quantizes.
"""
import argparse
import struct
import sys

import os

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quant_numpy  # noqa: E402

QNAMES = {v: k for k, v in quant_numpy.GGML_IDS.items()}  # the block types, by ggml id


def dequant(raw, t, n):
    if t == 0:
        return np.frombuffer(raw, "<f4", n).astype(np.float64)
    if t == 1:
        return np.frombuffer(raw, "<f2", n).astype(np.float64)
    if t == 30:
        return (np.frombuffer(raw, "<u2", n).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if t == 8:
        b = np.frombuffer(raw, [("d", "<f2"), ("qs", "i1", 32)], n // 32)
        return (b["d"].astype(np.float64)[:, None] * b["qs"]).reshape(-1)
    if t == 2:
        b = np.frombuffer(raw, [("d", "<f2"), ("qs", "u1", 16)], n // 32)
        q = np.concatenate([b["qs"] & 15, b["qs"] >> 4], axis=1).astype(np.float64) - 8
        return (b["d"].astype(np.float64)[:, None] * q).reshape(-1)
    if t in QNAMES:
        return quant_numpy.dequant(raw, QNAMES[t], n)
    raise SystemExit("ref.py: unsupported tensor type %d" % t)


def nbytes(t, n):
    if t in QNAMES:
        name = QNAMES[t]
        return n // quant_numpy.BLOCK[name] * quant_numpy.TYPES[name][0]
    return {0: 4 * n, 1: 2 * n, 30: 2 * n}[t]


def read_gguf(data):
    pos = [0]

    def take(fmt):
        v = struct.unpack_from(fmt, data, pos[0])
        pos[0] += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        n = take("<Q")
        s = data[pos[0]:pos[0] + n].decode("utf-8", "replace")
        pos[0] += n
        return s

    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    assert data[:4] == b"GGUF"
    pos[0] = 4
    _version, n_t, n_kv = take("<I"), take("<Q"), take("<Q")
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("<I"))
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        infos.append((name, ne, take("<I"), take("<Q")))
    align = meta.get("general.alignment", 32)
    base = (pos[0] + align - 1) // align * align
    w, types = {}, {}
    for name, ne, t, off in infos:
        n = int(np.prod(ne))
        arr = dequant(data[base + off:base + off + nbytes(t, n)], t, n)
        w[name] = arr.reshape(ne[::-1]) if len(ne) > 1 else arr
        types[name] = t
    arch = meta["general.architecture"]
    g = lambda k, d=None: meta.get("%s.%s" % (arch, k), d)
    cfg = dict(arch=arch, dim=g("embedding_length"), heads=g("attention.head_count"),
               kv=g("attention.head_count_kv", g("attention.head_count")), layers=g("block_count"),
               eps=g("attention.layer_norm_rms_epsilon", 1e-6),
               theta=g("rope.freq_base", 10000.0 if arch == "llama" else 1e6))
    cfg["head_dim"] = g("attention.key_length", cfg["dim"] // cfg["heads"])
    cfg["experts_used"] = g("expert_used_count", 0)
    cfg["neox"] = arch != "llama"
    return cfg, w, types


def read_llama2c(data):
    dim, hidden, layers, heads, kvh, vocab, seq = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    hd = dim // heads
    f = np.frombuffer(data, "<f4", offset=28).astype(np.float64)
    pos = [0]

    def take(*shape):
        n = int(np.prod(shape))
        a = f[pos[0]:pos[0] + n].reshape(shape)
        pos[0] += n
        return a

    w = {"token_embd.weight": take(vocab, dim)}
    per = {}
    for kind, shape in [("attn_norm.weight", (dim,)), ("attn_q.weight", (dim, dim)), ("attn_k.weight", (kvh * hd, dim)),
                        ("attn_v.weight", (kvh * hd, dim)), ("attn_output.weight", (dim, dim)),
                        ("ffn_norm.weight", (dim,)), ("ffn_gate.weight", (hidden, dim)),
                        ("ffn_down.weight", (dim, hidden)), ("ffn_up.weight", (hidden, dim))]:
        per[kind] = take(layers, *shape)
    for kind, arr in per.items():
        for l in range(layers):
            w["blk.%d.%s" % (l, kind)] = arr[l]
    w["output_norm.weight"] = take(dim)
    take(seq, hd)  # freq_cis_real, freq_cis_imag
    if not shared:
        w["output.weight"] = take(vocab, dim)
    cfg = dict(arch="llama", dim=dim, heads=heads, kv=kvh, layers=layers, eps=1e-5, theta=10000.0,
               head_dim=hd, neox=False)
    return cfg, w, {k: 0 for k in w}


def q8_activation(x, blk=32):
    """x as llm quantizes activations for the integer dots (blocks of 32 for
    the legacy types, of 256 for the K-quants), returned dequantized."""
    b = x.astype(np.float32).reshape(-1, blk)
    d = (np.abs(b).max(axis=1) / np.float32(127)).astype(np.float32)
    inv = np.where(d > 0, np.float32(1) / np.where(d > 0, d, 1), 0).astype(np.float32)
    q = np.rint(b * inv[:, None])
    return (q * d[:, None].astype(np.float64)).reshape(-1)


class Model:
    def __init__(self, cfg, w, types):
        self.c, self.w, self.t = cfg, w, types
        self.out = "output.weight" if "output.weight" in w else "token_embd.weight"
        self.k = [[] for _ in range(cfg["layers"])]
        self.v = [[] for _ in range(cfg["layers"])]
        self.routes = []

    def lin(self, name, x, quant):
        if quant and self.t[name] in QNAMES:
            x = q8_activation(x, quant_numpy.BLOCK[QNAMES[self.t[name]]])
        return self.w[name] @ x

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x) + self.c["eps"]) * w

    def rope(self, v, pos):
        hd = self.c["head_dim"]
        j = np.arange(hd // 2)
        ang = pos * self.c["theta"] ** (-2.0 * j / hd)
        cs, sn = np.cos(ang), np.sin(ang)
        v = v.copy()
        if self.c["neox"]:
            a, b = v[..., :hd // 2].copy(), v[..., hd // 2:].copy()
            v[..., :hd // 2], v[..., hd // 2:] = a * cs - b * sn, a * sn + b * cs
        else:
            a, b = v[..., 0::2].copy(), v[..., 1::2].copy()
            v[..., 0::2], v[..., 1::2] = a * cs - b * sn, a * sn + b * cs
        return v

    def expert(self, name, e, x, quant):
        if quant and self.t[name] in QTYPES:
            x = q8_activation(x)
        return self.w[name][e] @ x

    def moe(self, l, p, xb, quant):
        k = self.c["experts_used"]
        logit = self.w[p + "ffn_gate_inp.weight"] @ xb  # the router stays F32: float activations
        prob = np.exp(logit - logit.max())
        prob /= prob.sum()
        sel = np.argsort(-prob, kind="stable")[:k]
        wt = prob[sel] / prob[sel].sum()
        self.routes.append((l, [int(e) for e in sel], [float(v) for v in wt]))
        out = np.zeros_like(xb)
        for e, a in zip(sel, wt):
            g = self.expert(p + "ffn_gate_exps.weight", e, xb, quant)
            u = self.expert(p + "ffn_up_exps.weight", e, xb, quant)
            out += a * self.expert(p + "ffn_down_exps.weight", e, g / (1 + np.exp(-g)) * u, quant)
        return out

    def step(self, token, pos, quant):
        c, w = self.c, self.w
        hd, H, KV = c["head_dim"], c["heads"], c["kv"]
        x = w["token_embd.weight"][token].copy()
        for l in range(c["layers"]):
            p = "blk.%d." % l
            xb = self.rms(x, w[p + "attn_norm.weight"])
            q = self.lin(p + "attn_q.weight", xb, quant)
            k = self.lin(p + "attn_k.weight", xb, quant)
            v = self.lin(p + "attn_v.weight", xb, quant)
            if p + "attn_q.bias" in w:
                q, k, v = q + w[p + "attn_q.bias"], k + w[p + "attn_k.bias"], v + w[p + "attn_v.bias"]
            q, k, v = q.reshape(H, hd), k.reshape(KV, hd), v.reshape(KV, hd)
            if p + "attn_q_norm.weight" in w:
                q = np.stack([self.rms(h, w[p + "attn_q_norm.weight"]) for h in q])
                k = np.stack([self.rms(h, w[p + "attn_k_norm.weight"]) for h in k])
            q, k = self.rope(q, pos), self.rope(k, pos)
            self.k[l].append(k)
            self.v[l].append(v)
            K, V = np.stack(self.k[l]), np.stack(self.v[l])  # (t, KV, hd)
            out = np.zeros((H, hd))
            for h in range(H):
                s = K[:, h // (H // KV), :] @ q[h] / np.sqrt(hd)
                e = np.exp(s - s.max())
                out[h] = (e / e.sum()) @ V[:, h // (H // KV), :]
            x = x + self.lin(p + "attn_output.weight", out.reshape(-1), quant)
            xb = self.rms(x, w[p + "ffn_norm.weight"])
            if p + "ffn_gate_inp.weight" in w:
                x = x + self.moe(l, p, xb, quant)
                continue
            g = self.lin(p + "ffn_gate.weight", xb, quant)
            u = self.lin(p + "ffn_up.weight", xb, quant)
            x = x + self.lin(p + "ffn_down.weight", g / (1 + np.exp(-g)) * u, quant)
        return self.lin(self.out, self.rms(x, w["output_norm.weight"]), True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--prompt", default="1")
    ap.add_argument("-n", type=int, default=16)
    ap.add_argument("--batch-prompt", action="store_true")
    ap.add_argument("--dump-logits")
    ap.add_argument("--routes", help="write each MoE routing: token layer experts... weights...")
    a = ap.parse_args()
    data = open(a.model, "rb").read()
    cfg, w, types = read_gguf(data) if data[:4] == b"GGUF" else read_llama2c(data)
    m = Model(cfg, w, types)
    prompt = [int(t) for t in a.prompt.replace(",", " ").split()]
    dump = open(a.dump_logits, "wb") if a.dump_logits else None
    logits = None
    for i, t in enumerate(prompt):
        batched = a.batch_prompt and len(prompt) > 1
        logits = m.step(t, i, not batched)
    out = []
    for i in range(a.n):
        if dump:
            dump.write(logits.astype(np.float32).tobytes())
        nxt = int(np.argmax(logits))
        out.append(nxt)
        if i + 1 < a.n:
            logits = m.step(nxt, len(prompt) + i, True)
    print(" ".join(map(str, out)))
    if a.routes:
        with open(a.routes, "w") as f:
            for l, sel, wt in m.routes:
                f.write("%d %s %s\n" % (l, " ".join(map(str, sel)), " ".join("%.9g" % v for v in wt)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
