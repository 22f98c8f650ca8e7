#!/bin/sh
# Rank-count equivalence and the numpy reference, for one architecture
# (ARCH from the wrapper's name, equiv-ARCH.sh) in every tensor type:
#   - a small GGUF model is written by gguf_write.py (numpy, not the C code);
#   - np = 1, 2, 3 (uneven split, replicated KV heads) and 4 give the same
#     greedy tokens, and logits within a tolerance of the largest logit:
#     1e-4 for F32, F16, BF16 (only the order of sums differs); 2e-2 for Q8_0
#     and the quantized types, whose dot products requantize each activation
#     vector to 8 bits (per 32, per 256 for the K-quants):
#     a last-bit difference in a summed activation can move one int8 by a step.
#     Tokens may part only at a near-tie within that tolerance (compare_logits.py);
#   - ref.py's independent float64 forward pass agrees with np = 1 likewise,
#     for the prompt in one batch (sgemm path), and for Q8_0 token by token
#     (-b 1);
#   - the K-quants and the other legacy types (random block bytes, see
#     gguf_write.py) in a model whose widths are whole super-blocks split 4 ways:
#     q4_k_m (Q4_K with Q6_K attn_v, ffn_down and output: mixed types) for every
#     architecture, each other type for qwen3;
#   - the comparison is shown able to fail: a model of another seed differs.
# WRITER (extra gguf_write.py options) and TYPES narrow a variant; for
# deepseek2, ref.py runs multi-head latent attention in both its naive form
# (keys and values expanded per head) and its absorbed form (float types).
set -u
arch=${ARCH:?}
writer=${WRITER:-}
types=${TYPES:-f32 f16 bf16 q8_0 q4_0}
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

more=q4_k_m
[ "$arch" = qwen3 ] && more="q4_k_m q6_k q5_k q3_k q2_k q4_1 q5_0 q5_1"
# K-quant rows are 256 wide: not for the narrow widths of a WRITER variant
[ -n "$writer" ] && more=
for type in ${TYPES:-f32 f16 bf16 q8_0 q4_0 $more}; do
    case $type in q*) tol=2e-2 ;; *) tol=1e-4 ;; esac
    case $type in q*_k*) dims="--dim 256 --ffn 1024 --heads 8 --kv 2 --head-dim 128" ;; *) dims= ;; esac
    m=$tmp/$arch-$type.gguf
    "$py" "$here/gguf_write.py" "$m" --arch "$arch" --type "$type" --seed 3 $dims $writer || { echo "FAIL: writer"; exit 1; }
    "$py" "$here/ref.py" "$m" --prompt $prompt -n $n --batch-prompt --dump-logits "$tmp/ref.bin" > "$tmp/ref.txt" || exit 1
    for np in 1 2 3 4; do
        "$launch" $np "$bin" generate -m "$m" --prompt-ids $prompt -n $n -q --dump-logits "$tmp/c$np.bin" > "$tmp/c$np.txt" 2> "$tmp/err"
        rc=$?
        [ $rc = 77 ] && exit 77
        if [ $rc != 0 ]; then
            echo "FAIL: $arch $type np=$np exits $rc"; cat "$tmp/err"; fail=1; continue
        fi
        "$py" "$here/compare_logits.py" "$tmp/c1.bin" "$tmp/c$np.bin" $vocab $tol "$tmp/c1.txt" "$tmp/c$np.txt" > "$tmp/cmp" || {
            echo "FAIL: $arch $type np=$np (tokens $(cat "$tmp/c$np.txt"), np=1 $(cat "$tmp/c1.txt")): $(cat "$tmp/cmp")"; fail=1; }
        grep -q near-tie "$tmp/cmp" && echo "$arch $type np=$np: $(cat "$tmp/cmp")"
    done
    echo "$arch $type np=1..4: $(cat "$tmp/c1.txt")"
    "$py" "$here/compare_logits.py" "$tmp/ref.bin" "$tmp/c1.bin" $vocab $tol "$tmp/ref.txt" "$tmp/c1.txt" > "$tmp/cmp" || {
        echo "FAIL: $arch $type against numpy (numpy tokens $(cat "$tmp/ref.txt")): $(cat "$tmp/cmp")"; fail=1; }
    # the naive form cannot quantize the per-head inputs the absorbed kernels
    # quantize: it is held to the float types, where the two forms are one function
    if [ "$arch" = deepseek2 ] && [ $tol = 1e-4 ]; then
        "$py" "$here/ref.py" "$m" --prompt $prompt -n $n --batch-prompt --mla naive --dump-logits "$tmp/naive.bin" > "$tmp/naive.txt" || exit 1
        "$py" "$here/compare_logits.py" "$tmp/naive.bin" "$tmp/c1.bin" $vocab $tol "$tmp/naive.txt" "$tmp/c1.txt" > "$tmp/cmp" || {
            echo "FAIL: $arch $type against numpy's naive MLA (tokens $(cat "$tmp/naive.txt")): $(cat "$tmp/cmp")"; fail=1; }
    fi
    [ $type = q8_0 ] || [ $type = q4_k_m ] || continue
    # Token by token (matrix-vector kernels on quantized activations throughout).
    "$py" "$here/ref.py" "$m" --prompt $prompt -n $n --dump-logits "$tmp/ref1.bin" > "$tmp/ref1.txt" || exit 1
    "$launch" 2 "$bin" generate -m "$m" --prompt-ids $prompt -n $n -b 1 -q --dump-logits "$tmp/b1.bin" > "$tmp/b1.txt" 2> "$tmp/err"
    "$py" "$here/compare_logits.py" "$tmp/ref1.bin" "$tmp/b1.bin" $vocab $tol "$tmp/ref1.txt" "$tmp/b1.txt" > "$tmp/cmp" || {
        echo "FAIL: $arch $type token-by-token logits against numpy: $(cat "$tmp/cmp")"; fail=1; }
done

# deepseek2: the latent cache llm states (and allocates) is (kv_lora + rope) x
# layers x 4 bytes per token, the dimensions read from the file by numpy.
if [ "$arch" = deepseek2 ]; then
    want=$("$py" -c "
import sys; sys.path.insert(0, '$here'); import ref
c = ref.read_gguf(open('$m', 'rb').read())[0]
print((c['kv_lora'] + c['rope_dims']) * c['layers'] * 4)")
    got=$("$bin" inspect -m "$m" -q --no-output 2>/dev/null | sed -n 's/^# latent cache: \([0-9]*\) bytes per token.*/\1/p')
    if [ -z "$want" ] || [ "$got" != "$want" ]; then
        echo "FAIL: latent cache: llm says '$got' bytes per token, (kv_lora + rope) x layers x 4 = '$want'"; fail=1
    else
        echo "latent cache: $got bytes per token = (kv_lora + rope) x layers x 4"
    fi
fi

# The check can fail: another seed's model is not within tolerance.
"$py" "$here/gguf_write.py" "$tmp/other.gguf" --arch "$arch" --type f32 --seed 4 $writer
"$launch" 1 "$bin" generate -m "$tmp/other.gguf" --prompt-ids $prompt -n $n -q --dump-logits "$tmp/other.bin" > /dev/null 2>&1
"$py" "$here/compare_logits.py" "$tmp/c1.bin" "$tmp/other.bin" $vocab 2e-2 > /dev/null && {
    echo "FAIL: logits of a different model pass the comparison"; fail=1; }
exit $fail
