#!/bin/sh
# A full disk at every stage, for each program: the results folder on a small
# tmpfs (1) too full to hold the file at all, (2) with room for the file and
# its reserve but not for the provenance, (3) filled while the run is writing
# rows, (4) filled at the close, after every row (tests/common/fill_at_close.c,
# preloaded: it fills the disk when the close begins; then again with the
# close's writes failing too, as they would if they needed room). Each time:
# one line naming the file and the cause, a non-zero exit on every rank, no
# crash, and either no file (refused up front) or a file h5py reads, with
# status "failed" and the rows written before the fault; never the reserve
# file left. (4) without failing writes: where the close fits in the blocks
# the file has, the run is complete, exit 0, every row in the file.
# Needs root (mount); skips otherwise.
set -u
[ "$(id -u)" = 0 ] || { echo "needs root to mount a tmpfs"; exit 77; }
command -v mount > /dev/null && command -v fallocate > /dev/null || exit 77
py=${PYTHON3:-/usr/bin/python3}
"$py" -c 'import h5py' 2> /dev/null || { echo "no h5py"; exit 77; }
launch=$top_srcdir/tests/launch
tmp=$(mktemp -d) || exit 1
mnt=$tmp/mnt
mkdir -p "$mnt"
trap 'umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT
mount -t tmpfs -o size=4m tmpfs "$mnt" || { echo "cannot mount a tmpfs"; exit 77; }
fail=0

# hpl reads the HPL.dat of its working folder: 48 runs of order 1500, a row each
# shellcheck source=faults_lib.sh
. "$top_srcdir/tests/common/faults_lib.sh"
fault_setup "$tmp/hpl" 1500

# programs: name, then the arguments of a run that writes rows for a few seconds
progs="microbench|microbench/microbench latency bw -m 1:64K -t 0.05
hpl|hpl/hpl
llm|llm/llm bench --shape qwen3:dim=512,ffn=1536,layers=4,heads=8,kv=2,head_dim=64,vocab=4096 --type q8_0 -p 128 -n 64 -r 20"

# the close's shim, and a wrapper that records every rank's exit code
shim=""
if command -v "${CC_FOR_TESTS:-cc}" > /dev/null &&
    "${CC_FOR_TESTS:-cc}" -shared -fPIC -o "$tmp/fill_at_close.so" "$top_srcdir/tests/common/fill_at_close.c" -ldl 2> "$tmp/cc.err"; then
    shim=$tmp/fill_at_close.so
else
    echo "no C compiler for tests/common/fill_at_close.c: the close is not tested"; cat "$tmp/cc.err" 2> /dev/null
fi
printf '%s\n' '#!/bin/sh' '"$@"; rc=$?' 'echo "rank ${OMPI_COMM_WORLD_RANK:-?} exit $rc" >> "$CB_RANKRC_LOG"' 'exit $rc' > "$tmp/rankrc"
chmod +x "$tmp/rankrc"
fault_setup "$tmp/hpl4" 400

check_file() { # FILE LABEL: readable, status failed
    "$py" - "$1" <<'PY' || { echo "FAIL: $2: the results file is not readable with status failed"; return 1; }
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    st = f.attrs["status"]
    st = st.decode() if isinstance(st, bytes) else st
    sys.exit(0 if st == "failed" else 1)
PY
}

