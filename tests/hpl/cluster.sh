#!/bin/sh
# hpl across emulated hosts joined by a rate-limited link (scripts/cluster/up
# --rate-mbit, the relay's token bucket): every broadcast at every look-ahead
# depth gives a PASSED residual on 2 hosts (1 x 2) and on 4 hosts (1 x 4 and
# 2 x 2, so that swaps cross hosts too); and the split update (DGEMM tiles
# between progress calls of the broadcast in flight) gives the same bits of x
# as one DGEMM per update, at every depth, on the same grid. One cluster.
. "$top_srcdir/tests/scripts/lib.sh"
need_netns
need_mpirun
HPL=$(program hpl)
[ -x "$top_builddir/scripts/cluster/relay" ] || skip "scripts/cluster/relay is not built (make check builds it)"
export CB_RELAY=$top_builddir/scripts/cluster/relay
export OPENBLAS_NUM_THREADS=1
P=$(unique_prefix hc)
# the session's cluster lock, when there is one; never wait for ever
exec 8>/tmp/cb-cluster.lock
flock -w 300 8 || note "/tmp/cb-cluster.lock is held: going ahead"
cluster_up 4 --prefix "$P" --rate-mbit 1000 --delay-us 50
cd "$tmp" || fail "cd $tmp"

# dat FILE N NB PS QS BCASTS DEPTHS
dat() {
    count() { set -- $1; echo $#; }
    cat > "$1" <<EOT
HPLinpack benchmark input file
clusterbench hpl cluster test
HPL.out      output file name (if any)
6            device out (6=stdout,7=stderr,file)
1            # of problems sizes (N)
$2           Ns
1            # of NBs
$3           NBs
0            PMAP process mapping (0=Row-,1=Column-major)
$(count "$4")            # of process grids (P x Q)
$4           Ps
$5           Qs
16.0         threshold
1            # of panel fact
2            PFACTs (0=left, 1=Crout, 2=Right)
1            # of recursive stopping criterium
4            NBMINs (>= 1)
1            # of panels in recursion
2            NDIVs
1            # of recursive panel fact.
1            RFACTs (0=left, 1=Crout, 2=Right)
$(count "$6")            # of broadcast
$6           BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)
$(count "$7")            # of lookahead depth
$7           DEPTHs (>=0)
2            SWAP (0=bin-exch,1=long,2=mix)
64           swapping threshold
0            L1 in (0=transposed,1=no-transposed) form
0            U  in (0=transposed,1=no-transposed) form
1            Equilibration (0=no,1=yes)
8            memory alignment in double (> 0)
EOT
}
# hpl_on NP OUT ARGS...: hpl on NP ranks, one per host
hpl_on() {
    np=$1; out=$2; shift 2
    timeout -k 5 300 "$CLUSTER/mpirun" -np "$np" --map-by node --bind-to none -x OPENBLAS_NUM_THREADS \
        "$HPL" --dgemm-seconds 0 --no-output "$@" > "$out" 2>&1 || { tail -30 "$out" >&2; fail "hpl on $np hosts: $*"; }
}
# passed OUT COUNT: COUNT residual lines, all PASSED
passed() {
    total=$(grep -c '^||Ax-b||_oo/(eps' "$1")
    ok=$(grep '^||Ax-b||_oo/(eps' "$1" | grep -c 'PASSED$')
    [ "$total" -eq "$2" ] && [ "$ok" -eq "$2" ] || { grep -B14 FAILED "$1" >&2; fail "$1: $ok of $total PASSED, expected $2"; }
}

dat two.dat 300 24 1 2 "0 1 2 3 4 5" "0 1 2"
hpl_on 2 two.out --dat two.dat
passed two.out 18
dat four.dat 300 24 "1 2" "4 2" "0 1 2 3 4 5" "0 1 2"
hpl_on 4 four.out --dat four.dat
passed four.out 36
note "$(grep -c PASSED two.out) tests PASSED on 2 hosts, $(grep -c PASSED four.out) on 4"

# split against plain: N a multiple of NB, so that every split point is one of
# NB's (OpenBLAS's kernels give the same bits at those, not at any column)
for g in "1 4" "2 2"; do
    set -- $g
    dat bits.dat 768 32 "$1" "$2" "1 4" "0 1 2"
    hpl_on 4 plain.json --dat bits.dat --format json --progress-us 0
    hpl_on 4 split.json --dat bits.dat --format json --progress-us 20
    verdict=$("$PYTHON3" - plain.json split.json <<'PY'
import json, sys
plain, split = ([json.loads(l) for l in open(f) if l.startswith("{")] for f in sys.argv[1:3])
if len(plain) != 6 or len(split) != 6 or not all(r["check"] == "PASSED" for r in plain + split):
    print("not 6 PASSED runs each"); sys.exit()
if any(r["progress_s"] != 0 for r in plain):
    print("--progress-us 0 made progress calls"); sys.exit()
if not any(r["progress_s"] > 0 for r in split if r["depth"] > 0):
    print("--progress-us 20 never split an update"); sys.exit()
n = len({r["x_hash"] for r in plain + split})
print("ok" if n == 1 else f"the split and plain updates (depths 0-2) gave {n} different x")
PY
)
    [ "$verdict" = ok ] || fail "$1 x $2: $verdict"
done
note "x bit for bit the same with and without DGEMM tiles, depths 0-2, on 1 x 4 and 2 x 2"
exit 0
