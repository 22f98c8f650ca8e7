#!/bin/sh
# llm against llama.cpp, an independent implementation, on the same GGUF files: llama.cpp's
# libllama (npm @node-llama-cpp/linux-x64, through scripts/llama-peer) gives the greedy tokens
# and each step's logits for a prompt of ids, and llm must give the same tokens, and logits
# within TOL x max(1, max |logit|) (compare_logits.py: tokens may part only at a near-tie).
# The files are written by gguf_write.py, and the "stock" ones (the types people download:
# Q4_K_M, Q6_K, Q2_K, Q4_0 with its Q6_K output ...) are made from an F16 file by llama.cpp's
# own quantizer. One line per case below; a case marked "later" (a type or architecture llm
# or the writer does not have yet) is skipped with the reason, a "now" case fails.
# Skips (77) when the peer is absent (the npm package cannot be installed).
set -u
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
here=$top_srcdir/tests/llm
peer=$top_srcdir/scripts/llama-peer/llama-peer
py=${PYTHON3:-/usr/bin/python3}
"$py" -c "import numpy" 2>/dev/null || { echo "no numpy in $py: skipping"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$peer" info > "$tmp/info" 2> "$tmp/err"
rc=$?
if [ $rc = 77 ]; then echo "llama.cpp peer: $(cat "$tmp/err"): skipping"; exit 77; fi
[ $rc = 0 ] || { echo "FAIL: llama-peer info exits $rc: $(cat "$tmp/err")"; exit 1; }
grep -E '^(build|cpu_backend):' "$tmp/info"
prompt=1,7,42,200
n=8
vocab=256
# llm's KV cache in F32 where it has a choice, as the peer's here (greedy: --kv-type f32)
kv=""
"$bin" generate --help 2>/dev/null | grep -q -- '--kv-type' && kv="--kv-type f32"
# rows of 256 (K-quant super-blocks) for the quantizer's cases
K="--dim 256 --ffn 512 --heads 4 --kv 2 --head-dim 128"
fail=0 ran=0 skipped=0

# TOL: 1e-4 for F32 (only the order of sums differs); 2e-2 for F16 and BF16 (llama.cpp rounds
# the activations to the weights' type); 4e-2 for quantized weights: llama.cpp multiplies them
# by activations quantized to Q8_0 or Q8_K blocks (llm's prompt path by float ones), which
# moves the logits of these random models by up to about 2% of the largest (measured).
# (llama.cpp takes a deepseek2 file without q_lora only at V2 Lite's 27 layers.)
# when  arch      written  quantized   tol   ranks  writer options
cat > "$tmp/cases" <<'EOF'
now     llama     f32      -           1e-4  1      -
now     qwen2     f32      -           1e-4  1      --head-dim 16
now     qwen3     f32      -           1e-4  1,2    -
now     llama     f16      -           2e-2  1      -
now     qwen3     bf16     -           2e-2  1      -
now     qwen2     q8_0     -           4e-2  1      --head-dim 16
now     qwen3     q8_0     -           4e-2  1,2    -
now     llama     q4_0     -           4e-2  1      -
now     qwen3     f16      Q8_0        4e-2  1      K
now     qwen3     f16      Q4_0:pure   4e-2  1      K
now     qwen3     f16      Q4_0        4e-2  1      K
now     qwen3     f16      Q4_K_M      4e-2  1,2    K
now     llama     f16      Q4_K_M      4e-2  1      K
now     qwen3     f16      Q6_K        4e-2  1,2    K
now     qwen3     f16      Q5_K_M      4e-2  1      K
now     qwen3     f16      Q3_K_M      5e-2  1      K
now     qwen3     f16      Q2_K        5e-2  1      K
now     qwen3moe  f32      -           1e-4  1,2    -
now     qwen3moe  q8_0     -           4e-2  1,2    -
now     qwen3moe  f16      Q4_K_M      4e-2  1      K
now     deepseek2 f32      -           1e-4  1,2    --layers 3 --dense-lead 1 --groups 4 --groups-used 2
now     deepseek2 q8_0     -           4e-2  1,2    --layers 3 --dense-lead 1 --groups 4 --groups-used 2
now     deepseek2 f32      -           1e-4  1,3    --layers 3 --dense-lead 1 --theta 100 --rope-scaling yarn --rope-factor 4 --rope-orig 64
now     deepseek2 f32      -           1e-4  1,2    --q-lora 0 --kvb whole --layers 27 --dense-lead 1
now     llama     f32      -           1e-4  1,2    --rope-scaling linear --rope-factor 4
now     llama     f32      -           1e-4  1      --theta 100 --rope-scaling yarn --rope-factor 4 --rope-orig 64
now     llama     f32      -           1e-4  1      --theta 100 --rope-scaling llama3 --rope-factor 8 --rope-orig 64
now     deepseek2 f16      Q4_K_M      4e-2  1      K
EOF

skip() { echo "SKIP $case: $*"; skipped=$((skipped + 1)); }

while read -r when arch wtype quant tol ranks opts <&3; do
    case "$when" in now|later) ;; *) continue ;; esac
    case $opts in -) opts="" ;; K) opts=$K ;; esac
    case="$arch $wtype${quant#-}"
    [ "$quant" = - ] || case="$arch $quant (llama.cpp's quantizer, from $wtype)"
    f=$tmp/m.gguf
    # shellcheck disable=SC2086
    if ! "$py" "$here/gguf_write.py" "$tmp/w.gguf" --arch "$arch" --type "$wtype" --seed 3 \
            --tokenizer-model llama $opts > "$tmp/err" 2>&1; then
        if [ "$when" = later ]; then skip "gguf_write.py cannot write it yet: $(tail -n 1 "$tmp/err")"; continue; fi
        echo "FAIL $case: gguf_write.py: $(tail -n 1 "$tmp/err")"; fail=1; continue
    fi
    if [ "$quant" = - ]; then
        mv "$tmp/w.gguf" "$f"
    else
        qtype=${quant%:pure} pure=""
        [ "$quant" = "$qtype" ] || pure=--pure
        "$peer" quantize "$tmp/w.gguf" "$f" "$qtype" $pure > "$tmp/err" 2>&1 || {
            echo "FAIL $case: llama.cpp's quantizer: $(tail -n 1 "$tmp/err")"; fail=1; continue; }
    fi
    if ! "$peer" greedy -m "$f" -p $prompt -n $n --dump-logits "$tmp/ref.bin" > "$tmp/ref.txt" 2> "$tmp/err"; then
        # On a CPU with AMX libllama picks its sapphirerapids backend, whose AMX
        # path aborts on some files (seen: deepseek2 q8_0); its AVX-512 backend
        # is the same llama.cpp without it. Said, never silent.
        grep -q "died of signal" "$tmp/err" || { echo "FAIL $case: llama.cpp: $(tail -n 1 "$tmp/err")"; fail=1; continue; }
        echo "note $case: llama.cpp's default CPU backend: $(tail -n 1 "$tmp/err"); again with --cpu-variant skylakex"
        "$peer" greedy --cpu-variant skylakex -m "$f" -p $prompt -n $n --dump-logits "$tmp/ref.bin" \
                > "$tmp/ref.txt" 2> "$tmp/err" || {
            echo "FAIL $case: llama.cpp: $(tail -n 1 "$tmp/err")"; fail=1; continue; }
    fi
    # a type or architecture llm refuses with a message: a skip for "later" cases only
    if ! "$bin" inspect -m "$f" -q --no-output > /dev/null 2> "$tmp/err"; then
        if [ "$when" = later ]; then skip "llm does not load it yet: $(head -n 1 "$tmp/err")"; continue; fi
        echo "FAIL $case: llm refuses it: $(head -n 1 "$tmp/err")"; fail=1; continue
    fi
    for np in $(echo "$ranks" | tr , ' '); do
        # shellcheck disable=SC2086
        "$launch" $np "$bin" generate -m "$f" --prompt-ids $prompt -n $n --print-ids --ignore-eos -q --no-output $kv --dump-logits "$tmp/llm.bin" \
            > "$tmp/llm.txt" 2> "$tmp/err"
        rc=$?
        [ $rc = 77 ] && exit 77
        if [ $rc != 0 ]; then echo "FAIL $case np=$np: llm exits $rc: $(head -n 1 "$tmp/err")"; fail=1; continue; fi
        if "$py" "$here/compare_logits.py" "$tmp/ref.bin" "$tmp/llm.bin" $vocab $tol "$tmp/ref.txt" "$tmp/llm.txt" \
                > "$tmp/cmp"; then
            echo "ok $case np=$np: llama.cpp $(cat "$tmp/ref.txt"); llm $(cat "$tmp/llm.txt"); $(cat "$tmp/cmp")"
            ran=$((ran + 1))
        else
            echo "FAIL $case np=$np: llama.cpp $(cat "$tmp/ref.txt"); llm $(cat "$tmp/llm.txt"): $(cat "$tmp/cmp")"
            fail=1
        fi
    done
    # keep one file for the check below
    [ "$arch $wtype$quant" = "qwen3 f32-" ] && cp "$tmp/ref.bin" "$tmp/q3.bin" && cp "$tmp/ref.txt" "$tmp/q3.txt"
done 3< "$tmp/cases"

# The comparison can fail: llm on a model of another seed is not within tolerance of llama.cpp.
"$py" "$here/gguf_write.py" "$tmp/other.gguf" --arch qwen3 --type f32 --seed 4 --tokenizer-model llama
"$launch" 1 "$bin" generate -m "$tmp/other.gguf" --prompt-ids $prompt -n $n --print-ids --ignore-eos -q --no-output --dump-logits "$tmp/other.bin" \
    > "$tmp/other.txt" 2>&1
if "$py" "$here/compare_logits.py" "$tmp/q3.bin" "$tmp/other.bin" $vocab 4e-2 "$tmp/q3.txt" "$tmp/other.txt" > /dev/null; then
    echo "FAIL: another model's logits pass the comparison with llama.cpp's"; fail=1
fi
echo "llama-ref: $ran comparisons agree, $skipped cases skipped"
[ $ran -gt 0 ] || fail=1
exit $fail
