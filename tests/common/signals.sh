#!/bin/sh
# Signals at random moments of each program (start-up, model building, between
# and during HDF5 writes): SIGTERM to every rank (a batch system's time limit),
# SIGINT to the ranks and the launcher (a Ctrl-C on the terminal), SIGTERM to the
# launcher only, and a second SIGTERM 0.3 s after the first (which must end the
# run at once). Each time: a non-zero exit, no hang (the run ends within 30 s of
# the signal, 5 s of a second one), and either no file (stopped before it was
# created) or a file h5py reads, marked "interrupted", holding every row printed
# (or "complete" with every row of a whole run, when the run had closed its file
# before the signal reached it).
# CB_SIGNAL_MOMENTS (default 10) moments per program; CB_SEED to replay.
set -u
. "$top_srcdir/tests/common/faults_lib.sh"
"$py" -c 'import h5py' 2> /dev/null || { echo "no h5py"; exit 77; }
command -v pgrep > /dev/null || exit 77
moments=${CB_SIGNAL_MOMENTS:-10}
seed=${CB_SEED:-$$}
echo "seed $seed (CB_SEED=$seed replays these moments)"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fault_setup "$tmp/work"
export CB_TEST_TIMEOUT=120
fail=0
total=0

# wait_end PID SECONDS: wait for PID to end, at most SECONDS; 0 if it ended.
wait_end() {
    n=0
    while kill -0 "$1" 2> /dev/null; do
        [ "$n" -ge $(($2 * 10)) ] && return 1
        sleep 0.1; n=$((n + 1))
    done
    return 0
}

echo "$fault_programs" > "$tmp/programs"
while IFS='|' read -r name cmd; do
    bin=$top_builddir/${cmd%% *}
    [ -x "$bin" ] || { echo "$name: not built, skipped"; continue; }
    args=${cmd#* }
    [ "$args" = "$cmd" ] && args=
    # One run without a fault: it must be complete; its length bounds the moments.
    out=$tmp/$name-0.h5
    cd "$tmp/work" || exit 1
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$launch" 2 "$bin" $args -o "$out" --format csv < /dev/null > "$tmp/out" 2> "$tmp/err"; rc=$?
    [ $rc = 77 ] && exit 77
    span=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { s = (b - a) * 0.8; printf "%.2f", s < 8 ? s : 8 }')
    if [ $rc != 0 ] || ! got=$(fault_check "$out" "$tmp/out" complete); then
        echo "FAIL: $name without a fault: exit $rc, file: ${got:-}"; cat "$tmp/err"; fail=1; continue
    fi
    echo "$name without a fault: exit 0, file: $got; signals within its first ${span}s"
    full_rows=$(echo "$got" | cut -d' ' -f2)
    injected=0 tries=0
    while [ $injected -lt "$moments" ] && [ $tries -lt $((moments * 3)) ]; do
        tries=$((tries + 1))
        how=$((tries % 4))
        out=$tmp/$name-$tries.h5
        at=$(fault_rand $((seed + tries * 31 + ${#name} * 7 + $(printf %d "'$name"))) "$span")
        cd "$tmp/work" || exit 1
        # shellcheck disable=SC2086
        "$launch" 2 "$bin" $args -o "$out" --format csv < /dev/null > "$tmp/out" 2> "$tmp/err" &
        pid=$!
        sleep "$at"
        # the ranks may still be starting: look for them a little longer
        pids=""
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            pids=$(fault_rank_pids "$out" "${bin##*/}")
            [ -n "$pids" ] || ! kill -0 $pid 2> /dev/null && break
            sleep 0.1
        done
        if ! kill -0 $pid 2> /dev/null; then
            wait $pid; rc=$?
            echo "$name: ended before the signal at ${at}s (exit $rc): not counted"
            [ $rc = 0 ] || { echo "FAIL: $name failed without a fault:"; cat "$tmp/err"; fail=1; }
            continue
        fi
        [ -n "$pids" ] || how=3 # no rank started yet: as a user would, signal the launcher
        case $how in
            1) what="SIGTERM to every rank"; kill -TERM $pids 2> /dev/null ;;
            2) what="SIGINT to the ranks and the launcher"; kill -INT $pids $pid 2> /dev/null ;;
            3) what="SIGTERM to the launcher"; kill -TERM $pid ;;
            0) what="SIGTERM twice to every rank"; kill -TERM $pids 2> /dev/null; sleep 0.3
               kill -TERM $pids 2> /dev/null ;;
        esac
        limit=30
        [ "$how" = 0 ] && limit=5
        if ! wait_end $pid $limit; then
            echo "FAIL: $name, $what at ${at}s: still running ${limit}s later"
            fault_kill_job $pid $pids
            fail=1
        fi
        wait $pid; rc=$?
        [ $rc = 77 ] && exit 77
        injected=$((injected + 1))
        if [ $rc = 0 ]; then
            echo "FAIL: $name, $what at ${at}s: exit 0"; fail=1
        fi
        case $rc in 134|139)
            who=$name; grep -q 'mpirun(+' "$tmp/err" && who="the launcher (mpirun) of $name"
            echo "FAIL: $name, $what at ${at}s: $who crashed (exit $rc)"; cat "$tmp/err"; fail=1 ;;
        esac
        # mpirun may return before its ranks are gone: give them a moment
        for _ in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(fault_rank_pids "$out" "${bin##*/}")" ] && break; sleep 0.5; done
        [ -z "$(fault_rank_pids "$out" "${bin##*/}")" ] || { echo "FAIL: $name: ranks left running"; fail=1; }
        # "complete" is the truth only for a run that wrote every row and closed
        # its file before the signal reached it (mpirun passes it on late)
        if got=$(fault_check "$out" "$tmp/out" interrupted,complete) &&
            { [ "${got%% *}" != complete ] || [ "$(echo "$got" | cut -d' ' -f2)" = "$full_rows" ]; }; then
            echo "$name, $what at ${at}s: exit $rc, file: $got"
        else
            echo "FAIL: $name, $what at ${at}s: exit $rc, file: $got"; sed 's/^/  stderr: /' "$tmp/err"; fail=1
        fi
        rm -f "$out"
    done
    echo "$name: $injected signal moments injected"
    [ $injected -ge "$moments" ] || { echo "FAIL: $name: only $injected moments injected"; fail=1; }
    total=$((total + injected))
done < "$tmp/programs"
echo "$total moments in all, $([ $fail = 0 ] && echo "all survived" || echo "some FAILED")"
exit $fail
