#!/usr/bin/python3
"""Write a tiny byte-level BPE tokenizer.json and tokenizer_config.json (the
256 byte characters, a few merges, the special tokens of the chat forms) for
tests that need a tokenizer but not a real one:

    tok_tiny.py DIR --template chatml|qwen3|llama3|deepseek-v3|unknown|none [--spm]

--spm: a SentencePiece-style vocabulary instead (<unk>, <s>, </s>, the byte
tokens <0xNN>, a few pieces with '▁' and their merges, byte fallback).
"""
import argparse
import json
import os
import sys

TEMPLATES = {
    "chatml": "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n'}}"
              "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    "qwen3": "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n'}}"
             "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
             "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}{% endif %}",
    "llama3": "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n'"
              " + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    "deepseek-v3": "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{'<\uff5cUser\uff5c>' + m['content']}}"
                   "{% else %}{{'<\uff5cAssistant\uff5c>' + m['content'] + '<\uff5cend\u2581of\u2581sentence\uff5c>'}}{% endif %}"
                   "{% endfor %}{% if add_generation_prompt %}{{'<\uff5cAssistant\uff5c>'}}{% endif %}",
    "unknown": "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\\n{% endfor %}",
}
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>",
            "<|end_header_id|>", "<|eot_id|>", "<\uff5cbegin\u2581of\u2581sentence\uff5c>",
            "<\uff5cend\u2581of\u2581sentence\uff5c>", "<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>"]


def byte_chars():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def write_spm(d):
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for c in "\u2581abdehlnortw":
        vocab.setdefault(c, len(vocab))
    merges = []
    for left, right in [("\u2581", "t"), ("h", "e"), ("\u2581t", "he"), ("\u2581", "w"), ("o", "r"), ("l", "d"),
                        ("\u2581w", "or"), ("\u2581wor", "ld"), ("a", "n"), ("an", "d"), ("\u2581", "and")]:
        vocab.setdefault(left + right, len(vocab))
        merges.append(left + " " + right)
    added = [{"id": i, "content": s, "special": True} for i, s in enumerate(["<unk>", "<s>", "</s>"])]
    tj = {"added_tokens": added, "normalizer": {"type": "Sequence", "normalizers": [
              {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
          "pre_tokenizer": None, "post_processor": None, "decoder": None,
          "model": {"type": "BPE", "vocab": vocab, "merges": merges, "byte_fallback": True, "unk_token": "<unk>"}}
    tc = {"add_bos_token": True, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    os.makedirs(d, exist_ok=True)
    json.dump(tj, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
    json.dump(tc, open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8"), ensure_ascii=False)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--template", default="chatml", choices=sorted(TEMPLATES) + ["none"])
    ap.add_argument("--spm", action="store_true")
    a = ap.parse_args()
    if a.spm:
        return write_spm(a.dir)
    chars = byte_chars()
    vocab = {chars[b]: b for b in range(256)}
    merges = []
    for left, right in [("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("\u0120", "a"), ("i", "n"), ("\u0120a", "n"),
                        ("\u0120an", "d"), ("e", "r"), ("o", "n"), ("\u0120", "w"), ("o", "r"), ("l", "d")]:
        vocab.setdefault(left + right, len(vocab))
        merges.append([left, right])
    added = [{"id": len(vocab) + i, "content": s, "special": True, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False} for i, s in enumerate(SPECIALS)]
    tj = {"version": "1.0", "added_tokens": added, "normalizer": None,
          "pre_tokenizer": {"type": "ByteLevel"}, "post_processor": None, "decoder": None, "model": {"type": "BPE", "vocab": vocab, "merges": merges}}
    bos = {"chatml": None, "qwen3": None, "llama3": "<|begin_of_text|>",
           "deepseek-v3": "<\uff5cbegin\u2581of\u2581sentence\uff5c>"}.get(a.template)
    eos = {"llama3": "<|eot_id|>", "deepseek-v3": "<\uff5cend\u2581of\u2581sentence\uff5c>"}.get(a.template, "<|im_end|>")
    tc = {"add_bos_token": bos is not None, "bos_token": bos, "eos_token": eos}
    if a.template != "none":
        tc["chat_template"] = TEMPLATES[a.template]
    os.makedirs(a.dir, exist_ok=True)
    json.dump(tj, open(os.path.join(a.dir, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)
    json.dump(tc, open(os.path.join(a.dir, "tokenizer_config.json"), "w", encoding="utf-8"), ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
