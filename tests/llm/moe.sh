#!/bin/sh
# Mixtures of experts (qwen3moe), on small GGUFs written by gguf_write.py in
# F32 and Q8_0, with more experts than ranks (8), an uneven count (3 experts:
# 2 + 1 on two ranks) and fewer experts than ranks (3 on 4 ranks, 2 on 3 and 4:
# each expert's FFN split across ranks):
#   - np = 1, 2, 3, 4 give the same greedy tokens and logits within the
#     tolerance of equiv.sh (compare_logits.py);
#   - ref.py's independent numpy forward agrees with np = 1, its router's
#     choices equal llm's (--dump-routing) and its weights agree within 1e-5;
#   - every rank's routing is bitwise identical to rank 0's (--dump-routing
#     files), and the in-run check (a hash compared over the ranks) is shown
#     to catch a rank that routes differently (LLM_TEST_ROUTING_FAULT);
#   - uneven --shard-weights, round-robin and balanced placement (from a
#     profile llm bench --save-routing wrote) give the same tokens;
#   - --expert-placement split (every expert's FFN across all ranks) gives
#     np = 1's tokens and logits at np = 2, 3, 4 (F32 and Q8_0, with uneven
#     --shard-weights too), and is refused on every rank, with one line,
#     where an expert has fewer blocks than ranks;
#   - the fused token step (llm_moe_kern.c, LLM_MOE_FUSED=1) agrees with the
#     products one by one;
#   - shared experts (synthetic) give the same logits on 1 and 3 ranks;
#   - the comparison is shown able to fail: a model of another seed differs.
set -u
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

# The routes of two dumps: the same experts line by line (in each layer's
# token order), weights within tol.
cat > "$tmp/routes.py" <<'EOF'
import sys
def load(path):
    by = {}
    for line in open(path):
        f = line.split()
        l, rest = int(f[0]), f[1:]
        k = len(rest) // 2
        by.setdefault(l, []).append(([int(e) for e in rest[:k]], [float.fromhex(w) if "x" in w else float(w) for w in rest[k:]]))
    return by
a, b, tol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
if sorted(a) != sorted(b) or any(len(a[l]) != len(b[l]) for l in a):
    print("routes: different layers or token counts"); sys.exit(1)
worst = 0.0
for l in a:
    for i, ((ea, wa), (eb, wb)) in enumerate(zip(a[l], b[l])):
        if ea != eb:
            print("routes: layer %d token %d: experts %s and %s" % (l, i, ea, eb)); sys.exit(1)
        worst = max([worst] + [abs(x - y) for x, y in zip(wa, wb)])
if worst > tol:
    print("routes: weights differ by %.3g > %.3g" % (worst, tol)); sys.exit(1)
print("routes agree (weights within %.2g)" % worst)
EOF

run() { # NP OUT_PREFIX MODEL [options]: generate, logits to OUT.bin, tokens to OUT.txt
    local rnp=$1 out=$2 model=$3; shift 3
    "$launch" $rnp "$bin" generate -m "$model" --prompt-ids $prompt -n $n -q --kv-type f32 --dump-logits "$out.bin" "$@" > "$out.txt" 2> "$tmp/err"
    rc=$?
    [ $rc = 77 ] && exit 77
    [ $rc = 0 ] || { echo "FAIL: np=$rnp $model $* exits $rc"; cat "$tmp/err"; fail=1; return 1; }
}

same() { # REF OTHER TOL WHAT
    "$py" "$here/compare_logits.py" "$1.bin" "$2.bin" $vocab $3 "$1.txt" "$2.txt" > "$tmp/cmp" || {
        echo "FAIL: $4 (tokens $(cat "$2.txt"), reference $(cat "$1.txt")): $(cat "$tmp/cmp")"; fail=1; return 1; }
    grep -q near-tie "$tmp/cmp" && echo "$4: $(cat "$tmp/cmp")"
    return 0
}

