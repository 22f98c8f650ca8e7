#!/usr/bin/python3
"""Write a vocabulary-only GGUF (metadata, no tensors) from a Hugging Face
tokenizer.json and tokenizer_config.json, the way llama.cpp's converter lays
out tokenizer.ggml.* (standard library only):

    tok_gguf.py OUT tokenizer.json tokenizer_config.json --pre NAME [--model llama|gpt2]

--model: gpt2 (byte-level BPE: tokens, token_type, merges) or llama
(SentencePiece-style: tokens, scores, token_type), guessed from the file when
not given. A SentencePiece vocabulary gets its scores from the merge ranks:
the token a merge makes scores minus that merge's rank, so the best score is
the first merge, which is how SentencePiece's BPE orders them.
Written from the GGUF specification (ggml's gguf.md) and tokenizer.json.
"""
import argparse
import json
import struct
import sys

GGUF_UINT32, GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 4, 5, 6, 7, 8, 9
NORMAL, UNKNOWN, CONTROL, USER, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def gstr(s):
    b = s.encode("utf-8", "surrogatepass")
    return struct.pack("<Q", len(b)) + b


CORRUPT = {
    "eos-range": "an EOS id beyond the vocabulary",
    "type-range": "a token type that is none of 1..6",
    "scores-count": "fewer scores than tokens",
    "pre-unknown": "a pre-tokenizer nobody knows",
    "model-unknown": "a tokenizer model nobody knows",
    "no-merges": "byte-level BPE without merges",
    "merge-nospace": "a merge that is not two tokens",
    "missing-byte": "the byte-level token of 'A' renamed",
    "truncated": "the file cut inside the token array",
    "long-token": "a token of 100000 bytes",
    "count-huge": "a token count larger than the file",
}


def token_text(v):
    if isinstance(v, dict):
        return v.get("content")
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("tokenizer_json")
    ap.add_argument("tokenizer_config")
    ap.add_argument("--pre", default="default")
    ap.add_argument("--model", choices=["llama", "gpt2"])
    ap.add_argument("--eos", type=int, help="EOS id instead of the config's (tests)")
    ap.add_argument("--corrupt", choices=sorted(CORRUPT), help="write a deliberately broken file, for the tests")
    a = ap.parse_args()
    tj = json.load(open(a.tokenizer_json, encoding="utf-8"))
    tc = json.load(open(a.tokenizer_config, encoding="utf-8"))
    m = tj["model"]
    kind = a.model or ("llama" if m.get("byte_fallback") else "gpt2")
    vocab = dict(m["vocab"])
    added = {t["id"]: t for t in tj.get("added_tokens", [])}
    n = max(list(vocab.values()) + list(added.keys())) + 1
    tokens = [None] * n
    types = [NORMAL] * n
    for text, i in vocab.items():
        tokens[i] = text
    for i, t in added.items():
        tokens[i] = t["content"]
        types[i] = CONTROL if t.get("special") else USER
    for i in range(n):
        if tokens[i] is None:
            tokens[i] = "[PAD%d]" % i
            types[i] = UNUSED
    merges = [mg if isinstance(mg, str) else " ".join(mg) for mg in m.get("merges", [])]
    ids = {t: i for i, t in enumerate(tokens)}
    bad = a.corrupt
    if bad == "type-range":
        types[n // 2] = 9
    if bad == "merge-nospace":
        merges[len(merges) // 2] = "nospace"
    if bad == "missing-byte":
        tokens[ids["A"]] = "[not A]"
    if bad == "long-token":
        tokens[n - 1] = "x" * 100000
    if bad == "pre-unknown":
        a.pre = "frobnicate"
    if bad == "model-unknown":
        kind = "bert"

    def tid(name):
        s = token_text(tc.get(name))
        return ids.get(s) if s is not None else None

    kv = [("general.architecture", GGUF_STRING, gstr("llama")),
          ("general.name", GGUF_STRING, gstr("vocabulary")),
          ("tokenizer.ggml.model", GGUF_STRING, gstr(kind))]
    if kind == "gpt2":
        kv.append(("tokenizer.ggml.pre", GGUF_STRING, gstr(a.pre)))
    kv.append(("tokenizer.ggml.tokens", GGUF_ARRAY,
               struct.pack("<IQ", GGUF_STRING, n if bad != "count-huge" else 1 << 40) + b"".join(gstr(t) for t in tokens)))
    if kind == "llama":
        rank = {}
        for r, mg in enumerate(merges):
            left, right = mg.split(" ", 1)
            rank.setdefault(left + right, r)
        scores = []
        for i, t in enumerate(tokens):
            if t.startswith("<0x") and len(t) == 6 and t.endswith(">") and types[i] == NORMAL:
                types[i] = BYTE
            if i == ids.get(m.get("unk_token")):
                types[i] = UNKNOWN
            scores.append(-float(rank[t]) if t in rank else -1e9)
        if bad == "scores-count":
            scores = scores[:-1]
        kv.append(("tokenizer.ggml.scores", GGUF_ARRAY, struct.pack("<IQ", GGUF_FLOAT32, len(scores)) +
                   struct.pack("<%df" % len(scores), *scores)))
    kv.append(("tokenizer.ggml.token_type", GGUF_ARRAY, struct.pack("<IQ", GGUF_INT32, n) +
               struct.pack("<%di" % n, *types)))
    if kind == "gpt2" and bad != "no-merges":
        kv.append(("tokenizer.ggml.merges", GGUF_ARRAY,
                   struct.pack("<IQ", GGUF_STRING, len(merges)) + b"".join(gstr(s) for s in merges)))
    for key, name in [("bos_token_id", "bos_token"), ("eos_token_id", "eos_token"), ("unknown_token_id", "unk_token")]:
        i = tid(name)
        if key == "eos_token_id" and a.eos is not None:
            i = a.eos
        if key == "eos_token_id" and bad == "eos-range":
            i = n + 5
        if i is not None:
            kv.append(("tokenizer.ggml." + key, GGUF_UINT32, struct.pack("<I", i)))
    for marker in ("<|eot_id|>", "<|im_end|>"):
        if marker in ids:
            kv.append(("tokenizer.ggml.eot_token_id", GGUF_UINT32, struct.pack("<I", ids[marker])))
            break
    add_bos = tc.get("add_bos_token", kind == "llama" or tid("bos_token") is not None)
    kv.append(("tokenizer.ggml.add_bos_token", GGUF_BOOL, struct.pack("<B", 1 if add_bos else 0)))
    if kind == "llama":
        kv.append(("tokenizer.ggml.add_space_prefix", GGUF_BOOL, struct.pack("<B", 1)))
    if tc.get("chat_template"):
        tmpl = tc["chat_template"]
        if isinstance(tmpl, list):
            tmpl = tmpl[0]["template"]
        kv.append(("tokenizer.chat_template", GGUF_STRING, gstr(tmpl)))

    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for key, t, val in kv:
        out += gstr(key) + struct.pack("<I", t) + val
    out += b"\0" * ((-len(out)) % 32)
    if bad == "truncated":
        out = out[:len(out) // 2]
    with open(a.out, "wb") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
