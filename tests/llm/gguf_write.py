#!/usr/bin/python3
"""Write a small GGUF model with random weights, for llm's tests (numpy only).

    gguf_write.py OUT --arch llama|qwen2|qwen3|qwen3moe|deepseek2 --type f32|f16|bf16|q8_0|q4_0|q4_1|...|q6_k|q4_k_m [--seed N]
                  [--dim 64 --ffn 128 --layers 2 --heads 4 --kv 2 --head-dim 32 --vocab 256]
                  [--experts 8 --experts-used 2 --expert-ffn 64]   (qwen3moe, deepseek2)
                  [--rope-scaling none|linear|yarn|llama3|longrope --rope-factor F --rope-orig N --theta T]
                  [--vocab-gguf FILE]
    deepseek2:    [--q-lora 32 (0: plain attn_q) --kv-lora 64 --nope 32 --rope 16 --v-dim 32
                   --kvb split|whole --dense-lead N (default: all layers dense) --groups G --groups-used g
                   --shared-ffn F (0: no shared expert) --weights-scale S]

deepseek2 files are laid out as llama.cpp's converter writes them: attn_kv_b
whole (older files: key_length = nope + rope, value_length = v_dim) or split
into attn_k_b (per head, transposed: [nope, kv_lora, heads]) and attn_v_b
([kv_lora, v_dim, heads]) with key_length = kv_lora + rope, value_length =
kv_lora and the heads' widths in key_length_mla / value_length_mla. Its MoE
layers route by sigmoid with a selection bias (exp_probs_b), normalised and
scaled weights and one shared expert.

--vocab-gguf copies the tokenizer.* metadata of another GGUF (a vocabulary
written by tok_gguf.py) and makes the vocabulary its token count.
Tensors are generated and written one slice at a time, so a model of
several GB (qwen3-30b-a3b's widths, fewer layers) needs little memory.

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

GGUF_UINT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 4, 6, 7, 8, 9
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


BLOCK_BYTES = {"f32": (1, 4), "f16": (1, 2), "bf16": (1, 2), "q8_0": (32, 34), "q4_0": (32, 18)}


def block_bytes(kind):
    """(elements, bytes) of one block of type `kind`."""
    if kind in BLOCK_BYTES:
        return BLOCK_BYTES[kind]
    name = kind.upper()
    return quant_numpy.BLOCK[name], quant_numpy.TYPES[name][0]


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


SCALAR_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def read_tokenizer_kv(path):
    """The tokenizer.* entries of a GGUF file as (key, type, raw value bytes),
    and its token count."""
    b = open(path, "rb").read()
    assert b[:4] == b"GGUF"
    n_kv = struct.unpack_from("<Q", b, 16)[0]
    pos, out, n_tok = 24, [], 0

    def skip(t, pos):
        if t == GGUF_STRING:
            return pos + 8 + struct.unpack_from("<Q", b, pos)[0]
        if t == GGUF_ARRAY:
            et, n = struct.unpack_from("<IQ", b, pos)
            pos += 12
            for _ in range(n):
                pos = skip(et, pos)
            return pos
        return pos + SCALAR_SIZE[t]
    for _ in range(n_kv):
        kl = struct.unpack_from("<Q", b, pos)[0]
        key = b[pos + 8:pos + 8 + kl].decode()
        pos += 8 + kl
        t = struct.unpack_from("<I", b, pos)[0]
        pos += 4
        end = skip(t, pos)
        if key.startswith("tokenizer."):
            out.append((key, t, b[pos:end]))
        if key == "tokenizer.ggml.tokens":
            n_tok = struct.unpack_from("<Q", b, pos + 4)[0]
        pos = end
    return out, n_tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--arch", default="llama", choices=["llama", "qwen2", "qwen3", "qwen3moe", "deepseek2"])
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
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--experts-used", type=int, default=2)
    ap.add_argument("--expert-ffn", type=int, default=64)
    ap.add_argument("--theta", type=float, default=None)
    ap.add_argument("--rope-scaling", default="none", choices=["none", "linear", "yarn", "llama3", "longrope"])
    ap.add_argument("--rope-factor", type=float, default=4.0)
    ap.add_argument("--rope-orig", type=int, default=64)
    ap.add_argument("--q-lora", type=int, default=32)
    ap.add_argument("--kv-lora", type=int, default=64)
    ap.add_argument("--nope", type=int, default=32)
    ap.add_argument("--rope", type=int, default=16)
    ap.add_argument("--v-dim", type=int, default=32)
    ap.add_argument("--kvb", default="split", choices=["split", "whole"])
    ap.add_argument("--dense-lead", type=int, default=None)
    ap.add_argument("--groups", type=int, default=0)
    ap.add_argument("--groups-used", type=int, default=0)
    ap.add_argument("--shared-ffn", type=int, default=64)
    ap.add_argument("--weights-scale", type=float, default=2.5)
    ap.add_argument("--meta-experts", type=int, help="bad-input tests: expert_count to claim in the metadata")
    ap.add_argument("--meta-experts-used", type=int, help="bad-input tests: expert_used_count to claim")
    ap.add_argument("--tokenizer-model", default=None,
                    help="write tokenizer.ggml.model (e.g. llama), which llama.cpp requires to load the file")
    ap.add_argument("--vocab-gguf")
    a = ap.parse_args()
    tok_kv = None
    if a.vocab_gguf:
        tok_kv, a.vocab = read_tokenizer_kv(a.vocab_gguf)
    if a.theta is None:
        a.theta = {"llama": 10000.0, "deepseek2": 10000.0}.get(a.arch, 1e6)
    if a.dense_lead is None:
        a.dense_lead = a.layers
    rng = np.random.default_rng(a.seed)
    qd, kvd = a.heads * a.head_dim, a.kv * a.head_dim

    # A tensor is (name, shape, type, generator of its float32 slices in
    # order); generated only when written, in file order, from one stream.
    CHUNK = 1 << 22

    def mat(*shape):
        cols = shape[-1]

        def gen():
            lead = int(np.prod(shape[:-1]))
            step = max(1, CHUNK // cols)
            for r in range(0, lead, step):
                n = min(step, lead - r)
                yield rng.uniform(-1, 1, (n, cols)).astype(np.float32) * np.float32(np.sqrt(3.0 / cols))
        return shape, gen

    def emb(rows, cols):
        def gen():
            step = max(1, CHUNK // cols)
            for r in range(0, rows, step):
                yield rng.uniform(-1, 1, (min(step, rows - r), cols)).astype(np.float32)
        return (rows, cols), gen

    def vec(arr_fn, n):
        return (n,), lambda: iter([arr_fn(n)])

    def norm(n):
        return vec(lambda m: (1 + 0.1 * rng.uniform(-1, 1, m)).astype(np.float32), n)

    def bias(n):
        return vec(lambda m: (0.1 * rng.uniform(-1, 1, m)).astype(np.float32), n)

    tensors = [("token_embd.weight",) + emb(a.vocab, a.dim) + (a.type,),
               ("output_norm.weight",) + norm(a.dim) + ("f32",)]
    if not a.tied:
        tensors.append(("output.weight",) + mat(a.vocab, a.dim) + (a.type,))
    E, F = a.experts, a.expert_ffn
    for l in range(a.layers if a.arch != "deepseek2" else 0):
        p = "blk.%d." % l
        tensors += [(p + "attn_norm.weight",) + norm(a.dim) + ("f32",),
                    (p + "attn_q.weight",) + mat(qd, a.dim) + (a.type,),
                    (p + "attn_k.weight",) + mat(kvd, a.dim) + (a.type,),
                    (p + "attn_v.weight",) + mat(kvd, a.dim) + (a.type,),
                    (p + "attn_output.weight",) + mat(a.dim, qd) + (a.type,),
                    (p + "ffn_norm.weight",) + norm(a.dim) + ("f32",)]
        if a.arch == "qwen3moe":
            # llama.cpp's layout: the router in F32, experts stacked in 3-D.
            tensors += [(p + "ffn_gate_inp.weight",) + mat(E, a.dim) + ("f32",),
                        (p + "ffn_gate_exps.weight",) + mat(E, F, a.dim) + (a.type,),
                        (p + "ffn_up_exps.weight",) + mat(E, F, a.dim) + (a.type,),
                        (p + "ffn_down_exps.weight",) + mat(E, a.dim, F) + (a.type,)]
        else:
            tensors += [(p + "ffn_gate.weight",) + mat(a.ffn, a.dim) + (a.type,),
                        (p + "ffn_up.weight",) + mat(a.ffn, a.dim) + (a.type,),
                        (p + "ffn_down.weight",) + mat(a.dim, a.ffn) + (a.type,)]
        if a.arch == "qwen2":
            tensors += [(p + "attn_q.bias",) + bias(qd) + ("f32",),
                        (p + "attn_k.bias",) + bias(kvd) + ("f32",),
                        (p + "attn_v.bias",) + bias(kvd) + ("f32",)]
        if a.arch in ("qwen3", "qwen3moe"):
            tensors += [(p + "attn_q_norm.weight",) + norm(a.head_dim) + ("f32",),
                        (p + "attn_k_norm.weight",) + norm(a.head_dim) + ("f32",)]

    if a.arch == "deepseek2":
        H, qk, kvl = a.heads, a.nope + a.rope, a.kv_lora
        for l in range(a.layers):
            p = "blk.%d." % l
            tensors.append((p + "attn_norm.weight",) + norm(a.dim) + ("f32",))
            if a.q_lora:
                tensors += [(p + "attn_q_a.weight",) + mat(a.q_lora, a.dim) + (a.type,),
                            (p + "attn_q_a_norm.weight",) + norm(a.q_lora) + ("f32",),
                            (p + "attn_q_b.weight",) + mat(H * qk, a.q_lora) + (a.type,)]
            else:
                tensors.append((p + "attn_q.weight",) + mat(H * qk, a.dim) + (a.type,))
            tensors += [(p + "attn_kv_a_mqa.weight",) + mat(kvl + a.rope, a.dim) + (a.type,),
                        (p + "attn_kv_a_norm.weight",) + norm(kvl) + ("f32",)]
            kvb_shape, kvb_gen = mat(H * (a.nope + a.v_dim), kvl)
            if a.kvb == "whole":
                tensors.append((p + "attn_kv_b.weight", kvb_shape, kvb_gen, a.type))
            else:
                # the converter's split of the same matrix: per head, the key
                # rows transposed (a row per latent index), then the value rows
                held = {}

                def k_b(g=kvb_gen, held=held):
                    per = np.concatenate(list(g())).reshape(H, a.nope + a.v_dim, kvl)
                    held["v"] = np.ascontiguousarray(per[:, a.nope:, :])
                    yield np.ascontiguousarray(per[:, :a.nope, :].transpose(0, 2, 1)).reshape(-1, a.nope)

                def v_b(held=held):
                    yield held.pop("v").reshape(-1, kvl)
                tensors += [(p + "attn_k_b.weight", (H, kvl, a.nope), k_b, a.type),
                            (p + "attn_v_b.weight", (H, a.v_dim, kvl), v_b, a.type)]
            tensors += [(p + "attn_output.weight",) + mat(a.dim, H * a.v_dim) + (a.type,),
                        (p + "ffn_norm.weight",) + norm(a.dim) + ("f32",)]
            if l >= a.dense_lead:
                tensors += [(p + "ffn_gate_inp.weight",) + mat(E, a.dim) + ("f32",),
                            (p + "exp_probs_b.bias",) + bias(E) + ("f32",),
                            (p + "ffn_gate_exps.weight",) + mat(E, F, a.dim) + (a.type,),
                            (p + "ffn_up_exps.weight",) + mat(E, F, a.dim) + (a.type,),
                            (p + "ffn_down_exps.weight",) + mat(E, a.dim, F) + (a.type,)]
                if a.shared_ffn:
                    tensors += [(p + "ffn_gate_shexp.weight",) + mat(a.shared_ffn, a.dim) + (a.type,),
                                (p + "ffn_up_shexp.weight",) + mat(a.shared_ffn, a.dim) + (a.type,),
                                (p + "ffn_down_shexp.weight",) + mat(a.dim, a.shared_ffn) + (a.type,)]
            else:
                tensors += [(p + "ffn_gate.weight",) + mat(a.ffn, a.dim) + (a.type,),
                            (p + "ffn_up.weight",) + mat(a.ffn, a.dim) + (a.type,),
                            (p + "ffn_down.weight",) + mat(a.dim, a.ffn) + (a.type,)]
    rope_dims = a.rope if a.arch == "deepseek2" else a.head_dim
    if a.rope_scaling == "llama3":
        # Llama 3.1's frequency factors as its converter computes them (the
        # factor, low_freq_factor 1, high_freq_factor 4, the original context).
        base = a.theta ** (-np.arange(0, rope_dims, 2) / rope_dims)
        wavelen = 2 * np.pi / base
        lo_wl, hi_wl = a.rope_orig / 1.0, a.rope_orig / 4.0
        smooth = (a.rope_orig / wavelen - 1.0) / (4.0 - 1.0)
        factors = np.where(wavelen < hi_wl, 1.0,
                           np.where(wavelen > lo_wl, a.rope_factor, 1.0 / ((1 - smooth) / a.rope_factor + smooth)))
        tensors.append(("rope_freqs.weight",) + vec(lambda m: factors.astype(np.float32), rope_dims // 2) + ("f32",))

    kv = [("general.architecture", GGUF_STRING, gguf_string(a.arch)),
          ("general.name", GGUF_STRING, gguf_string("test-%s-%s" % (a.arch, a.type))),
          ("general.alignment", GGUF_UINT32, struct.pack("<I", 32))]
    ints = [("embedding_length", a.dim), ("feed_forward_length", a.ffn), ("block_count", a.layers),
            ("attention.head_count", a.heads), ("context_length", a.ctx)]
    if a.arch == "deepseek2":
        ints += [("attention.kv_lora_rank", a.kv_lora), ("rope.dimension_count", a.rope)]
        if a.q_lora:
            ints.append(("attention.q_lora_rank", a.q_lora))
        if a.kvb == "split":
            ints += [("attention.head_count_kv", 1), ("attention.key_length", a.kv_lora + a.rope),
                     ("attention.value_length", a.kv_lora), ("attention.key_length_mla", a.nope + a.rope),
                     ("attention.value_length_mla", a.v_dim)]
        else:
            ints += [("attention.head_count_kv", a.heads), ("attention.key_length", a.nope + a.rope),
                     ("attention.value_length", a.v_dim)]
        # llama.cpp's loader asks for the expert keys even when every layer is dense
        if a.arch == "deepseek2":
            ints += [("leading_dense_block_count", a.dense_lead), ("expert_count", a.experts),
                     ("expert_used_count", a.experts_used), ("expert_feed_forward_length", a.expert_ffn),
                     ("expert_shared_count", 1 if a.shared_ffn else 0), ("expert_gating_func", 2)]
            if a.groups > 1:
                ints += [("expert_group_count", a.groups), ("expert_group_used_count", a.groups_used)]
    else:
        ints += [("attention.head_count_kv", a.kv), ("attention.key_length", a.head_dim),
                 ("attention.value_length", a.head_dim), ("rope.dimension_count", a.head_dim)]
        if a.arch == "qwen3moe":
            ints += [("expert_count", a.experts if a.meta_experts is None else a.meta_experts),
                     ("expert_used_count", a.experts_used if a.meta_experts_used is None else a.meta_experts_used),
                     ("expert_feed_forward_length", a.expert_ffn)]
    for key, val in ints:
        kv.append(("%s.%s" % (a.arch, key), GGUF_UINT32, struct.pack("<I", val)))
    if a.arch == "deepseek2":
        kv.append(("%s.expert_weights_scale" % a.arch, GGUF_FLOAT32, struct.pack("<f", a.weights_scale)))
        kv.append(("%s.expert_weights_norm" % a.arch, GGUF_BOOL, struct.pack("<?", True)))
    kv.append(("%s.rope.freq_base" % a.arch, GGUF_FLOAT32, struct.pack("<f", a.theta)))
    if a.rope_scaling in ("linear", "yarn", "longrope"):
        kv.append(("%s.rope.scaling.type" % a.arch, GGUF_STRING, gguf_string(a.rope_scaling)))
        kv.append(("%s.rope.scaling.factor" % a.arch, GGUF_FLOAT32, struct.pack("<f", a.rope_factor)))
    if a.rope_scaling in ("yarn", "longrope"):
        kv.append(("%s.rope.scaling.original_context_length" % a.arch, GGUF_UINT32, struct.pack("<I", a.rope_orig)))
    if a.rope_scaling == "yarn" and a.arch == "deepseek2":
        # the converter's 0.1 * mscale_all_dim, with DeepSeek V3's mscale_all_dim of 1
        kv.append(("%s.rope.scaling.yarn_log_multiplier" % a.arch, GGUF_FLOAT32, struct.pack("<f", 0.1)))
    kv.append(("%s.attention.layer_norm_rms_epsilon" % a.arch, GGUF_FLOAT32, struct.pack("<f", 1e-6)))
    if tok_kv:
        kv += tok_kv
    else:
        toks = b"".join(gguf_string("t%d" % i) for i in range(a.vocab))
        kv.append(("tokenizer.ggml.tokens", GGUF_ARRAY, struct.pack("<IQ", GGUF_STRING, a.vocab) + toks))
        if a.tokenizer_model:
            kv.append(("tokenizer.ggml.model", GGUF_STRING, gguf_string(a.tokenizer_model)))

    header = b"GGUF" + struct.pack("<IQQ", a.version, len(tensors), len(kv))
    for key, t, val in kv:
        header += gguf_string(key) + struct.pack("<I", t) + val
    offset = 0
    for name, shape, _gen, kind in tensors:
        kind = tensor_kind(name, kind)
        blk, bb = block_bytes(kind)
        size = int(np.prod(shape)) // blk * bb
        dims = shape[::-1]  # ggml order: row length first
        header += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", n) for n in dims)
        header += struct.pack("<IQ", TYPES[kind], offset)
        offset += size + (-size) % 32
    header += b"\0" * ((-len(header)) % 32)
    with open(a.out, "wb") as f:
        f.write(header)
        for name, _shape, gen, kind in tensors:
            kind = tensor_kind(name, kind)
            size = 0
            for part in gen():
                data = quantize(part, kind)
                f.write(data)
                size += len(data)
            f.write(b"\0" * ((-size) % 32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
