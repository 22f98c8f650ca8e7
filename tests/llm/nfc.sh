#!/bin/sh
# NFC (Qwen's tokenizers normalize their text to it): llm's llm_nfc, from the
# tables scripts/gen-unicode-table writes, against Python's
# unicodedata.normalize on texts made to exercise it: decomposed letters,
# marks in every order, Hangul jamo and syllables, singletons, composition
# exclusions, and random code points of the whole range.
set -u
py=${PYTHON3:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" - "$tmp/in" "$tmp/want" << 'PY' || exit 1
import random, sys, unicodedata
rng = random.Random(5)
marks = [chr(c) for c in range(0x300, 0x370)] + ["\u0323", "\u0328", "\u05b0", "\u093c", "\u0f71", "\u0f72", "\u0f74", "\u302a", "\u3099"]
bases = list("aeiouAEIOUnNcCsSzZqxwy") + ["\u1100", "\u1161", "\u11a8", "\uac00", "\uac01", "\u212b", "\u2126", "\u0344",
         "\u0f73", "\u0958", "\u2adc", "\u1e9b", "\u03d2", "\u0345", "\u05d9", "\u30ab", "\u304b", "\u00c5", "\u1ea0"]
decomposed = [unicodedata.normalize("NFD", chr(c)) for c in range(0xC0, 0x2000) if unicodedata.decomposition(chr(c))[:1] not in ("", "<")]
texts = []
for _ in range(3000):
    parts = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.35: parts.append(rng.choice(marks))
        elif r < 0.65: parts.append(rng.choice(bases))
        elif r < 0.85: parts.append(rng.choice(decomposed))
        else:
            c = rng.randrange(0x20, 0x110000)
            parts.append(chr(c) if not 0xD800 <= c <= 0xDFFF else "x")
    texts.append("".join(parts))
open(sys.argv[1], "wb").write(b"".join(t.encode() + b"\0" for t in texts))
open(sys.argv[2], "wb").write(b"".join(unicodedata.normalize("NFC", t).encode() + b"\0" for t in texts))
PY
"$top_builddir/tests/llm/test_tok" --nfc "$tmp/in" > "$tmp/got" || { echo "FAIL: test_tok --nfc"; exit 1; }
"$py" - "$tmp/in" "$tmp/want" "$tmp/got" << 'PY'
import sys
ins, want, got = (open(p, "rb").read().split(b"\0")[:-1] for p in sys.argv[1:4])
bad = [i for i, (w, g) in enumerate(zip(want, got)) if w != g]
changed = sum(1 for a, w in zip(ins, want) if a != w)
print("%d/%d texts normalize as Python's unicodedata does (NFC changes %d of them)" % (len(want) - len(bad), len(want), changed))
for i in bad[:5]:
    print("  %r: want %r got %r" % (ins[i].decode(), want[i].decode(), got[i].decode(errors="replace")))
sys.exit(1 if bad or len(got) != len(want) else 0)
PY
