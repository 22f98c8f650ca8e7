#!/bin/sh
# Bad tokenizer data is refused with one line, "llm: what: why", and a
# non-zero exit, on every rank: each file is a tiny tokenizer
# (tok_tiny.py) written with one defect by tok_gguf.py --corrupt.
set -u
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
py=${PYTHON3:-/usr/bin/python3}
here=$top_srcdir/tests/llm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$here/tok_tiny.py" "$tmp/tiny" --template chatml || exit 1
fail=0
for k in eos-range:"is not a token" type-range:"is not a token type" pre-unknown:"pre-tokenizer 'frobnicate'" \
         model-unknown:"tokenizer 'bert' is not supported" no-merges:"needs tokenizer.ggml.merges" \
         merge-nospace:"is not two tokens" missing-byte:"lacks the token of byte 0x41" truncated:"past the end" \
         long-token:"implausibly long" count-huge:"past the end"; do
    kind=${k%%:*}
    "$py" "$here/tok_gguf.py" "$tmp/$kind.gguf" "$tmp/tiny/tokenizer.json" "$tmp/tiny/tokenizer_config.json" --pre qwen2 --corrupt "$kind" || exit 1
    "$launch" 2 "$bin" tokenize -m "$tmp/$kind.gguf" "hello" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ $rc = 77 ] && exit 77
    lines=$(grep -c "^llm:" "$tmp/err")
    echo "$kind: rc $rc: $(grep "^llm:" "$tmp/err")"
    [ $rc != 0 ] && [ "$lines" = 1 ] && grep -q "^llm: .*${k#*:}" "$tmp/err" || { echo "FAIL: expected one line with '${k#*:}'"; fail=1; }
    [ -s "$tmp/out" ] && { echo "FAIL: output on a bad file"; fail=1; }
done
# The good file works, and a model without a tokenizer is refused in text.
"$py" "$here/tok_gguf.py" "$tmp/good.gguf" "$tmp/tiny/tokenizer.json" "$tmp/tiny/tokenizer_config.json" --pre qwen2 || exit 1
[ "$("$launch" 2 "$bin" tokenize -m "$tmp/good.gguf" "the world")" = "116 257 265 266 267" ] || { echo "FAIL: the good file"; fail=1; }
"$py" "$here/gguf_write.py" "$tmp/notok.gguf" || exit 1
"$launch" 2 "$bin" generate -m "$tmp/notok.gguf" -p "hello" -n 2 > /dev/null 2> "$tmp/err" && { echo "FAIL: text prompt without a tokenizer"; fail=1; }
echo "no tokenizer: $(grep "^llm:" "$tmp/err")"
grep -q "no tokenizer" "$tmp/err" || fail=1
# stories260K comes without its tokenizer (../shared/models/README.md): text is refused, ids work.
model=$top_srcdir/../shared/models/stories260K.bin
if [ -f "$model" ]; then
    "$launch" 1 "$bin" generate -m "$model" -p "Once upon" -n 2 > /dev/null 2> "$tmp/err" && { echo "FAIL: stories260K took text"; fail=1; }
    echo "stories260K: $(grep "^llm:" "$tmp/err")"
    grep -q "^llm: .*llama2.c model has no tokenizer" "$tmp/err" || fail=1
fi
exit $fail
