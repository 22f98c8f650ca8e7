#!/bin/sh
# A rank killed with SIGKILL on another host of the emulated cluster (2 hosts,
# a rank on each; rank 1, on the second host, killed after the first row), for
# each program: the job ends within 30 s with a non-zero exit and a message
# naming rank 1 and its host, no process left on either host (ip netns pids),
# and the file readable with every printed row, status "failed" and the error
# naming rank 1 and the second host (what scripts/summary and compare show).
. "$(dirname "$0")/lib.sh"
need_netns
need_mpirun
need_python_h5py
command -v pgrep > /dev/null || skip "no pgrep (procps)"
# the programs and the checks of the one-host fault tests
. "$top_srcdir/tests/common/faults_lib.sh"
P=$(unique_prefix k)
cluster_up 2 --prefix "$P"
fault_setup "$tmp/work"
cd "$tmp/work" || fail "cd $tmp/work"
echo "$fault_programs" > "$tmp/programs"
killed=0
while IFS='|' read -r name cmd; do
    bin=$top_builddir/${cmd%% *}
    [ -x "$bin" ] || { note "$name is not built: not run"; continue; }
    args=${cmd#* }
    [ "$args" = "$cmd" ] && args=
    out=$tmp/$name.h5
    # shellcheck disable=SC2086
    timeout -k 5 300 "$CLUSTER/mpirun" -np 2 --map-by node --bind-to none "$bin" $args -o "$out" --format csv \
        < /dev/null > "$tmp/out" 2> "$tmp/err" &
    pid=$!
    n=0 target=""
    while [ $n -lt 1200 ] && kill -0 $pid 2> /dev/null; do
        rows=$(grep -cv '^\(table,\|#\)' "$tmp/out")
        if [ "$rows" -ge 1 ]; then
            for p in $(fault_rank_pids "$out" "${bin##*/}"); do
                r=$(tr '\0' '\n' < "/proc/$p/environ" 2> /dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
                [ "$r" = 1 ] && target=$p
            done
            [ -n "$target" ] && break
        fi
        sleep 0.05; n=$((n + 1))
    done
    [ -n "$target" ] || { cat "$tmp/err" >&2; kill -KILL $pid 2> /dev/null; fail "$name: no row with rank 1 running"; }
    # rank 1 runs in the second host's namespace
    ip netns pids "${P}1" | grep -qx "$target" || fail "$name: rank 1 (pid $target) is not on ${P}1"
    kill -KILL "$target"
    n=0
    while kill -0 $pid 2> /dev/null && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    kill -0 $pid 2> /dev/null && { kill -KILL $pid; fail "$name: the job still runs 30 s after rank 1 was killed"; }
    wait $pid; rc=$?
    [ $rc = 0 ] && fail "$name: exit 0 after rank 1 was killed"
    left=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        left=$(ip netns pids "${P}0"; ip netns pids "${P}1")
        [ -z "$left" ] && break
        sleep 0.5
    done
    [ -z "$left" ] || { ps -o pid,args -p $left >&2; fail "$name: processes left on the hosts"; }
    grep -q "rank 1.*${P}1\|${P}1.*rank 1\|rank 1 with PID.*on node ${P}1" "$tmp/err" ||
        { cat "$tmp/err" >&2; fail "$name: no message naming rank 1 and host ${P}1"; }
    got=$(fault_check "$out" "$tmp/out" failed) || { cat "$tmp/err" >&2; fail "$name: $got"; }
    [ "$got" != absent ] || fail "$name: no file, though a row was printed"
    said=$(PYTHONPATH=$top_srcdir/scripts "$PYTHON3" -c '
import sys
from cbresults import Run
r = Run(sys.argv[1])
print(r.attr("status"), "|", r.attr("error", ""))' "$out")
    case $said in
        "failed | rank 1 (host ${P}1"*) ;;
        *) fail "$name: the readers say '$said'" ;;
    esac
    note "$name, rank 1 killed on ${P}1 after a row: exit $rc after $((n / 10)).$((n % 10)) s, nothing left on the hosts; file: $got; readers: $said"
    killed=$((killed + 1))
done < "$tmp/programs"
[ $killed -gt 0 ] || skip "no program built"
note "$killed kills across hosts, all survived"
exit 0
