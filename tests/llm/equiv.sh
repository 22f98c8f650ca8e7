#!/bin/sh
# Rank-count equivalence and the numpy reference, for one architecture
# (ARCH from the wrapper's name, equiv-ARCH.sh) in every tensor type:
#   - a small GGUF model is written by gguf_write.py (numpy, not the C code);
#   - np = 1, 2, 3 (uneven split, replicated KV heads) and 4 give the same
#     greedy tokens, and logits within 1e-4 of the largest logit;
#   - ref.py's independent float64 forward pass agrees with np = 1 likewise,
#     for the prompt in one batch (sgemm path), and for Q8_0 token by token
#     (-b 1);
#   - the comparison is shown able to fail: a model of another seed differs.
set -u
arch=${ARCH:?}
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
here=$top_srcdir/tests/llm
py=${PYTHON3:-/usr/bin/python3}
"$py" -c "import numpy" 2>/dev/null || { echo "no numpy in $py: skipping"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
prompt=1,7,42,200
n=8
vocab=256

for type in f32 f16 bf16 q8_0 q4_0; do
    m=$tmp/$arch-$type.gguf
    "$py" "$here/gguf_write.py" "$m" --arch "$arch" --type "$type" --seed 3 || { echo "FAIL: writer"; exit 1; }
    "$py" "$here/ref.py" "$m" --prompt $prompt -n $n --batch-prompt --dump-logits "$tmp/ref.bin" > "$tmp/ref.txt" || exit 1
    for np in 1 2 3 4; do
        "$launch" $np "$bin" generate -m "$m" -p $prompt -n $n -q --dump-logits "$tmp/c$np.bin" > "$tmp/c$np.txt" 2> "$tmp/err"
        rc=$?
        [ $rc = 77 ] && exit 77
        if [ $rc != 0 ]; then
            echo "FAIL: $arch $type np=$np exits $rc"; cat "$tmp/err"; fail=1; continue
        fi
        if ! cmp -s "$tmp/c1.txt" "$tmp/c$np.txt"; then
            echo "FAIL: $arch $type np=$np tokens $(cat "$tmp/c$np.txt") differ from np=1 $(cat "$tmp/c1.txt")"; fail=1
        fi
        "$py" "$here/compare_logits.py" "$tmp/c1.bin" "$tmp/c$np.bin" $vocab 1e-4 > "$tmp/cmp" || {
            echo "FAIL: $arch $type np=$np logits: $(cat "$tmp/cmp")"; fail=1; }
    done
    echo "$arch $type np=1..4: $(cat "$tmp/c1.txt")"
    cmp -s "$tmp/ref.txt" "$tmp/c1.txt" || { echo "FAIL: $arch $type numpy reference $(cat "$tmp/ref.txt")"; fail=1; }
    "$py" "$here/compare_logits.py" "$tmp/ref.bin" "$tmp/c1.bin" $vocab 1e-4 > "$tmp/cmp" || {
        echo "FAIL: $arch $type logits against numpy: $(cat "$tmp/cmp")"; fail=1; }
    [ $type = q8_0 ] || continue
    # Token by token (matrix-vector kernels on quantized activations throughout).
    "$py" "$here/ref.py" "$m" --prompt $prompt -n $n --dump-logits "$tmp/ref1.bin" > "$tmp/ref1.txt" || exit 1
    "$launch" 2 "$bin" generate -m "$m" -p $prompt -n $n -b 1 -q --dump-logits "$tmp/b1.bin" > "$tmp/b1.txt" 2> "$tmp/err"
    cmp -s "$tmp/ref1.txt" "$tmp/b1.txt" || { echo "FAIL: $arch $type token by token $(cat "$tmp/b1.txt") vs numpy $(cat "$tmp/ref1.txt")"; cat "$tmp/err"; fail=1; }
    "$py" "$here/compare_logits.py" "$tmp/ref1.bin" "$tmp/b1.bin" $vocab 1e-4 > "$tmp/cmp" || {
        echo "FAIL: $arch $type token-by-token logits against numpy: $(cat "$tmp/cmp")"; fail=1; }
done

# The check can fail: another seed's model is not within tolerance.
"$py" "$here/gguf_write.py" "$tmp/other.gguf" --arch "$arch" --type f32 --seed 4
"$launch" 1 "$bin" generate -m "$tmp/other.gguf" -p $prompt -n $n -q --dump-logits "$tmp/other.bin" > /dev/null 2>&1
"$py" "$here/compare_logits.py" "$tmp/c1.bin" "$tmp/other.bin" $vocab 1e-4 > /dev/null && {
    echo "FAIL: logits of a different model pass the comparison"; fail=1; }
exit $fail