for type in f32 q8_0; do
    case $type in q*) tol=2e-2 ;; *) tol=1e-4 ;; esac
    for ex in 8:2 3:2 2:1; do
        E=${ex%:*} K=${ex#*:}
        m=$tmp/moe-$type-$E.gguf
        c=$tmp/$type-$E
        "$py" "$here/gguf_write.py" "$m" --arch qwen3moe --type $type --seed 3 --experts $E --experts-used $K \
            --expert-ffn 64 || { echo "FAIL: writer"; exit 1; }
        run 1 "$c-np1" "$m" --dump-routing "$c-np1.routes" || continue
        for np in 2 3 4; do
            run $np "$c-np$np" "$m" --dump-routing "$c-np$np.routes" || continue
            same "$c-np1" "$c-np$np" $tol "$type $E experts np=$np"
            r=1
            while [ $r -lt $np ]; do
                cmp -s "$c-np$np.routes" "$c-np$np.routes.$r" || {
                    echo "FAIL: $type $E experts np=$np: rank $r's routing is not rank 0's"; fail=1; }
                r=$((r + 1))
            done
        done
        echo "qwen3moe $type $E experts ($K used) np=1..4: $(cat "$c-np1.txt")"
        # The numpy reference: the prompt in one batch (float activations), then token by token.
        "$py" "$here/ref.py" "$m" --prompt $prompt -n $n --batch-prompt --dump-logits "$c-ref.bin" \
            --routes "$c-ref.routes" > "$c-ref.txt" || exit 1
        same "$c-ref" "$c-np1" $tol "$type $E experts against numpy"
        "$py" "$tmp/routes.py" "$c-ref.routes" "$c-np1.routes" 1e-5 > "$tmp/cmp" || {
            echo "FAIL: $type $E experts: routing against numpy: $(cat "$tmp/cmp")"; fail=1; }
    done
done

# Token by token (matrix-vector products on quantized activations), 8 experts over 3 ranks.
m=$tmp/moe-q8_0-8.gguf
"$py" "$here/ref.py" "$m" --prompt $prompt -n $n --dump-logits "$tmp/ref1.bin" > "$tmp/ref1.txt" || exit 1
run 3 "$tmp/b1" "$m" -b 1 && same "$tmp/ref1" "$tmp/b1" 2e-2 "q8_0 token by token against numpy"

# Uneven hosts and expert placement: the same tokens.
c=$tmp/q8_0-8
run 2 "$tmp/w13" "$m" --shard-weights 1,3 && same "$c-np1" "$tmp/w13" 2e-2 "--shard-weights 1,3"
run 3 "$tmp/w311" "$m" --shard-weights 3,1,1 --expert-placement round-robin &&
    same "$c-np1" "$tmp/w311" 2e-2 "--shard-weights 3,1,1 round-robin"
run 4 "$tmp/w4" "$tmp/moe-f32-3.gguf" --shard-weights 1,2,2,5 && same "$tmp/f32-3-np1" "$tmp/w4" 1e-4 "--shard-weights 1,2,2,5, 3 experts"
"$launch" 2 "$bin" bench -m "$m" -p 8 -n 4 -r 1 --no-warmup -q -o "$tmp/b.h5" --save-routing "$tmp/profile" > "$tmp/bench.txt" 2> "$tmp/err" || {
    echo "FAIL: bench --save-routing"; cat "$tmp/err"; fail=1; }
grep -q "rank 1: .* expert evaluations per token" "$tmp/bench.txt" || { echo "FAIL: bench prints no per-rank expert load"; fail=1; }
run 3 "$tmp/bal" "$m" --expert-placement balanced --routing-profile "$tmp/profile" &&
    same "$c-np1" "$tmp/bal" 2e-2 "balanced placement"
"$bin" inspect -m "$m" --np 3 --expert-placement balanced --routing-profile "$tmp/profile" > "$tmp/inspect.txt" 2>&1 || {
    echo "FAIL: inspect --expert-placement balanced"; cat "$tmp/inspect.txt"; fail=1; }
grep -q "experts balanced" "$tmp/inspect.txt" || { echo "FAIL: inspect shows no expert placement"; fail=1; }

# Split placement: every expert's FFN over all ranks (4 blocks of Q8_0 each).
for type in f32 q8_0; do
    case $type in q*) tol=2e-2 ;; *) tol=1e-4 ;; esac
    m=$tmp/split-$type.gguf
    c=$tmp/split-$type
    "$py" "$here/gguf_write.py" "$m" --arch qwen3moe --type $type --seed 5 --experts 8 --experts-used 3 \
        --expert-ffn 128 || { echo "FAIL: writer"; exit 1; }
    run 1 "$c-np1" "$m" || continue
    for np in 2 3 4; do
        run $np "$c-np$np" "$m" --expert-placement split && same "$c-np1" "$c-np$np" $tol "$type split placement np=$np"
    done
    run 3 "$c-w" "$m" --expert-placement split --shard-weights 1,2,1 &&
        same "$c-np1" "$c-w" $tol "$type split placement --shard-weights 1,2,1"
    # The products one by one (mpirun passes the environment to local ranks).
    export LLM_MOE_FUSED=1
    run 2 "$c-fused" "$m" --expert-placement split &&
        same "$c-np2" "$c-fused" $tol "$type fused token step against the products one by one"
    unset LLM_MOE_FUSED
    echo "qwen3moe $type split placement np=1..4: $(cat "$c-np1.txt")"
