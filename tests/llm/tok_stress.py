#!/usr/bin/python3
"""Write N generated texts, NUL-separated, for the tokenizer comparison
(tests/llm/tokenizers.sh): short random strings drawn from characters that
sit on the pre-tokenizers' decision points (letters of several scripts,
digits of several systems, marks, punctuation, symbols, emoji and joiners,
kinds of space and line ends, apostrophes before contraction letters, the
special tokens' texts, decomposed letters and marks out of canonical order
for the NFC of Qwen's tokenizer). Deterministic for a seed.

    tok_stress.py OUT [--n 1000] [--seed 1]
"""
import argparse
import random
import sys

POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") * 3 +
    list("0123456789") * 2 + list("٠١٢٣४५६١２３Ⅻ½①") +
    list("éèüößñçÆØÅœ") + list("Привет") + list("Ελλάδα") + list("שלום") + list("مرحبا") + list("नमस्ते") +
    list("中文字汉语日本語") + list("ひらがなカタカナ") + list("한국어") + list("ไทย") +
    ["\u0301", "\u0300", "\u0308", "\u094d", "\u0e31", "\u0323", "\u0307", "\u0328", "\u030a"] * 2 +
    ["e\u0301", "A\u030a", "\u212b", "\u2126", "\u1100", "\u1161", "\u11a8", "\u0344", "\u0f73"] +
    list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") * 2 + list("¿¡«»—–…“”‘’·") +
    list("€£¥©®™°±×÷∑√∞≈≠←→") + ["😀", "👍", "🏽", "❤", "\ufe0f", "\u200d", "🇫", "🇷", "🚀"] +
    [" "] * 12 + ["\t", "\n", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2009", "\u200b", "\u000b", "\u000c"] +
    ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re"] * 2 +
    ["\x01", "\x1f", "\x7f"] +
    ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>", "<s>", "</s>", "<unk>",
     "<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>", "<think>", "</think>", "\u2581"]
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    texts = []
    while len(texts) < a.n:
        # Runs of one kind of character now and then, so that long words,
        # numbers and space runs occur too.
        parts = []
        for _ in range(rng.randint(1, 24)):
            c = rng.choice(POOL)
            parts.append(c * (rng.randint(2, 9) if rng.random() < 0.15 else 1))
        texts.append("".join(parts))
    with open(a.out, "wb") as f:
        f.write(b"".join(t.encode() + b"\0" for t in texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
