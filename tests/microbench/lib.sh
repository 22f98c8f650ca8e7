# Helpers the microbench tests source: run microbench through tests/launch,
# keep its output, and fail or skip with one clear line.
set -u
mb=$top_builddir/microbench/microbench
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
: "${CB_TEST_TIMEOUT:=120}"
export CB_TEST_TIMEOUT

fail() { echo "FAIL: $*"; exit 1; }

# mb_run NAME NP [--ucx] ARGS...: run, output in $tmp/NAME.out/.err; exits 77
# when there is no launcher; returns microbench's exit code.
mb_run() {
    name=$1; shift
    np=$1; shift
    ucx=""
    if [ "${1:-}" = "--ucx" ]; then ucx=--ucx; shift; fi
    echo "== $name: $np ranks $ucx $*"
    # shellcheck disable=SC2086
    "$top_srcdir/tests/launch" "$np" $ucx "$mb" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
    rc=$?
    cat "$tmp/$name.out" "$tmp/$name.err"
    [ $rc = 77 ] && exit 77
    return $rc
}

# mb_ok NAME NP [--ucx] ARGS...: as mb_run, and it must succeed.
mb_ok() {
    mb_run "$@" || fail "$1: microbench exited $rc"
}

# check_h5 FILE ARGS...: the HDF5 read-back (see check_h5.py).
check_h5() {
    "$PYTHON3" "$top_srcdir/tests/microbench/check_h5.py" "$@" || fail "read-back of $1"
}
