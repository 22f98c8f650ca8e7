# scripts/common.sh: what run-suite and the Slurm jobs share: where the programs are
# built, and the settings that make Open MPI really run over UCX. Sourced, never run.

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

# cb_program_path BUILD NAME: print BUILD/NAME/NAME if it is built; false if not.
cb_program_path() {
    [ -x "$1/$2/$2" ] || return 1
    echo "$1/$2/$2"
}

# cb_ucx_env: Debian's Open MPI turns UCX off by default (pml = ^ucx) and its UCX PML
# refuses machines without RDMA NICs; these make a run go over UCX with any transport
# (for one-sided too). Exported, so srun and mpirun pass them to every rank.
cb_ucx_env() {
    export OMPI_MCA_pml=ucx OMPI_MCA_pml_ucx_tls=any OMPI_MCA_pml_ucx_devices=any
    export OMPI_MCA_osc=ucx OMPI_MCA_osc_ucx_tls=any OMPI_MCA_osc_ucx_devices=any
}
