#!/bin/sh
# The other paths of llm: the recursive-doubling allreduce (np = 2, 3, 4:
# power of two and not) gives np=1's tokens; sampled generation (temperature,
# top-p, seed) is the same on 1 and 3 ranks and differs with another seed;
# GGUF v2 reads like v3; bench writes its rows to /llm/bench in the HDF5 file; --roofline names
# the bound of a prompt (int8 for quantized weights, sgemm for float ones); inspect prints the
# per-rank plan.
set -u
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
py=${PYTHON3:-/usr/bin/python3}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
shape="--shape tiny-qwen3 --type q8_0"
ref=$("$launch" 1 "$bin" generate $shape --prompt-ids 1,2,3 -n 12 -q)
rc=$?
[ $rc = 77 ] && exit 77
echo "np=1: $ref"
for np in 2 3 4; do
    out=$("$launch" $np "$bin" generate $shape --prompt-ids 1,2,3 -n 12 -q --allreduce rd)
    echo "np=$np rd: $out"
    [ "$out" = "$ref" ] || { echo "FAIL: rd allreduce at np=$np"; fail=1; }
done
# (KV cache in f32: an F16 cache turns the last-bit differences of sums in
# another order into steps of an F16 ulp, enough to move a sampled token)
s1=$("$launch" 1 "$bin" generate $shape --prompt-ids 1 -n 16 -q --temp 0.9 --top-p 0.95 --seed 7 --kv-type f32)
s3=$("$launch" 3 "$bin" generate $shape --prompt-ids 1 -n 16 -q --temp 0.9 --top-p 0.95 --seed 7 --kv-type f32)
s9=$("$launch" 1 "$bin" generate $shape --prompt-ids 1 -n 16 -q --temp 0.9 --top-p 0.95 --seed 9)
echo "sampled: seed 7 np=1 $s1; np=3 $s3; seed 9 $s9"
[ -n "$s1" ] && [ "$s1" = "$s3" ] || { echo "FAIL: sampling differs between np=1 and np=3"; fail=1; }
[ "$s1" != "$s9" ] || { echo "FAIL: another seed samples the same tokens"; fail=1; }

"$launch" 2 "$bin" bench $shape -p 8 -n 4 -r 2 -o "$tmp/b.h5" --format csv > "$tmp/out" 2> "$tmp/err" || {
    echo "FAIL: bench"; cat "$tmp/err"; fail=1; }
cat "$tmp/out"
if "$py" -c "import h5py" 2>/dev/null; then
    "$py" - "$tmp/b.h5" <<'PY' || fail=1
import sys, h5py
f = h5py.File(sys.argv[1], "r")
rows = f["/llm/bench"][:]
tests = [t.decode() for t in rows["test"]]
ok = tests == ["pp8", "tg4"] and all(rows["avg_ts"] > 0) and all(rows["n_ranks"] == 2) \
    and f.attrs["status"] in (b"complete", "complete")
print("/llm/bench:", tests, list(rows["avg_ts"]), "ok" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
fi
# --roofline: a prompt with quantized weights is bounded by the int8 rate the
# integer GEMM issues, one with float weights by sgemm's; both rates are measured.
if "$py" -c "import h5py" 2>/dev/null; then
    for t in q8_0 f32; do
        "$launch" 1 "$bin" bench --shape tiny-qwen3 --type $t -p 8 -n 2 -r 1 --roofline -o "$tmp/r-$t.h5" \
            > /dev/null 2> "$tmp/err" || { echo "FAIL: bench --roofline ($t)"; cat "$tmp/err"; fail=1; }
    done
    "$py" - "$tmp/r-q8_0.h5" "$tmp/r-f32.h5" <<'PY' || fail=1
import sys, h5py
ok = True
for path, bound in zip(sys.argv[1:], ("int8", "sgemm")):
    f = h5py.File(path, "r")
    a = f.attrs
    got = a["llm_pp_bound"].decode() if isinstance(a["llm_pp_bound"], bytes) else str(a["llm_pp_bound"])
    rows = f["/llm/bench"][:]
    good = got == bound and a["llm_int8_Gops"] > 0 and a["llm_sgemm_Gflops"] > 0 and all(rows["roofline_ts"] > 0)
    print(f"roofline {path}: pp bound {got}, int8 {a['llm_int8_Gops']:.1f} Gop/s, sgemm {a['llm_sgemm_Gflops']:.1f} Gflop/s,",
          "roofs", list(rows["roofline_ts"]), "ok" if good else f"FAIL (expected the {bound} bound)")
    ok = ok and good
sys.exit(0 if ok else 1)
PY
fi
# GGUF v2 (the version before v3's big-endian note; same layout) reads as v3.
if "$py" -c "import numpy" 2>/dev/null; then
    for v in 2 3; do
        "$py" "$top_srcdir/tests/llm/gguf_write.py" "$tmp/v$v.gguf" --arch llama --type q4_0 --version $v --seed 5
    done
    o2=$("$launch" 2 "$bin" generate -m "$tmp/v2.gguf" --prompt-ids 1,2 -n 8 -q)
    o3=$("$launch" 2 "$bin" generate -m "$tmp/v3.gguf" --prompt-ids 1,2 -n 8 -q)
    echo "GGUF v2: $o2; v3: $o3"
    [ -n "$o2" ] && [ "$o2" = "$o3" ] || { echo "FAIL: GGUF v2 and v3 differ"; fail=1; }
fi
"$launch" 1 "$bin" inspect $shape --np 3 > "$tmp/out" 2>&1
grep -q "^ *2 *0-1 *2-3 *1-1 " "$tmp/out" || { echo "FAIL: inspect's plan for rank 2 of 3"; cat "$tmp/out"; fail=1; }
exit $fail
