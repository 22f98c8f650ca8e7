#!/bin/sh
# Bad input: one line "microbench: what: why" on stderr, a non-zero exit on
# every rank, no hang (tests/launch bounds each run) and no results file.
. "$top_srcdir/tests/microbench/lib.sh"
CB_TEST_TIMEOUT=60
expect_refused() {
    name=$1; np=$2; pattern=$3; shift 3
    if mb_run "$name" "$np" "$@" -o "$tmp/$name.h5"; then
        fail "$name: accepted"
    fi
    [ $rc = 124 ] && fail "$name: hung"
    n=$(grep -c '^microbench: ' "$tmp/$name.err")
    [ "$n" = 1 ] || fail "$name: $n error lines, expected 1"
    grep -q "^microbench: .*$pattern" "$tmp/$name.err" || fail "$name: error does not say '$pattern'"
    ! grep -q 'Segmentation\|signal\|core dumped' "$tmp/$name.err" || fail "$name: crashed"
    # a failure found after the file was opened leaves it, never 'complete'
    if [ -e "$tmp/$name.h5" ]; then
        "$PYTHON3" - "$tmp/$name.h5" <<'PY' || fail "$name: the results file says complete"
import sys, h5py
s = h5py.File(sys.argv[1]).attrs["status"]
sys.exit(1 if (s.decode() if isinstance(s, bytes) else s) == "complete" else 0)
PY
    fi
    return 0
}
expect_refused size-too-big 2 'MAX <= 1G' -m 0:2G latency
expect_refused size-reversed 2 'MIN is larger than MAX' -m 8:4 latency
expect_refused size-garbage 2 'not a size' -m 12q latency
expect_refused timer-bogus 2 'auto, clock, wtime' --timer rdtsc latency
expect_refused odd-ranks 3 'even number of ranks' latency
expect_refused one-rank 1 'even number of ranks' ucx_tag_lat
expect_refused unknown-test 2 "unknown test 'nosuch'" latency nosuch
expect_refused no-test 2 'no test given'
expect_refused unknown-tls 2 "cannot open" --tls nosuch ucx_tag_lat
expect_refused unknown-tls-in-set 2 "cannot open transport 'nosuch'" --tls tcp+nosuch ucx_tag_lat
expect_refused empty-set 2 'empty transport set' --tls tcp,,posix ucx_tag_lat
expect_refused unreachable 2 'cannot reach' --tls cma ucx_tag_lat
expect_refused bad-window 2 'window' --window 0 bw
expect_refused corrupt-alone 2 'needs --validate' --inject-corruption latency
expect_refused unknown-option 2 'nosuch' --nosuch latency
echo PASS
