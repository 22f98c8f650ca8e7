# tests/scripts/lib.sh: sourced by the scripts tests. Finds the checkout and the build,
# skips (77) what cannot run here, serialises the tests that build emulated clusters
# (they share the machine's two cores and would time each other), and guarantees that
# whatever a test starts is stopped when it ends, also on failure.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
PYTHON3=${PYTHON3:-/usr/bin/python3}
T=$(basename "$0" .sh)
CLUSTER=$top_srcdir/scripts/cluster

fail() { echo "FAIL: $T: $*" >&2; exit 1; }
skip() { echo "SKIP: $T: $*" >&2; exit 77; }
note() { echo "# $T: $*"; }

# A private folder for this test, removed at exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cb-$T.XXXXXX") || fail "mktemp"
chmod 755 "$tmp"  # daemons that drop root (munged) work in it
cleanups="rm -rf '$tmp'"
on_exit() {
    rc=$?
    set +e
    eval "$cleanups"
    exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM
# at_exit CMD: run CMD at exit, before what was registered earlier.
at_exit() { cleanups="$1; $cleanups"; }

need_python_h5py() {
    "$PYTHON3" -c 'import h5py' 2>/dev/null || skip "$PYTHON3 has no h5py (Debian: python3-h5py)"
}

# need_netns: root, iproute2, and a kernel that lets us create namespaces.
need_netns() {
    [ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
    command -v ip >/dev/null 2>&1 || skip "no 'ip' (Debian: iproute2)"
    command -v unshare >/dev/null 2>&1 || skip "no 'unshare' (util-linux)"
    command -v flock >/dev/null 2>&1 || skip "no flock (util-linux)"
    probe="cbprobe$$"
    ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces here"
    ip netns del "$probe"
}

need_mpirun() {
    command -v "${MPIRUN:-mpirun}" >/dev/null 2>&1 || skip "no mpirun"
}

need_slurm() {
    for p in slurmctld slurmd sbatch squeue munged; do
        command -v "$p" >/dev/null 2>&1 || skip "Slurm is not installed ($p missing; Debian: slurmctld slurmd slurm-client munge)"
    done
}

# Host names private to this run of this test: LETTERS then the process id spelt in
# letters (12345 -> bcdef), so that several checkouts can run the tests at once.
unique_prefix() {
    echo "$1$(echo $$ | tr 0-9 a-j)" | cut -c1-8
}

# cluster_up ARGS...: an emulated cluster private to this test (its own state folder,
# host names from unique_prefix), always brought down at exit. Cluster tests take turns
# when they can (they share the cores and time each other), but never wait long for
# another checkout's: correctness does not depend on the turn.
cluster_up() {
    export CB_CLUSTER_DIR="$tmp/cluster"
    exec 9>/tmp/clusterbench-scripts-tests.lock
    flock -w 60 9 || note "another cluster test is running: going ahead at the same time"
    at_exit "'$CLUSTER/down' >/dev/null 2>&1"
    "$CLUSTER/up" "$@" > "$tmp/up.log" 2>&1 || { cat "$tmp/up.log" >&2; fail "scripts/cluster/up $*"; }
}

# program NAME: the built program's path; skip the test when it is not built.
program() {
    [ -x "$top_builddir/$1/$1" ] || skip "$1/$1 is not built"
    echo "$top_builddir/$1/$1"
}

# h5check FILE ARGS...: assert on a results file (see h5check.py).
h5check() {
    "$PYTHON3" "$top_srcdir/tests/scripts/h5check.py" "$@"
}
