# Sourced by the hpl tests: paths, the launcher, an HPL.dat writer.
set -u
: "${top_srcdir:?run through make check}" "${top_builddir:?run through make check}"
HPL="$top_builddir/hpl/hpl"
LAUNCH="$top_srcdir/tests/launch"
PY=${PYTHON3:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1
work=$(mktemp -d "${TMPDIR:-/tmp}/hpl-test.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 99

fail() { echo "FAIL: $*" >&2; exit 1; }

# run NP ARGS...: hpl on NP ranks (no DGEMM self-test); exits 77 when there is no launcher
run() {
    np=$1; shift
    "$LAUNCH" "$np" "$HPL" --dgemm-seconds 0 "$@"
    rc=$?
    [ $rc -eq 77 ] && exit 77
    return $rc
}

count() { set -- $1; echo $#; }

# make_dat FILE: an HPL.dat from NS NBS PMAP PS QS PFACTS NBMINS NDIVS RFACTS BCASTS DEPTHS SWAP SWAPTH L1 U
make_dat() {
    cat > "$1" <<EOF
HPLinpack benchmark input file
clusterbench hpl test
HPL.out      output file name (if any)
6            device out (6=stdout,7=stderr,file)
$(count "$NS")            # of problems sizes (N)
$NS          Ns
$(count "$NBS")            # of NBs
$NBS         NBs
${PMAP:-0}            PMAP process mapping (0=Row-,1=Column-major)
$(count "$PS")            # of process grids (P x Q)
$PS          Ps
$QS          Qs
16.0         threshold
$(count "$PFACTS")            # of panel fact
$PFACTS      PFACTs (0=left, 1=Crout, 2=Right)
$(count "$NBMINS")            # of recursive stopping criterium
$NBMINS      NBMINs (>= 1)
$(count "$NDIVS")            # of panels in recursion
$NDIVS       NDIVs
$(count "$RFACTS")            # of recursive panel fact.
$RFACTS      RFACTs (0=left, 1=Crout, 2=Right)
$(count "$BCASTS")            # of broadcast
$BCASTS      BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)
$(count "$DEPTHS")            # of lookahead depth
$DEPTHS      DEPTHs (>=0)
${SWAP:-2}            SWAP (0=bin-exch,1=long,2=mix)
${SWAPTH:-64}           swapping threshold
${L1:-0}            L1 in (0=transposed,1=no-transposed) form
${U:-0}            U  in (0=transposed,1=no-transposed) form
1            Equilibration (0=no,1=yes)
8            memory alignment in double (> 0)
EOF
}

# expect_passed FILE COUNT: COUNT residual lines, all PASSED
expect_passed() {
    total=$(grep -c '^||Ax-b||_oo/(eps' "$1")
    passed=$(grep '^||Ax-b||_oo/(eps' "$1" | grep -c 'PASSED$')
    [ "$total" -eq "$2" ] || fail "$1: $total residual lines, expected $2"
    [ "$passed" -eq "$2" ] || { grep -B12 FAILED "$1" >&2; fail "$1: $passed of $2 PASSED"; }
}
