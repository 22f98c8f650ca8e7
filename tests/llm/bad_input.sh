#!/bin/sh
# Bad input: malformed or truncated GGUF and llama2.c files, an unsupported
# architecture or tensor type, deepseek2 files missing an MLA key or with
# shapes that disagree, more ranks than heads, a model that would not
# fit, bad options. Each run must exit non-zero on every rank (mpirun's exit
# status) with exactly one line on stderr, "llm: ...".
set -u
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
py=${PYTHON3:-/usr/bin/python3}
"$py" -c "import numpy" 2>/dev/null || { echo "no numpy in $py: skipping"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
good=$tmp/good.gguf
"$py" "$top_srcdir/tests/llm/gguf_write.py" "$good" --arch qwen3 --type q8_0 || exit 1

# expect NAME PATTERN NP ARGS...: non-zero exit, one stderr line matching PATTERN.
expect() {
    name=$1 pattern=$2 np=$3
    shift 3
    "$launch" $np "$bin" "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ $rc = 77 ] && exit 77
    lines=$(grep -c "^llm:" "$tmp/err")
    if [ $rc = 0 ] || [ "$lines" != 1 ] || ! grep -q "^llm: .*$pattern" "$tmp/err"; then
        echo "FAIL: $name: exit $rc, $lines stderr lines:"; cat "$tmp/err"; fail=1
    else
        echo "ok: $name: $(cat "$tmp/err")"
    fi
}

size=$(wc -c < "$good")
head -c $((size - 100)) "$good" > "$tmp/trunc.gguf"
expect "truncated data" "past the end of the file" 2 generate -m "$tmp/trunc.gguf"
head -c 600 "$good" > "$tmp/trunc2.gguf"
expect "truncated header" "cannot fit" 2 generate -m "$tmp/trunc2.gguf"
printf 'GGUX' | dd of="$tmp/magic.gguf" bs=1 count=4 conv=notrunc 2>/dev/null; cat "$good" >> /dev/null
cp "$good" "$tmp/magic.gguf"; printf 'GGUX' | dd of="$tmp/magic.gguf" bs=1 count=4 conv=notrunc 2>/dev/null
expect "bad magic" "not a GGUF file" 2 generate -m "$tmp/magic.gguf"
cp "$good" "$tmp/version.gguf"; printf '\011' | dd of="$tmp/version.gguf" bs=1 seek=4 count=1 conv=notrunc 2>/dev/null
expect "bad version" "version 9" 2 inspect -m "$tmp/version.gguf"
# A huge tensor count in the header.
cp "$good" "$tmp/count.gguf"; printf '\377\377\377\377' | dd of="$tmp/count.gguf" bs=1 seek=12 count=4 conv=notrunc 2>/dev/null
expect "huge tensor count" "cannot fit" 2 generate -m "$tmp/count.gguf"
"$py" - "$good" "$tmp" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2] + "/arch.gguf", "wb").write(d.replace(b"qwen3", b"gpt99"))
# the first tensor of type Q8_0 (8) whose type field we turn into IQ4_XS (23),
# a type llm does not compute with; and one into Q4_K (12), whose 256-element
# blocks do not divide the 64-element rows
i = d.index(b"blk.0.attn_q.weight") + len(b"blk.0.attn_q.weight")
i += 4 + 2 * 8  # n_dims, ne[0], ne[1]
assert d[i] == 8
open(sys.argv[2] + "/type.gguf", "wb").write(d[:i] + bytes([23]) + d[i + 1:])
open(sys.argv[2] + "/rowblk.gguf", "wb").write(d[:i] + bytes([12]) + d[i + 1:])
PY
expect "unsupported architecture" "architecture 'gpt99' is not supported" 2 generate -m "$tmp/arch.gguf"
expect "unsupported tensor type" "type IQ4_XS" 2 generate -m "$tmp/type.gguf"
expect "row not whole blocks" "not a whole number of Q4_K blocks" 2 generate -m "$tmp/rowblk.gguf"
expect "more ranks than heads" "5 ranks but the model has 4 attention heads" 5 generate -m "$good"
expect "would not fit" "needs .* per rank" 1 generate --shape llama-3.1-70b --type f32
expect "no such file" "cannot open" 2 generate -m "$tmp/nothing.gguf"
expect "token out of range" "not a token id" 2 generate -m "$good" --prompt-ids 1,999
expect "bad shape" "unknown shape" 2 bench --shape gpt-5
expect "bad option" "" 2 generate --frobnicate
head -c 1000 /dev/urandom > "$tmp/random.bin"
expect "random bytes" "not a llama2.c checkpoint" 2 generate -m "$tmp/random.bin"
model=${CB_SHARED_DIR:-$top_srcdir/../shared}/models/stories260K.bin
if [ -f "$model" ]; then
    head -c 500000 "$model" > "$tmp/short.bin"
    expect "truncated llama2.c" "header promises" 2 generate -m "$tmp/short.bin"
fi
# deepseek2: a missing MLA key, and a key_length_mla that disagrees with attn_k_b's shape.
"$py" "$top_srcdir/tests/llm/gguf_write.py" "$tmp/ds.gguf" --arch deepseek2 --type q8_0 || exit 1
"$py" - "$tmp/ds.gguf" "$tmp" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2] + "/ds-key.gguf", "wb").write(d.replace(b"attention.kv_lora_rank", b"attention.kv_lora_rxnk"))
k = b"deepseek2.attention.key_length_mla"
i = d.index(k) + len(k) + 4  # the key, then its type, then the value
assert struct.unpack_from("<I", d, i)[0] == 48
open(sys.argv[2] + "/ds-shape.gguf", "wb").write(d[:i] + struct.pack("<I", 40) + d[i + 4:])
PY
expect "deepseek2 without kv_lora_rank" "kv_lora_rank is missing" 2 generate -m "$tmp/ds-key.gguf"
expect "deepseek2 key_length_mla against the tensors" "attn_q_b.weight has shape .* expected" 2 generate -m "$tmp/ds-shape.gguf"
"$launch" 2 "$bin" generate -m "$tmp/ds.gguf" -n 4 -q > /dev/null || { echo "FAIL: the good deepseek2 file fails"; fail=1; }
# And the good file works, so the failures above are the input's.
"$launch" 2 "$bin" generate -m "$good" -n 4 -q > /dev/null || { echo "FAIL: the good file fails"; fail=1; }
exit $fail
