#!/bin/sh
# --validate can fail: with --inject-corruption one received byte (or the
# fetched atomic value) is flipped, and every layer's check must catch it
# with one "validation failed" line and a non-zero exit on every rank.
. "$top_srcdir/tests/microbench/lib.sh"
expect_caught() {
    name=$1; shift
    if mb_run "$name" "$@" --iters 3 --warmup 0 --window 2 --validate --inject-corruption --no-output; then
        fail "$name: a corrupted byte went unnoticed"
    fi
    grep -q "^microbench: .*validation failed: " "$tmp/$name.err" || fail "$name: no 'validation failed' line"
    [ "$(grep -c 'validation failed' "$tmp/$name.err")" = 1 ] || fail "$name: the error was printed more than once"
}
expect_caught latency 2 -m 64:64 latency
expect_caught bw 2 -m 1K:1K bw
expect_caught bibw 2 -m 1K:1K bibw
expect_caught allreduce 3 -m 64:64 allreduce
expect_caught bcast 3 -m 64:64 bcast
expect_caught alltoall 4 -m 64:64 alltoall
expect_caught reduce_scatter 3 -m 64:64 reduce_scatter
expect_caught put_lat 2 -m 64:64 put_lat
expect_caught get_bw 2 -m 64:64 get_bw
expect_caught acc_lat 2 acc_lat
expect_caught memcpy 2 -m 64:64 memcpy
expect_caught ucx_tag_bw 2 --tls posix -m 4K:4K ucx_tag_bw
expect_caught ucx_put_lat 2 --tls tcp -m 64:64 ucx_put_lat
expect_caught ucx_put_pingpong 2 --tls tcp -m 64K:64K ucx_put_pingpong
expect_caught ucx_get_lat 2 --tls posix+cma -m 64K:64K ucx_get_lat
expect_caught ucx_put_bw 2 --tls tcp -m 4K:4K ucx_put_bw
expect_caught ucx_get_bw 2 --tls posix+cma -m 4K:4K ucx_get_bw
expect_caught ucx_atomic_lat 2 --tls posix ucx_atomic_lat
expect_caught ucx_am_lat 2 --tls posix -m 1M:1M ucx_am_lat
# and without the injection the same runs pass
mb_ok clean 2 -m 64:64 --iters 3 --validate --no-output latency acc_lat ucx_am_lat
# UCX puts and gets checked every iteration, every slot of a window, over a
# transport that emulates them (tcp) and one that maps memory (posix+cma); the
# warm-up and the timed run share the memory of a size
for tls in tcp posix+cma; do
    mb_ok rma-$tls 2 --tls $tls -m 1:64K --iters 4 --warmup 2 --window 3 --validate --no-output \
        ucx_put_lat ucx_get_lat ucx_put_bw ucx_get_bw ucx_put_pingpong ucx_atomic_lat
    grep -q '^# validate: every received byte checked' "$tmp/rma-$tls.out" || fail "rma-$tls: no validate line"
done
# and MPI's one-sided tests the same way, over the default osc and over UCX's
mb_ok rma-mpi 2 -m 1:64K --iters 4 --warmup 2 --window 3 --validate --no-output put_lat get_lat put_bw get_bw
UCX_TLS=tcp mb_ok rma-mpi-ucx 2 --ucx -m 1:64K --iters 4 --warmup 2 --window 3 --validate --no-output \
    put_lat get_lat put_bw get_bw
echo PASS
