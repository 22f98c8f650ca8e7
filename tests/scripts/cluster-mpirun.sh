#!/bin/sh
# Four emulated hosts: mpirun starts ranks on all four over real TCP (each rank sees its
# own host name), and hpl, microbench (over ob1 TCP and over UCX TCP) and llm each record
# ranks on four different hosts in /ranks; run-suite --hosts drives the same cluster.
. "$(dirname "$0")/lib.sh"
need_netns
need_mpirun
P=$(unique_prefix m)
cluster_up 4 --prefix "$P"
hostfile=$CB_CLUSTER_DIR/hostfile
# Bounded: a test must never hang the suite.
mpirun="timeout -k 5 120 $CLUSTER/mpirun -np 4 --map-by node --oversubscribe --bind-to none"

# The cluster itself, with no program of ours: four ranks, four host names.
names=$($mpirun hostname 2>"$tmp/err" | sort | tr '\n' ' ') || { cat "$tmp/err" >&2; fail "mpirun hostname"; }
[ "$names" = "${P}0 ${P}1 ${P}2 ${P}3 " ] || fail "ranks ran on '$names', expected ${P}0 ${P}1 ${P}2 ${P}3"
note "mpirun hostname: $names"

ran=0
# run_on_hosts NAME ARGS...: run a program on the four hosts, check its /ranks.
run_on_hosts() {
    name=$1; shift
    out=$tmp/$name.h5
    if ! $mpirun "$@" -o "$out" > "$tmp/$name.out" 2>&1; then
        cat "$tmp/$name.out" >&2
        fail "$name across 4 hosts failed"
    fi
    need_python_h5py
    h5check "$out" --ranks 4 --hosts 4 || fail "$name: ranks not on 4 hosts"
    ran=$((ran + 1))
}

if [ -x "$top_builddir/hpl/hpl" ]; then
    run_on_hosts hpl "$top_builddir/hpl/hpl" -N 384 --nb 32 -P 2 -Q 2
    # run-suite across the emulated cluster's hostfile (hpl: the quickest part).
    timeout -k 5 240 "$top_srcdir/scripts/run-suite" --hosts "$hostfile" --np 4 --parts hpl --hpl-n 480 \
        --no-build --build "$top_builddir" --results "$tmp/suite" > "$tmp/suite.out" 2>&1 || {
        cat "$tmp/suite.out" >&2; fail "run-suite --hosts $hostfile"; }
    grep -q "4 ranks on 4 host(s)" "$tmp/suite.out" || { cat "$tmp/suite.out" >&2; fail "run-suite summary does not show 4 hosts"; }
    for f in "$tmp"/suite/hpl-*.h5; do h5check "$f" --ranks 4 --hosts 4 || fail "run-suite --hosts: $f"; done
else
    note "hpl/hpl not built: not run"
fi
if [ -x "$top_builddir/microbench/microbench" ]; then
    mb=$top_builddir/microbench/microbench
    run_on_hosts microbench-ob1 "$mb" -m 8:4K --iters 50 latency allreduce
    # The same over Open MPI's UCX PML (UCX's tcp between hosts), as the suite runs it.
    (
        . "$top_srcdir/scripts/common.sh"
        cb_ucx_env
        run_on_hosts microbench-ucx "$mb" -m 8:4K --iters 50 latency put_lat
    ) || exit 1
    ran=$((ran + 1))  # the UCX run counted in its subshell
else
    note "microbench/microbench not built: not run"
fi
if [ -x "$top_builddir/llm/llm" ]; then
    run_on_hosts llm "$top_builddir/llm/llm" bench --shape tiny-llama -p 16 -n 8 -r 1
else
    note "llm/llm not built: not run"
fi
note "$ran program runs across 4 hosts checked"
exit 0
