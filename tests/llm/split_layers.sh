#!/bin/sh
# The layer split (--split layers): each rank a contiguous range of layers,
# the residual stream passed on rank to rank, on small GGUFs gguf_write.py
# writes (4 layers):
#   - llama F32, qwen3 Q8_0 (tied output), a qwen3moe MoE (Q8_0) and deepseek2
#     (MLA, a dense leading layer): np = 2, 3, 4 give the same greedy tokens
#     and logits as the tensor split on as many ranks and as np = 1, within
#     equiv.sh's tolerances (compare_logits.py);
#   - uneven --shard-weights share the layers (inspect shows each rank's
#     layers and memory), and give the same tokens;
#   - llm bench runs it and records the split in its HDF5 rows;
#   - more ranks than layers is refused with one line on every rank;
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

run() { # NP OUT_PREFIX MODEL [options]: generate, logits to OUT.bin, tokens to OUT.txt
    rnp=$1 out=$2 model=$3; shift 3
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

for model in "llama f32" "qwen3 q8_0 --tied" "qwen3moe q8_0 --experts 8 --experts-used 2" "deepseek2 f32 --dense-lead 1"; do
    set -- $model
    arch=$1 type=$2; shift 2
    case $type in q*) tol=2e-2 ;; *) tol=1e-4 ;; esac
    m=$tmp/$arch.gguf
    c=$tmp/$arch
    "$py" "$here/gguf_write.py" "$m" --arch $arch --type $type --seed 3 --layers 4 "$@" > /dev/null || { echo "FAIL: writer"; exit 1; }
    run 1 "$c-t1" "$m" || continue
    for np in 2 3 4; do
        run $np "$c-t$np" "$m" || continue
        run $np "$c-l$np" "$m" --split layers || continue
        same "$c-t$np" "$c-l$np" $tol "$arch $type --split layers np=$np against --split tensor np=$np"
        same "$c-t1" "$c-l$np" $tol "$arch $type --split layers np=$np against np=1"
    done
    echo "$arch $type --split layers np=2..4: $(cat "$c-l4.txt") (tensor: $(cat "$c-t4.txt"))"
done

# Uneven shares of the layers: 1,3 gives rank 0 one layer, rank 1 three.
m=$tmp/llama.gguf
run 2 "$tmp/w13" "$m" --split layers --shard-weights 1,3 && same "$tmp/llama-t1" "$tmp/w13" 1e-4 "--split layers --shard-weights 1,3"
"$bin" inspect -m "$m" --np 2 --split layers --shard-weights 1,3 > "$tmp/inspect.txt" 2>&1 || {
    echo "FAIL: inspect --split layers"; cat "$tmp/inspect.txt"; fail=1; }
grep -q "layer split" "$tmp/inspect.txt" || { echo "FAIL: inspect does not name the layer split"; fail=1; }
grep -Eq "^ +0 +0-0 " "$tmp/inspect.txt" && grep -Eq "^ +1 +1-3 " "$tmp/inspect.txt" || {
    echo "FAIL: inspect shows not layers 0-0 and 1-3:"; grep -E "^ +[01] " "$tmp/inspect.txt"; fail=1; }
grep -E "^# +rank|^ +[01] " "$tmp/inspect.txt"
# A MoE model's layers with their experts, four ranks a layer each.
"$bin" inspect -m "$tmp/qwen3moe.gguf" --np 4 --split layers > "$tmp/inspect4.txt" 2>&1 &&
    grep -Eq "^ +3 +3-3 " "$tmp/inspect4.txt" || { echo "FAIL: inspect --np 4 --split layers (MoE)"; cat "$tmp/inspect4.txt"; fail=1; }

# bench: the split recorded in every row.
"$launch" 2 "$bin" bench -m "$m" --split layers -p 8 -n 4 -r 1 --no-warmup -q -o "$tmp/b.h5" > "$tmp/bench.txt" 2> "$tmp/err" || {
    echo "FAIL: bench --split layers"; cat "$tmp/err"; fail=1; }
"$py" - "$tmp/b.h5" > "$tmp/h5.txt" 2>&1 <<'EOF' || { echo "FAIL: bench's HDF5: $(cat "$tmp/h5.txt")"; fail=1; }
import sys
import h5py
f = h5py.File(sys.argv[1], "r")
rows = f["llm/bench"][:]
splits = {r["split"].decode() for r in rows}
assert len(rows) == 2 and splits == {"layers"}, (len(rows), splits)
assert all(r["avg_ts"] > 0 for r in rows)
split = f.attrs["llm_split"]
split = split.decode() if isinstance(split, bytes) else str(split)
assert split == "layers", split
print("bench rows:", [(r["test"].decode(), r["split"].decode(), round(float(r["avg_ts"]), 1)) for r in rows])
EOF
cat "$tmp/h5.txt"

# More ranks than layers: one line, non-zero exit on every rank.
"$py" "$here/gguf_write.py" "$tmp/two.gguf" --arch llama --type f32 --layers 2 > /dev/null || exit 1
"$launch" 3 "$bin" generate -m "$tmp/two.gguf" --split layers --prompt-ids 1 -n 1 -q > /dev/null 2> "$tmp/err" && {
    echo "FAIL: 3 ranks over 2 layers run"; fail=1; }
grep -q "^llm: --split layers: 3 ranks but the model has 2 layers" "$tmp/err" || {
    echo "FAIL: no clear refusal: $(head -3 "$tmp/err")"; fail=1; }
grep "^llm: " "$tmp/err" | head -1

# The comparison can fail: a model of another seed gives other logits.
"$py" "$here/gguf_write.py" "$tmp/other.gguf" --arch llama --type f32 --seed 4 --layers 4 > /dev/null || exit 1
run 2 "$tmp/other" "$tmp/other.gguf" --split layers &&
    "$py" "$here/compare_logits.py" "$tmp/llama-t1.bin" "$tmp/other.bin" $vocab 1e-4 "$tmp/llama-t1.txt" "$tmp/other.txt" > /dev/null 2>&1 && {
    echo "FAIL: another model's logits pass the comparison"; fail=1; }
exit $fail
