#!/bin/sh
# A full disk at every stage, for each program: the results folder on a small
# tmpfs (1) too full to hold the file at all, (2) with room for the file and
# its reserve but not for the provenance, (3) filled while the run is writing
# rows. Each time: one line naming the file and the cause, a non-zero
# exit on every rank, no crash, and either no file (refused up front) or a file
# h5py reads, with status "failed" and the rows written before the fault.
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

# hpl reads the HPL.dat of its working folder: 48 small runs, a row each
mkdir -p "$tmp/hpl"
cat > "$tmp/hpl/HPL.dat" <<'DAT'
HPLinpack benchmark input file
clusterbench disk-full test
HPL.out      output file name (if any)
6            device out (6=stdout,7=stderr,file)
4            # of problems sizes (N)
1500 1500 1500 1500  Ns
2            # of NBs
32 64        NBs
0            PMAP process mapping (0=Row-,1=Column-major)
1            # of process grids (P x Q)
1            Ps
2            Qs
16.0         threshold
1            # of panel fact
1            PFACTs (0=left, 1=Crout, 2=Right)
1            # of recursive stopping criterium
4            NBMINs (>= 1)
1            # of panels in recursion
2            NDIVs
1            # of recursive panel fact.
1            RFACTs (0=left, 1=Crout, 2=Right)
6            # of broadcast
0 1 2 3 4 5  BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)
1            # of lookahead depth
1            DEPTHs (>=0)
2            SWAP (0=bin-exch,1=long,2=mix)
64           swapping threshold
0            L1 in (0=transposed,1=no-transposed) form
0            U  in (0=transposed,1=no-transposed) form
1            Equilibration (0=no,1=yes)
8            memory alignment in double (> 0)
DAT

# programs: name, then the arguments of a run that writes rows for a few seconds
progs="microbench|microbench/microbench latency bw -m 1:64K -t 0.05
hpl|hpl/hpl
llm|llm/llm bench --shape qwen3:dim=512,ffn=1536,layers=4,heads=8,kv=2,head_dim=64,vocab=4096 --type q8_0 -p 128 -n 64 -r 20"

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
    [ $fail = 0 ] || exit 1
done || fail=1
exit $fail
