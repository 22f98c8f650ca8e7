#!/bin/sh
# RoPE scaling as GGUF files carry it: linear, YaRN and Llama 3.1's
# rope_freqs.weight on a llama model (small base and original context, so
# that the scaled pairs turn within the test's positions). For each: np = 1
# agrees with ref.py (Hugging Face's formulas, float64) and np = 2 with np = 1;
# the scaling is not ignored (the unscaled model's logits differ); a scaling
# llm does not compute (longrope) is refused with one line and a non-zero exit.
set -u
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
here=$top_srcdir/tests/llm
py=${PYTHON3:-/usr/bin/python3}
"$py" -c "import numpy" 2>/dev/null || { echo "no numpy in $py: skipping"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
prompt=1,7,42,200,9,77,13,5
n=8
vocab=256
base="--theta 100 --rope-orig 16"
"$py" "$here/gguf_write.py" "$tmp/none.gguf" --arch llama --seed 3 $base || exit 1
"$launch" 1 "$bin" generate -m "$tmp/none.gguf" --prompt-ids $prompt -n $n -q --kv-type f32 --dump-logits "$tmp/none.bin" > /dev/null 2>&1
for s in linear yarn llama3; do
    for type in f32 q8_0; do
        case $type in q*) tol=2e-2 ;; *) tol=1e-4 ;; esac
        m=$tmp/$s-$type.gguf
        "$py" "$here/gguf_write.py" "$m" --arch llama --type $type --seed 3 $base --rope-scaling $s --rope-factor 4 || exit 1
        "$py" "$here/ref.py" "$m" --prompt $prompt -n $n --batch-prompt --dump-logits "$tmp/ref.bin" > "$tmp/ref.txt" || exit 1
        for np in 1 2; do
            "$launch" $np "$bin" generate -m "$m" --prompt-ids $prompt -n $n -q --kv-type f32 --dump-logits "$tmp/c$np.bin" > "$tmp/c$np.txt" 2> "$tmp/err"
            rc=$?
            [ $rc = 77 ] && exit 77
            [ $rc = 0 ] || { echo "FAIL: $s $type np=$np exits $rc: $(head -n 1 "$tmp/err")"; fail=1; }
        done
        "$py" "$here/compare_logits.py" "$tmp/ref.bin" "$tmp/c1.bin" $vocab $tol "$tmp/ref.txt" "$tmp/c1.txt" > "$tmp/cmp" ||
            { echo "FAIL: $s $type against numpy: $(cat "$tmp/cmp")"; fail=1; }
        "$py" "$here/compare_logits.py" "$tmp/c1.bin" "$tmp/c2.bin" $vocab $tol "$tmp/c1.txt" "$tmp/c2.txt" > "$tmp/cmp2" ||
            { echo "FAIL: $s $type np=2: $(cat "$tmp/cmp2")"; fail=1; }
        echo "$s $type: $(cat "$tmp/c1.txt"); numpy $(cat "$tmp/cmp")"
        if [ $type = f32 ] && "$py" "$here/compare_logits.py" "$tmp/none.bin" "$tmp/c1.bin" $vocab 1e-3 > /dev/null; then
            echo "FAIL: $s changes nothing: the scaling is ignored"; fail=1
        fi
    done
done
# Refused, not run wrongly.
"$py" "$here/gguf_write.py" "$tmp/lr.gguf" --arch llama --seed 3 --rope-scaling longrope
"$launch" 1 "$bin" generate -m "$tmp/lr.gguf" --prompt-ids 1 -n 1 -q > "$tmp/out" 2> "$tmp/err"
rc=$?
lines=$(grep -c '^llm:' "$tmp/err")
if [ $rc = 0 ] || [ "$lines" != 1 ] || ! grep -q "longrope.*not supported" "$tmp/err"; then
    echo "FAIL: longrope: exit $rc, $lines error lines: $(cat "$tmp/err")"; fail=1
else
    echo "longrope refused: $(grep '^llm:' "$tmp/err")"
fi
exit $fail
