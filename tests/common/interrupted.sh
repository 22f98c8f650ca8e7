#!/bin/sh
# SIGTERM to the ranks in the middle of a run: the file stays readable, is marked
# "interrupted" and keeps every row flushed before the signal.
set -u
bin=$top_builddir/tests/common/slow_writer
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
out=$tmp/run.h5

# interrupt WHO OUT: start a run writing OUT, wait for 4 printed rows, send
# SIGTERM to WHO (ranks: every rank; launcher: the timeout-wrapped mpirun of
# tests/launch, as a user's kill or a batch system's does), then check that
# OUT is marked interrupted and holds every printed row.
interrupt() {
    who=$1 out=$2
    # the file exists before the loop below reads it (the launch creates it in the background)
    : > "$tmp/stdout"
    "$top_srcdir/tests/launch" 2 "$bin" -o "$out" --format csv > "$tmp/stdout" 2> "$tmp/stderr" &
    pid=$!
    # Wait for at least 4 printed rows (header + 4), at most 60 s.
    i=0
    while [ "$(wc -l < "$tmp/stdout")" -lt 5 ] && [ $i -lt 600 ]; do
        if ! kill -0 $pid 2>/dev/null; then
            wait $pid; rc=$?
            [ $rc = 77 ] && exit 77
            echo "slow_writer ended early (exit $rc):"; cat "$tmp/stderr"; exit 1
        fi
        sleep 0.1; i=$((i + 1))
    done
    printed=$(($(wc -l < "$tmp/stdout") - 1))
    if [ "$who" = ranks ]; then
        # As a Slurm time limit does: SIGTERM to every rank (their argv[0] is the program).
        pkill -TERM -f "^$bin -o $out" || { echo "FAIL: no rank to signal"; kill $pid; exit 1; }
    else
        kill -TERM $pid
    fi
    wait $pid
    rc=$?
    echo "SIGTERM to the $who: exit $rc, rows printed before: $printed"
    cat "$tmp/stderr"
    [ $rc -ne 0 ] || { echo "FAIL: an interrupted run exited 0"; exit 1; }
    # mpirun may return before its ranks are gone; the file is locked until then.
    i=0
    while ! "$bin" --check "$out" interrupted "$printed" && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done
    "$bin" --check "$out" interrupted "$printed" ||
        { echo "FAIL: SIGTERM to the $who: file not marked interrupted with $printed rows"; exit 1; }
}
interrupt ranks "$out"
interrupt launcher "$tmp/launcher.h5"

# A run left to finish is "complete" with all its rows.
"$top_srcdir/tests/launch" 2 "$bin" -o "$tmp/full.h5" --rows 3 > /dev/null 2>&1 || { echo "FAIL: full run"; exit 1; }
"$bin" --check "$tmp/full.h5" complete 3 || { echo "FAIL: complete run"; exit 1; }
echo PASS
