#!/usr/bin/python3
"""An independent forward pass in numpy (float64), for llm's tests.

    ref.py MODEL --prompt 1,2,3 -n N [--batch-prompt] [--dump-logits FILE] [--mla naive|absorbed]

MODEL is a GGUF file (llama, qwen2, qwen3, deepseek2; F32 F16 BF16 Q8_0 Q4_0) or a
llama2.c checkpoint. Prints the greedy continuation's token ids on one line.
Written from the formats' specifications and the models' papers, not from llm's
C code. RoPE scaling (linear, YaRN, Llama 3.1's rope_freqs.weight) follows the
Hugging Face formulas (YaRN: Peng et al. 2023; DeepSeek-V2's mscale).

deepseek2's multi-head latent attention runs in one of two forms: "naive"
expands every cached latent into each head's key and value through attn_kv_b
(or attn_k_b / attn_v_b) and attends as ordinary multi-head attention;
"absorbed" folds k_b into the query and v_b into the output and attends over
the latents themselves. They are the same function; tests run both.
A mixture-of-experts layer (Qwen3-MoE): softmax over all experts' router
logits, the top k (lowest id on ties), their probabilities renormalised to sum
1, the SwiGLU experts' outputs summed with those weights. DeepSeek V3's
(deepseek2 files): sigmoid scores, chosen by score + exp_probs_b among the best
groups (a group ranked by the sum of its two best), weighted by the scores
renormalised and times expert_weights_scale, plus the shared expert. --routes
FILE writes every (layer, token) choice and weight for the tests to compare.

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
ROPE_KINDS = ("none", "linear", "yarn")


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
               theta=g("rope.freq_base", 10000.0 if arch in ("llama", "deepseek2") else 1e6))
    cfg["head_dim"] = g("attention.key_length", cfg["dim"] // cfg["heads"])
    cfg["neox"] = arch not in ("llama", "deepseek2")
    cfg["rope_dims"] = g("rope.dimension_count", cfg["head_dim"])
    if arch == "deepseek2":
        cfg["kv_lora"] = g("attention.kv_lora_rank")
        cfg["qk"] = g("attention.key_length_mla", cfg["head_dim"])
        cfg["v_dim"] = g("attention.value_length_mla", g("attention.value_length"))
        cfg["nope"] = cfg["qk"] - cfg["rope_dims"]
    kind = g("rope.scaling.type", "linear" if g("rope.scaling.factor", 1.0) != 1.0 else "none")
    if kind not in ROPE_KINDS:
        raise SystemExit("ref.py: RoPE scaling %s is not supported" % kind)
    cfg["rope_kind"] = kind if g("rope.scaling.factor", 1.0) != 1.0 else "none"
    cfg["rope_factor"] = g("rope.scaling.factor", 1.0)
    cfg["rope_orig"] = g("rope.scaling.original_context_length", 0)
    cfg["beta_fast"] = g("rope.scaling.yarn_beta_fast", 32.0)
    cfg["beta_slow"] = g("rope.scaling.yarn_beta_slow", 1.0)
    cfg["mscale_all_dim"] = g("rope.scaling.yarn_log_multiplier", 0.0) / 0.1
    cfg["experts_used"] = g("expert_used_count", 0)
    cfg["gating"] = g("expert_gating_func", 1)  # 1 softmax, 2 sigmoid
    cfg["weights_norm"] = g("expert_weights_norm", arch != "deepseek2")
    cfg["weights_scale"] = g("expert_weights_scale", 1.0)
    cfg["groups"], cfg["groups_used"] = g("expert_group_count", 0), g("expert_group_used_count", 0)
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
               head_dim=hd, neox=False, rope_dims=hd, rope_kind="none")
    return cfg, w, {k: 0 for k in w}


def q8_activation(x, blk=32):
    """x as llm quantizes activations for the integer dots (blocks of 32 for
    the legacy types, of 256 for the K-quants), returned dequantized."""
    b = x.astype(np.float32).reshape(-1, blk)
    d = (np.abs(b).max(axis=1) / np.float32(127)).astype(np.float32)
    inv = np.where(d > 0, np.float32(1) / np.where(d > 0, d, 1), 0).astype(np.float32)
    q = np.rint(b * inv[:, None])
    return (q * d[:, None].astype(np.float64)).reshape(-1)


def yarn_mscale(scale, m=1.0):
    return 1.0 if scale <= 1 else 0.1 * m * np.log(scale) + 1.0


def rope_inv_freq(c, freq_factors):
    """Each pair's frequency and the cos/sin magnitude, Hugging Face style."""
    d, base = c["rope_dims"], c["theta"]
    inv = 1.0 / base ** (np.arange(0, d, 2, dtype=np.float64) / d)
    if freq_factors is not None:
        inv = inv / freq_factors
    mag = 1.0
    if c["rope_kind"] == "linear":
        inv = inv / c["rope_factor"]
    elif c["rope_kind"] == "yarn":
        s = c["rope_factor"]

        def corr(rot):
            return d * np.log(c["rope_orig"] / (rot * 2 * np.pi)) / (2 * np.log(base))
        low = max(np.floor(corr(c["beta_fast"])), 0)
        high = min(np.ceil(corr(c["beta_slow"])), d - 1)
        if low == high:
            high += 0.001
        ramp = np.clip((np.arange(d // 2) - low) / (high - low), 0, 1)
        keep = 1 - ramp  # 1: extrapolate (fast pairs), 0: interpolate
        inv = inv / s * (1 - keep) + inv * keep
        if c["arch"] == "deepseek2" and c["mscale_all_dim"]:
            mag = yarn_mscale(s, c["mscale_all_dim"]) / yarn_mscale(s, c["mscale_all_dim"])  # mscale == mscale_all_dim
        else:
            mag = yarn_mscale(s)
    return inv, mag


class Model:
    def __init__(self, cfg, w, types, mla_form="absorbed"):
        self.c, self.w, self.t = cfg, w, types
        self.out = "output.weight" if "output.weight" in w else "token_embd.weight"
        self.k = [[] for _ in range(cfg["layers"])]
        self.v = [[] for _ in range(cfg["layers"])]
        self.inv_freq, self.mag = rope_inv_freq(cfg, w.get("rope_freqs.weight"))
        self.mla_form = mla_form
        if cfg["arch"] == "deepseek2":
            H, nope, vd, r = cfg["heads"], cfg["nope"], cfg["v_dim"], cfg["kv_lora"]
            for l in range(cfg["layers"]):
                p = "blk.%d." % l
                if p + "attn_kv_b.weight" in w:  # whole: per head nope key rows, then v_dim value rows
                    per = w[p + "attn_kv_b.weight"].reshape(H, nope + vd, r)
                    w[p + "k_b"], w[p + "v_b"] = per[:, :nope, :].transpose(0, 2, 1), per[:, nope:, :]
                    types[p + "v_b"] = types[p + "attn_kv_b.weight"]
                    types[p + "k_b"] = 0  # llm keeps the transposed key part in F32
                else:  # split: k_b (H, kv_lora, nope), v_b (H, v_dim, kv_lora)
                    w[p + "k_b"], w[p + "v_b"] = w[p + "attn_k_b.weight"], w[p + "attn_v_b.weight"]
                    types[p + "k_b"], types[p + "v_b"] = types[p + "attn_k_b.weight"], types[p + "attn_v_b.weight"]
            scale = 1.0 / np.sqrt(cfg["qk"])
            if cfg["rope_kind"] == "yarn" and cfg["mscale_all_dim"]:
                scale *= yarn_mscale(cfg["rope_factor"], cfg["mscale_all_dim"]) ** 2
            self.kq_scale = scale
            self.lat = [[] for _ in range(cfg["layers"])]
        self.routes = []

    def lin(self, name, x, quant):
        if quant and self.t[name] in QNAMES:
            x = q8_activation(x, 32 if quant == "gemm" else quant_numpy.BLOCK[QNAMES[self.t[name]]])
        return self.w[name] @ x

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x) + self.c["eps"]) * w

    def rope(self, v, pos):
        hd = self.c["rope_dims"]
        ang = pos * self.inv_freq
        cs, sn = np.cos(ang) * self.mag, np.sin(ang) * self.mag
        v = v.copy()
        if self.c["neox"]:
            a, b = v[..., :hd // 2].copy(), v[..., hd // 2:].copy()
            v[..., :hd // 2], v[..., hd // 2:] = a * cs - b * sn, a * sn + b * cs
        else:
            a, b = v[..., 0::2].copy(), v[..., 1::2].copy()
            v[..., 0::2], v[..., 1::2] = a * cs - b * sn, a * sn + b * cs
        return v

    def mla(self, l, xb, pos, quant):
        """deepseek2 attention of one token: the layer's output projection input."""
        c, w, p = self.c, self.w, "blk.%d." % l
        H, nope, rd, vd, r = c["heads"], c["nope"], c["rope_dims"], c["v_dim"], c["kv_lora"]
        if p + "attn_q_a.weight" in w:
            qa = self.rms(self.lin(p + "attn_q_a.weight", xb, quant), w[p + "attn_q_a_norm.weight"])
            q = self.lin(p + "attn_q_b.weight", qa, quant)
        else:
            q = self.lin(p + "attn_q.weight", xb, quant)
        q = q.reshape(H, nope + rd)
        q_nope, q_pe = q[:, :nope], self.rope(q[:, nope:], pos)
        kva = self.lin(p + "attn_kv_a_mqa.weight", xb, quant)
        latent = self.rms(kva[:r], w[p + "attn_kv_a_norm.weight"])
        k_pe = self.rope(kva[r:], pos)
        self.lat[l].append((latent, k_pe))
        C = np.stack([a for a, _ in self.lat[l]])    # (t, kv_lora)
        KP = np.stack([b for _, b in self.lat[l]])   # (t, rope)
        k_b, v_b = w[p + "k_b"], w[p + "v_b"]        # (H, kv_lora, nope), (H, v_dim, kv_lora)
        # llm quantizes the per-head inputs of quantized k_b / v_b, even in a prompt
        kz, vz = self.t[p + "k_b"] in QNAMES, self.t[p + "v_b"] in QNAMES
        out = np.zeros((H, vd))
        for h in range(H):
            if self.mla_form == "naive":
                K = np.concatenate([C @ k_b[h], KP], axis=1)   # (t, nope + rope): the expanded keys
                V = C @ v_b[h].T                               # (t, v_dim): the expanded values
                s = K @ np.concatenate([q_nope[h], q_pe[h]]) * self.kq_scale
                e = np.exp(s - s.max())
                out[h] = (e / e.sum()) @ V
            else:
                qn = q8_activation(q_nope[h]) if kz else q_nope[h]
                q_lat = k_b[h] @ qn                            # (kv_lora): the query in latent space
                s = (C @ q_lat + KP @ q_pe[h]) * self.kq_scale
                e = np.exp(s - s.max())
                o_lat = (e / e.sum()) @ C
                out[h] = v_b[h] @ (q8_activation(o_lat) if vz else o_lat)
        return out.reshape(-1)

    def expert(self, name, e, x, quant):
        if quant and self.t[name] in QNAMES:
            x = q8_activation(x, 32 if quant == "gemm" else quant_numpy.BLOCK[QNAMES[self.t[name]]])
        return self.w[name][e] @ x

    def moe(self, l, p, xb, quant):
        k = self.c["experts_used"]
        c = self.c
        logit = self.w[p + "ffn_gate_inp.weight"] @ xb  # the router stays F32: float activations
        if c["gating"] == 2:
            prob = 1 / (1 + np.exp(-logit))
        else:
            prob = np.exp(logit - logit.max())
            prob /= prob.sum()
        choice = prob + self.w[p + "exp_probs_b.bias"] if p + "exp_probs_b.bias" in self.w else prob.copy()
        if c["groups"] > 1:
            per = choice.reshape(c["groups"], -1)
            gscore = np.sort(per, axis=1)[:, -2:].sum(axis=1)
            keep = np.argsort(-gscore, kind="stable")[:c["groups_used"]]
            mask = np.full(c["groups"], True)
            mask[keep] = False
            choice = np.where(np.repeat(mask, per.shape[1]), -np.inf, choice)
        sel = np.argsort(-choice, kind="stable")[:k]
        wt = prob[sel] / prob[sel].sum() if c["weights_norm"] else prob[sel]
        wt = wt * c["weights_scale"]
        self.routes.append((l, [int(e) for e in sel], [float(v) for v in wt]))
        out = np.zeros_like(xb)
        for e, a in zip(sel, wt):
            g = self.expert(p + "ffn_gate_exps.weight", e, xb, quant)
            u = self.expert(p + "ffn_up_exps.weight", e, xb, quant)
            out += a * self.expert(p + "ffn_down_exps.weight", e, g / (1 + np.exp(-g)) * u, quant)
        if p + "ffn_gate_shexp.weight" in self.w:
            g = self.lin(p + "ffn_gate_shexp.weight", xb, quant)
            u = self.lin(p + "ffn_up_shexp.weight", xb, quant)
            out += self.lin(p + "ffn_down_shexp.weight", g / (1 + np.exp(-g)) * u, quant)
        return out

    def step(self, token, pos, quant):
        c, w = self.c, self.w
        hd, H, KV = c["head_dim"], c["heads"], c["kv"]
        x = w["token_embd.weight"][token].copy()
        for l in range(c["layers"]):
            p = "blk.%d." % l
            xb = self.rms(x, w[p + "attn_norm.weight"])
            if c["arch"] == "deepseek2":
                x = x + self.lin(p + "attn_output.weight", self.mla(l, xb, pos, quant), quant)
                xb = self.rms(x, w[p + "ffn_norm.weight"])
                x = x + (self.moe(l, p, xb, quant) if p + "ffn_gate_inp.weight" in w else self.ffn(p, xb, quant))
                continue
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
            x = x + (self.moe(l, p, xb, quant) if p + "ffn_gate_inp.weight" in w else self.ffn(p, xb, quant))
        return self.lin(self.out, self.rms(x, w["output_norm.weight"]), True)

    def ffn(self, p, xb, quant):
        g = self.lin(p + "ffn_gate.weight", xb, quant)
        u = self.lin(p + "ffn_up.weight", xb, quant)
        return self.lin(p + "ffn_down.weight", g / (1 + np.exp(-g)) * u, quant)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--prompt", default="1")
    ap.add_argument("-n", type=int, default=16)
    ap.add_argument("--batch-prompt", action="store_true")
    ap.add_argument("--dump-logits")
    ap.add_argument("--mla", default="absorbed", choices=["naive", "absorbed"])
    ap.add_argument("--routes", help="write each MoE routing: token layer experts... weights...")
    a = ap.parse_args()
    data = open(a.model, "rb").read()
    cfg, w, types = read_gguf(data) if data[:4] == b"GGUF" else read_llama2c(data)
    m = Model(cfg, w, types, a.mla)
    prompt = [int(t) for t in a.prompt.replace(",", " ").split()]
    dump = open(a.dump_logits, "wb") if a.dump_logits else None
    logits = None
    # llm quantizes the activations of a prompt batch too: its integer GEMM
    # takes them in int8 blocks of 32 whatever the weights' type ("gemm"),
    # where a single token's dots take the type's own blocks (Q8_K for the
    # K-quants).
    for i, t in enumerate(prompt):
        batched = a.batch_prompt and len(prompt) > 1
        logits = m.step(t, i, "gemm" if batched else True)
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
