#!/bin/sh
# allreduce --alg: MPI_Allreduce, rd and every UCX algorithm side by side at
# np = 2, 3, 4, 5 (oversubscribed) over shared memory and tcp, with
# --validate (each element against its exact sum, every rank's bits against
# rank 0's), sizes of 7 floats times powers of two up to an odd 24999;
# a corrupted result fails; decode times a shape's token and gives its
# tokens/s ceiling; bad --alg, --shape and --np are refused.
. "$top_srcdir/tests/microbench/lib.sh"
algs=mpi,rd,oneshot,twoshot,am,am-twoshot,pull,auto
for np in 2 3 4 5; do
    mb_ok alg$np $np -m 28:99996 --iters 3 --warmup 1 --validate --alg $algs --tls posix+cma,tcp \
        -o "$tmp/alg$np.h5" allreduce
    # 28 B .. 57344 B (12 sizes) and 99996 B
    check_h5 "$tmp/alg$np.h5" --ranks $np allreduce=13
    for col in mpi_lat_p50_us rd_lat_p50_us oneshot_posix_cma_lat_p50_us twoshot_tcp_lat_p99_us \
        am_twoshot_posix_cma_lat_avg_us auto_tcp_lat_p50_us ratio_oneshot_tcp_over_mpi; do
        "$PYTHON3" -c "import h5py,sys; sys.exit(0 if '$col' in h5py.File('$tmp/alg$np.h5')['/microbench/allreduce'].dtype.names else 1)" ||
            fail "np=$np: no column $col"
    done
done
grep -q 'oneshot over UCX tcp: .*rma emulated' "$tmp/alg3.out" || fail "tcp's puts not recognised as emulated"
grep -q 'oneshot over UCX posix+cma: .*rma native' "$tmp/alg3.out" || fail "shared memory's puts not recognised as native"
mb_run corrupt 3 -m 4:4K --iters 3 --warmup 1 --validate --inject-corruption --alg oneshot,twoshot --no-output allreduce &&
    fail "a corrupted allreduce passed --validate"
grep -q 'rank 2: validation failed: allreduce oneshot' "$tmp/corrupt.err" || fail "the corruption was not reported"
mb_ok decode 4 decode --shape qwen3-235b-a22b --np 4 --alg mpi,oneshot,auto --tls posix+cma --iters 3 --warmup 1 \
    -o "$tmp/decode.h5"
grep -q '^# decode qwen3-235b-a22b: 189 allreduces of 4096 floats (16384 B) per token' "$tmp/decode.out" ||
    fail "decode does not run 189 allreduces of 16 KiB"
check_h5 "$tmp/decode.h5" --ranks 4 decode=1
"$PYTHON3" - "$tmp/decode.h5" <<'PY' || fail "decode's ceiling is not 1e6 / p50"
import sys, h5py
d = h5py.File(sys.argv[1])["/microbench/decode"][0]
for b in ("mpi", "oneshot_posix_cma", "auto_posix_cma"):
    assert abs(d[b + "_ceiling_tok_per_s"] * d[b + "_lat_p50_us"] - 1e6) < 1e-3, b
PY
mb_run badnp 2 decode --np 4 --no-output && fail "--np 4 accepted on 2 ranks"
grep -q 'microbench: --np 4: this run has 2 ranks' "$tmp/badnp.err" || fail "--np message"
mb_run badalg 2 allreduce --alg mpi,threeshot --no-output && fail "--alg threeshot accepted"
grep -q "unknown algorithm 'threeshot'" "$tmp/badalg.err" || fail "--alg message"
mb_run badshape 2 decode --shape qwen9 --no-output && fail "--shape qwen9 accepted"
grep -q "unknown shape" "$tmp/badshape.err" || fail "--shape message"
echo PASS
