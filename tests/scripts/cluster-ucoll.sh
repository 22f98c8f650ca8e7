#!/bin/sh
# Four emulated hosts: the UCX collective layer across hosts (UCX's tcp; the hosts
# share one kernel, so UCX_TLS=tcp keeps UCX off shared memory between them): every
# algorithm bitwise equal to the rank-order sum, tcp recognised as emulating puts,
# and llm's tokens with each UCX --allreduce the same as on one rank.
. "$(dirname "$0")/lib.sh"
need_netns
need_mpirun
[ -x "$top_builddir/tests/common/test_ucoll" ] || skip "tests/common/test_ucoll is not built (make check builds it)"
P=$(unique_prefix u)
cluster_up 4 --prefix "$P"
mpirun="timeout -k 5 180 $CLUSTER/mpirun -np 4 --map-by node --oversubscribe --bind-to none -x UCX_TLS=tcp"
$mpirun "$top_builddir/tests/common/test_ucoll" --rounds 1 > "$tmp/ucoll.out" 2>&1 || { cat "$tmp/ucoll.out" >&2; fail "test_ucoll across 4 hosts"; }
grep -q "bitwise equal" "$tmp/ucoll.out" || { cat "$tmp/ucoll.out" >&2; fail "test_ucoll did not pass"; }
grep -q "over tcp/eth0.*rma emulated" "$tmp/ucoll.out" || { cat "$tmp/ucoll.out" >&2; fail "not over tcp with emulated puts"; }
note "$(head -1 "$tmp/ucoll.out")"
if [ -x "$top_builddir/llm/llm" ]; then
    gen="generate --shape tiny-qwen3 --type q8_0 --prompt-ids 1,2,3 -n 8 -q"
    ref=$("$top_srcdir/tests/launch" 1 "$top_builddir/llm/llm" $gen) || fail "llm on one rank"
    for alg in ucx oneshot twoshot am auto; do
        out=$($mpirun "$top_builddir/llm/llm" $gen --allreduce $alg 2> "$tmp/err") || { cat "$tmp/err" >&2; fail "llm --allreduce $alg across 4 hosts"; }
        [ "$out" = "$ref" ] || fail "llm --allreduce $alg across 4 hosts: '$out', one rank: '$ref'"
    done
    note "llm: every UCX --allreduce across 4 hosts gives one rank's tokens: $ref"
fi
exit 0
