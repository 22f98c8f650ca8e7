#!/bin/sh
# Every --allreduce option gives np=1's greedy tokens at np = 2, 3, 4
# (oversubscribed; the model has 4 heads), over shared memory and, for the UCX ones, over tcp; a
# prompt batch and single tokens make consecutive calls of different sizes.
# The UCX algorithms all sum in rank order, so their logits are bitwise
# identical to each other (auto may choose MPI_Allreduce, so it is left out); rd's differ in the last bits, which shows that
# the bitwise comparison can fail.
set -u
bin=$top_builddir/llm/llm
launch=$top_srcdir/tests/launch
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
: "${CB_TEST_TIMEOUT:=120}"
export CB_TEST_TIMEOUT
fail=0
shape="--shape tiny-qwen3 --type q8_0"
gen="generate $shape --prompt-ids 1,2,3,4,5 -n 10 -q"
ref=$("$launch" 1 "$bin" $gen)
rc=$?
[ $rc = 77 ] && exit 77
echo "np=1: $ref"
for np in 2 3 4; do
    for alg in mpi rd ucx oneshot twoshot am auto; do
        out=$("$launch" $np "$bin" $gen --allreduce $alg --dump-logits "$tmp/$np-$alg.bin" 2> "$tmp/err")
        [ "$out" = "$ref" ] || { echo "FAIL: --allreduce $alg at np=$np: $out"; cat "$tmp/err"; fail=1; }
    done
    for alg in ucx twoshot am; do
        cmp -s "$tmp/$np-oneshot.bin" "$tmp/$np-$alg.bin" || { echo "FAIL: np=$np: $alg's logits differ from oneshot's"; fail=1; }
    done
    echo "np=$np: every option gives np=1's tokens; UCX logits bitwise equal"
done
cmp -s "$tmp/4-oneshot.bin" "$tmp/4-rd.bin" && { echo "FAIL: rd's logits equal oneshot's bit for bit: the comparison proves nothing"; fail=1; }
for alg in oneshot twoshot am auto; do
    out=$(UCX_TLS=tcp "$launch" 3 "$bin" $gen --allreduce $alg 2> "$tmp/err")
    [ "$out" = "$ref" ] || { echo "FAIL: --allreduce $alg over tcp: $out"; cat "$tmp/err"; fail=1; }
done
echo "tcp: every UCX option gives np=1's tokens"
# bench records the algorithm, what auto chose and the calls per token.
"$launch" 2 "$bin" bench $shape -p 4 -n 3 -r 1 --allreduce auto -o "$tmp/b.h5" > "$tmp/out" 2> "$tmp/err" || {
    echo "FAIL: bench --allreduce auto"; cat "$tmp/err"; fail=1; }
cat "$tmp/out"
grep -q '^# allreduce: auto: 64 floats over' "$tmp/out" || { echo "FAIL: bench does not say what auto chose"; fail=1; }
"$launch" 2 "$bin" bench $shape -p 4 -n 3 -r 1 --allreduce auto --no-output --format csv 2> "$tmp/err" |
    /usr/bin/python3 -c 'import csv, sys
rows = [r for r in csv.DictReader(sys.stdin) if r.get("test") == "tg3"]
sys.exit(0 if rows and float(rows[0]["comm_calls_per_tok"]) == 5.0 else 1)' || { echo "FAIL: tg3 row lacks 5 allreduces per token (1 + 2 layers x 2)"; fail=1; }
if "${PYTHON3:-/usr/bin/python3}" -c "import h5py" 2>/dev/null; then
    "${PYTHON3:-/usr/bin/python3}" - "$tmp/b.h5" <<'PY' || { echo "FAIL: the HDF5 file lacks auto's choice or the allreduces per token"; fail=1; }
import sys, h5py
f = h5py.File(sys.argv[1], "r")
a = f.attrs["llm_allreduce"]
a = a.decode() if isinstance(a, bytes) else str(a)
rows = f["/llm/bench"][:]
assert a.startswith("auto: 64 floats over "), a
assert list(rows["comm_calls_per_tok"])[-1] == 5.0, rows["comm_calls_per_tok"]
assert all(r.decode() == "auto" for r in rows["allreduce"])
PY
fi
exit $fail
