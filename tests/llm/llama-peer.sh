#!/bin/sh
# The llama.cpp peer harness itself (scripts/llama-peer): it loads libllama and checks its ABI
# (info); bench prints llama-bench's rows (pp, tg, and a test after a depth of tokens) with
# positive rates; quantize makes a Q8_0 file that llama.cpp reads back and that gives the
# same greedy tokens as the numpy-written Q8_0 file of the same weights within tolerance;
# hostile input gives one line and a nonzero exit, never a crash or a half-written file:
# a missing or truncated model, an unknown type, a token outside the vocabulary, libllama
# aborting on a vocabulary it cannot tokenize with.
# Skips (77) when the peer is absent.
set -u
here=$top_srcdir/tests/llm
peer=$top_srcdir/scripts/llama-peer/llama-peer
py=${PYTHON3:-/usr/bin/python3}
"$py" -c "import numpy" 2>/dev/null || { echo "no numpy in $py: skipping"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
"$peer" info > "$tmp/info" 2> "$tmp/err"
rc=$?
if [ $rc = 77 ]; then echo "llama.cpp peer: $(cat "$tmp/err"): skipping"; exit 77; fi
cat "$tmp/info"
grep -q '^abi: checked' "$tmp/info" || { echo "FAIL: info"; cat "$tmp/err"; fail=1; }

m=$tmp/m.gguf
"$py" "$here/gguf_write.py" "$m" --arch qwen3 --type f16 --seed 3 --tokenizer-model llama || exit 1

# bench: one row per test, llama-bench's names, rates > 0 (speed itself is not asserted)
"$peer" bench -m "$m" -p 16 -n 4 -d 0,8 -r 2 -t 1 > "$tmp/bench.csv" 2> "$tmp/err" || {
    echo "FAIL: bench"; cat "$tmp/err"; fail=1; }
cat "$tmp/bench.csv"
"$py" - "$tmp/bench.csv" <<'PY' || fail=1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
tests = [r["test"] for r in rows]
ok = tests == ["pp16", "tg4", "pp16 @ d8", "tg4 @ d8"] and all(float(r["avg_ts"]) > 0 for r in rows) \
    and [int(r["n_depth"]) for r in rows] == [0, 0, 8, 8] and all(r["reps"] == "2" for r in rows)
print("bench rows:", tests, "ok" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY

# quantize: llama.cpp's Q8_0 of the F16 file reads back, and its tokens agree with the
# numpy-written Q8_0 file's (both quantize the same weights round-to-nearest per block)
"$peer" quantize "$m" "$tmp/q8.gguf" Q8_0 > /dev/null 2> "$tmp/err" || { echo "FAIL: quantize"; cat "$tmp/err"; fail=1; }
"$py" "$here/gguf_write.py" "$tmp/w8.gguf" --arch qwen3 --type q8_0 --seed 3 --tokenizer-model llama
"$peer" greedy -m "$tmp/q8.gguf" -p 1,7,42 -n 6 --dump-logits "$tmp/a.bin" > "$tmp/a.txt" 2> "$tmp/err" || {
    echo "FAIL: greedy on the quantized file"; cat "$tmp/err"; fail=1; }
"$peer" greedy -m "$tmp/w8.gguf" -p 1,7,42 -n 6 --dump-logits "$tmp/b.bin" > "$tmp/b.txt" 2> "$tmp/err"
"$py" "$here/compare_logits.py" "$tmp/a.bin" "$tmp/b.bin" 256 4e-2 "$tmp/a.txt" "$tmp/b.txt" > "$tmp/cmp" || {
    echo "FAIL: llama.cpp's Q8_0 and the writer's differ: $(cat "$tmp/cmp")"; fail=1; }
echo "Q8_0 by llama.cpp $(cat "$tmp/a.txt"), by the writer $(cat "$tmp/b.txt"): $(cat "$tmp/cmp")"

# hostile input: one line "llama-peer: ..." on stderr, exit 1, no output file left behind
expect_error() {
    what=$1; shift
    "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    last=$(tail -n 1 "$tmp/err")
    case "$rc:$(wc -l < "$tmp/err"):$last" in
        1:1:llama-peer:*) echo "ok $what: $last" ;;
        *) echo "FAIL $what: exit $rc, stderr: $last"; fail=1 ;;
    esac
}
head -c 3000 "$m" > "$tmp/trunc.gguf"
printf 'GGUF\003\000\000\000\377\377\377\377\377\377\377\377' > "$tmp/huge.gguf"
expect_error "missing model" "$peer" greedy -m "$tmp/none.gguf" -p 1 -n 2
expect_error "truncated model" "$peer" greedy -m "$tmp/trunc.gguf" -p 1 -n 2
expect_error "absurd tensor count" "$peer" bench -m "$tmp/huge.gguf" -p 4 -n 0 -r 1
expect_error "token outside the vocabulary" "$peer" greedy -m "$m" -p 1,999 -n 2
expect_error "unknown quant type" "$peer" quantize "$m" "$tmp/x.gguf" Q9_K
expect_error "quantizing a truncated file" "$peer" quantize "$tmp/trunc.gguf" "$tmp/y.gguf" Q8_0
expect_error "bad count" "$peer" bench -m "$m" -p 12x
# libllama throws out of its C API here (a vocabulary without byte tokens): one line all the same
expect_error "libllama aborting" "$peer" tokenize -m "$m" "t1t2"
for f in x.gguf y.gguf y.gguf.part; do
    [ -e "$tmp/$f" ] && { echo "FAIL: $f left behind"; fail=1; }
done
exit $fail
