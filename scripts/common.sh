# scripts/common.sh: what run-suite and the Slurm jobs share: where the programs are
# built, and the settings that make Open MPI really run over UCX. Sourced, never run.

# An installed copy (make install) has installed.sh beside this file, naming the folder
# of the programs (cb-hpl, cb-microbench, cb-llm).
CB_BINDIR=""
# shellcheck disable=SC1091
[ -f "$(dirname "${BASH_SOURCE[0]:-$0}")/installed.sh" ] && . "$(dirname "${BASH_SOURCE[0]:-$0}")/installed.sh"

# cb_installed: true in an installed copy, which builds nothing.
cb_installed() { [ -n "$CB_BINDIR" ]; }

# cb_find_build ROOT: print the build folder holding the programs: $CB_BUILDDIR if set,
# else ROOT/build (run-suite's out-of-tree build), else ROOT itself (an in-tree build).
cb_find_build() {
    if [ -n "${CB_BUILDDIR:-}" ]; then
        echo "$CB_BUILDDIR"
    elif [ -f "$1/build/Makefile" ]; then
        echo "$1/build"
    else
        echo "$1"
    fi
}

# cb_program_path BUILD NAME: print BUILD/NAME/NAME if it is built (in an installed
# copy, CB_BINDIR/cb-NAME); false if not.
cb_program_path() {
    if [ -x "$1/$2/$2" ]; then
        echo "$1/$2/$2"
    elif cb_installed && [ -x "$CB_BINDIR/cb-$2" ]; then
        echo "$CB_BINDIR/cb-$2"
    else
        return 1
    fi
}

# cb_ucx_env: Debian's Open MPI turns UCX off by default (pml = ^ucx) and its UCX PML
# refuses machines without RDMA NICs; these make a run go over UCX with any transport
# (for one-sided too). Exported, so srun and mpirun pass them to every rank. A value
# already in the environment (a site's module, the user) is kept.
cb_ucx_env() {
    export OMPI_MCA_pml=${OMPI_MCA_pml:-ucx} OMPI_MCA_pml_ucx_tls=${OMPI_MCA_pml_ucx_tls:-any}
    export OMPI_MCA_pml_ucx_devices=${OMPI_MCA_pml_ucx_devices:-any}
    export OMPI_MCA_osc=${OMPI_MCA_osc:-ucx} OMPI_MCA_osc_ucx_tls=${OMPI_MCA_osc_ucx_tls:-any}
    export OMPI_MCA_osc_ucx_devices=${OMPI_MCA_osc_ucx_devices:-any}
}

# cb_make_progress PREFIX LOG: read make's output (silent rules: "  CC  x.o", "  CCLD  p")
# on stdin, keep it whole in LOG, and print PREFIX lines as it goes: each program linked,
# and the count of files compiled every 10 files, so a long build is never silent.
cb_make_progress() {
    awk -v pfx="$1" -v logf="$2" '
        { print >> logf; fflush(logf) }
        $1 == "CC" { n++; if (n % 10 == 0) { printf "%s: make: %d files compiled\n", pfx, n; fflush() } }
        $1 == "CCLD" { printf "%s: make: %d files compiled, linked %s\n", pfx, n, $2; fflush() }
        / error: |^make.*\*\*\*/ { printf "%s: make: %s\n", pfx, $0; fflush() }'
}