echo "$progs" | while IFS='|' read -r name cmd; do
    bin=$top_builddir/${cmd%% *}
    [ -x "$bin" ] || { echo "$name: not built, skipped"; continue; }
    args=${cmd#* }
    [ "$args" = "$cmd" ] && args=
    cd "$tmp/hpl" || exit 1
    # (1) full before the start: refused up front, no file left
    rm -rf "${mnt:?}"/*
    fallocate -l 3900k "$mnt/filler" 2> /dev/null || dd if=/dev/zero of="$mnt/filler" bs=1k count=3900 2> /dev/null
    # shellcheck disable=SC2086
    timeout -k 5 120 "$launch" 2 "$bin" $args -o "$mnt/r.h5" < /dev/null > "$tmp/out" 2> "$tmp/err"; rc=$?
    case $rc in 0) echo "FAIL: $name on a full disk exits 0"; fail=1 ;; 124|137|139|134) echo "FAIL: $name on a full disk: exit $rc"; fail=1 ;; esac
    grep -q "$mnt/r.h5" "$tmp/err" || { echo "FAIL: $name: no message naming the file:"; cat "$tmp/err"; fail=1; }
    [ -e "$mnt/r.h5" ] && ! check_file "$mnt/r.h5" "$name (full at start)" && fail=1
    echo "$name, full at start: exit $rc; $(grep -m1 "$mnt" "$tmp/err")"
    # (2) room for the file and its 2 MiB reserve but not for the provenance
    # (attributes, /env, /ranks): the first flush fails, the file is closed
    # failed (or removed), the run ends before any measurement
    rm -rf "${mnt:?}"/*
    fallocate -l 2032k "$mnt/filler" 2> /dev/null || dd if=/dev/zero of="$mnt/filler" bs=1k count=2032 2> /dev/null
    # shellcheck disable=SC2086
    timeout -k 5 120 "$launch" 2 "$bin" $args -o "$mnt/r.h5" < /dev/null > "$tmp/out" 2> "$tmp/err"; rc=$?
    case $rc in 124|137|139|134) echo "FAIL: $name, no room for the provenance: exit $rc"; fail=1 ;; esac
    if [ $rc = 0 ]; then
        echo "FAIL: $name, no room for the provenance: exit 0"; fail=1
    else
        grep -q "$mnt/r.h5" "$tmp/err" || { echo "FAIL: $name (provenance): no message naming the file:"; cat "$tmp/err"; fail=1; }
        [ -e "$mnt/r.h5" ] && ! check_file "$mnt/r.h5" "$name (no room for the provenance)" && fail=1
        echo "$name, no room for the provenance: exit $rc; $(grep -m1 "$mnt" "$tmp/err")"
    fi
    # (3) filled mid-run
    rm -rf "${mnt:?}"/*
    # shellcheck disable=SC2086
    timeout -k 5 180 "$launch" 2 "$bin" $args -o "$mnt/r.h5" < /dev/null > "$tmp/out" 2> "$tmp/err" &
    pid=$!
    # wait for the first rows, then fill the disk
    for i in $(seq 1 200); do
        [ -s "$mnt/r.h5" ] && [ "$(stat -c %s "$mnt/r.h5")" -gt 8192 ] && break
        sleep 0.1
    done
    sleep 0.3
    fallocate -l 4m "$mnt/filler" 2> /dev/null || dd if=/dev/zero of="$mnt/filler" bs=1k count=4096 2> /dev/null
    wait $pid; rc=$?
    case $rc in 124|137|139|134) echo "FAIL: $name filled mid-run: exit $rc"; fail=1 ;; esac
    if [ $rc = 0 ]; then
        echo "$name finished before the disk filled (exit 0): nothing to check"
    else
        grep -q "$mnt/r.h5" "$tmp/err" || { echo "FAIL: $name mid-run: no message naming the file:"; cat "$tmp/err"; fail=1; }
        check_file "$mnt/r.h5" "$name (filled mid-run)" || fail=1
        echo "$name, filled mid-run: exit $rc; $(grep -m1 "$mnt" "$tmp/err")"
    fi
    # (4) filled at the close, after every row: a short run to its end
    [ -n "$shim" ] || continue
    case $name in
        microbench) args4="latency -m 1:64 -t 0.05"; cd "$tmp/hpl" ;;
        hpl) args4=""; cd "$tmp/hpl4" ;;
        llm) args4=${args%-r *}"-r 2"; cd "$tmp/hpl" ;;
    esac
    for writes in 0 1; do
        rm -rf "${mnt:?}"/* "$tmp/rc.log"
        # ASan (scripts/test --sanitize) wants its runtime first: the shim is first here.
        # mpirun waits for every rank's own exit (not ending the others at the first
        # non-zero one), so that each rank's exit code is seen
        # shellcheck disable=SC2086
        LD_PRELOAD=$shim CB_TEST_FILL_AT_CLOSE=$mnt CB_TEST_FILL_AT_CLOSE_WRITES=$writes CB_RANKRC_LOG=$tmp/rc.log \
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
            timeout -k 5 300 "$launch" 2 --mca orte_abort_on_non_zero_status 0 "$tmp/rankrc" "$bin" $args4 -o "$mnt/r.h5" --format csv < /dev/null > "$tmp/out" 2> "$tmp/err"
        rc=$?
        label="$name, full at the close$([ $writes = 1 ] && echo ", its writes failing")"
        grep -q "fill_at_close: $mnt filled" "$tmp/err" || { echo "FAIL: $label: the shim never filled the disk"; cat "$tmp/err"; fail=1; continue; }
        case $rc in 124|137|139|134) echo "FAIL: $label: exit $rc"; cat "$tmp/err"; fail=1; continue ;; esac
        [ -e "$mnt/r.h5.reserve" ] && { echo "FAIL: $label: the reserve file is left"; fail=1; }
        # mpirun's own exit is 0 when it does not abort on a non-zero exit: the ranks' codes
        nonzero=$(grep -c 'exit [1-9]' "$tmp/rc.log" 2> /dev/null)
        zero=$(grep -c 'exit 0$' "$tmp/rc.log" 2> /dev/null)
        [ $((nonzero + zero)) = 2 ] || { echo "FAIL: $label: not 2 ranks' exit codes:"; cat "$tmp/rc.log" "$tmp/err"; fail=1; continue; }
        rc=$(sed -n 's/^rank 0 exit //p' "$tmp/rc.log")
        if [ $writes = 0 ] && [ "$zero" = 2 ]; then
            # the close fitted in the blocks the file has: a complete run, every row
            got=$(fault_check "$mnt/r.h5" "$tmp/out" complete) || { echo "FAIL: $label, exit 0: $got"; fail=1; continue; }
            echo "$label: exit 0, file: $got (the close needed no new blocks)"
            continue
        fi
        [ "$nonzero" = 2 ] || { echo "FAIL: $label: not every rank exited non-zero:"; cat "$tmp/rc.log"; fail=1; }
        n=$(grep -v fill_at_close "$tmp/err" | grep -c "$mnt/r.h5")
        [ "$n" = 1 ] || { echo "FAIL: $label: $n lines naming the file, not one:"; cat "$tmp/err"; fail=1; }
        got=$(fault_check "$mnt/r.h5" "$tmp/out" failed) || { echo "FAIL: $label: $got"; fail=1; continue; }
        [ "$got" != absent ] || { echo "FAIL: $label: no file (every row was written before the close)"; fail=1; continue; }
        echo "$label: exit $rc on every rank; file: $got; $(grep -v fill_at_close "$tmp/err" | grep -m1 "$mnt")"
    done
    [ $fail = 0 ] || exit 1
done || fail=1
exit $fail