done
"$bin" inspect -m "$tmp/split-q8_0.gguf" --np 2 --expert-placement split > "$tmp/inspect.txt" 2>&1 || {
    echo "FAIL: inspect --expert-placement split"; cat "$tmp/inspect.txt"; fail=1; }
grep -q "0-7\[0:64\]" "$tmp/inspect.txt" || { echo "FAIL: inspect shows no split experts"; cat "$tmp/inspect.txt"; fail=1; }
# 2 blocks of 32 per expert cannot go to 3 ranks.
"$launch" 3 "$bin" generate -m "$tmp/moe-q8_0-8.gguf" --prompt-ids 1 -n 1 -q --expert-placement split > /dev/null 2> "$tmp/err" && {
    echo "FAIL: split placement over more ranks than an expert's blocks runs"; fail=1; }
[ "$(grep -c "^llm: --expert-placement split: 3 ranks" "$tmp/err")" -ge 1 ] || {
    echo "FAIL: split placement over too many ranks: no clear error: $(head -3 "$tmp/err")"; fail=1; }

# Shared experts (DeepSeek's, beside the routed ones) on a synthetic shape: np = 1 and 3 agree.
for np in 1 3; do
    "$launch" $np "$bin" generate --shape tiny-qwen3moe:shared_ffn=64 --prompt-ids $prompt -n $n -q --kv-type f32 \
        --dump-logits "$tmp/sh$np.bin" > "$tmp/sh$np.txt" 2> "$tmp/err" || { echo "FAIL: shared experts np=$np"; cat "$tmp/err"; fail=1; }
done
same "$tmp/sh1" "$tmp/sh3" 1e-4 "shared experts np=3"

# Hostile files: metadata that contradicts the tensors, or asks for more
# experts than exist, is refused with one line and a non-zero exit on every rank.
for bad in "--meta-experts 6" "--meta-experts-used 9" "--meta-experts 0"; do
    # shellcheck disable=SC2086
    "$py" "$here/gguf_write.py" "$tmp/bad.gguf" --arch qwen3moe --type f32 $bad || exit 1
    "$launch" 2 "$bin" generate -m "$tmp/bad.gguf" --prompt-ids 1 -n 1 -q > /dev/null 2> "$tmp/err" && {
        echo "FAIL: a GGUF written with $bad loads"; fail=1; }
    grep -Eq "^llm: .*(expert|ffn_gate_inp)" "$tmp/err" || { echo "FAIL: $bad: no clear error: $(head -3 "$tmp/err")"; fail=1; }
    grep "^llm: " "$tmp/err" | head -1
done

# The checks can fail: a rank that routes differently is caught, and stops the run on every rank.
LLM_TEST_ROUTING_FAULT=1 "$launch" 2 "$bin" generate -m "$m" --prompt-ids $prompt -n 2 -q > /dev/null 2> "$tmp/err" && {
    echo "FAIL: a rank routing differently is not detected"; fail=1; }
grep -q "routed tokens differently" "$tmp/err" || { echo "FAIL: no routing error message"; cat "$tmp/err"; fail=1; }
"$py" "$here/gguf_write.py" "$tmp/other.gguf" --arch qwen3moe --type f32 --seed 4
run 1 "$tmp/other" "$tmp/other.gguf" --dump-routing "$tmp/other.routes"
"$py" "$here/compare_logits.py" "$tmp/f32-8-np1.bin" "$tmp/other.bin" $vocab 2e-2 > /dev/null && {
    echo "FAIL: logits of a different model pass the comparison"; fail=1; }
"$py" "$tmp/routes.py" "$tmp/f32-8-np1.routes" "$tmp/other.routes" 1e-5 > /dev/null && {
    echo "FAIL: routes of a different model pass the comparison"; fail=1; }
exit $fail
