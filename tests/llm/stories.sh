#!/bin/sh
# A real trained model: stories260K (llama2.c format, ../shared/models, not part
# of the project; skip when absent). Its greedy continuation of a fixed prompt
# of token ids is pinned, on 1 rank and on 3 (uneven split of 8 heads and
# 4 KV heads), and from a prompt fed in one batch and token by token.
#
# How the expected ids were obtained, independently of the C code: by
# tests/llm/ref.py, a float64 numpy forward pass written from llama2.c's
# checkpoint layout (header, then token_embedding, rms_att, wq, wk, wv, wo,
# rms_ffn, w1, w2, w3, rms_final, freq_cis; classifier shared), with
#   ref.py stories260K.bin --prompt 1,461,401,378 -n 24
# When numpy is there, the test re-derives them the same way and checks the
# pin too.
set -u
model=${CB_SHARED_DIR:-$top_srcdir/../shared}/models/stories260K.bin
[ -f "$model" ] || { echo "no $model: skipping"; exit 77; }
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
prompt=1,461,401,378
expected="390 469 469 403 362 362 339 424 424 283 340 289 378 325 283 419 457 407 407 407 407 407 407 465"
fail=0
for args in "1 -b 512" "3 -b 512" "2 -b 1" "4 -b 3"; do
    set -- $args
    out=$("$launch" $1 "$bin" generate -m "$model" --prompt-ids $prompt -n 24 -q $2 $3)
    rc=$?
    [ $rc = 77 ] && exit 77
    echo "np=$1 $2 $3: $out"
    [ $rc = 0 ] && [ "$out" = "$expected" ] || { echo "FAIL: expected $expected"; fail=1; }
done
py=${PYTHON3:-/usr/bin/python3}
if "$py" -c "import numpy" 2>/dev/null; then
    ref=$("$py" "$top_srcdir/tests/llm/ref.py" "$model" --prompt $prompt -n 24)
    echo "numpy reference: $ref"
    [ "$ref" = "$expected" ] || { echo "FAIL: the numpy reference no longer gives the pinned ids"; fail=1; }
fi
# The pin can fail: another prompt continues differently.
out=$("$launch" 1 "$bin" generate -m "$model" --prompt-ids 1,300 -n 24 -q)
[ "$out" != "$expected" ] || { echo "FAIL: a different prompt matches the pin"; fail=1; }
exit $fail
