# scripts/slurm/job.sh: sourced by the *.sbatch jobs: finds the checkout and the
# programs, sets UCX, names results by job id, and launches ranks with srun.
# Set CB_ROOT (the checkout, default: the folder sbatch was run from) and CB_BUILDDIR
# (default: CB_ROOT/build if configured there, else CB_ROOT) to move them.

cb_job_die() {
    echo "${CB_JOB:-job}: $*" >&2
    exit 1
}

# cb_job_init NAME: check that we run under Slurm, find the checkout and build, set
# CB_RESULTS (the results folder) and CB_JOBID, and export the UCX settings.
cb_job_init() {
    CB_JOB=$1
    [ -n "${SLURM_JOB_ID:-}" ] || cb_job_die "not inside a Slurm job: submit it with sbatch"
    command -v srun >/dev/null 2>&1 || cb_job_die "srun not found on $(hostname)"
    . "$CB_ROOT/scripts/common.sh"
    CB_BUILD=$(cb_find_build "$CB_ROOT")
    CB_RESULTS=${CB_RESULTS:-$CB_ROOT/results}
    mkdir -p "$CB_RESULTS" || cb_job_die "cannot create the results folder $CB_RESULTS"
    CB_JOBID=$SLURM_JOB_ID
    cb_ucx_env
    echo "# $CB_JOB: job $CB_JOBID on $SLURM_JOB_NUM_NODES node(s) (${SLURM_JOB_NODELIST:-?}), ${SLURM_NTASKS:-?} tasks"
}

# cb_job_program NAME: print the path of a built program, or stop the job saying how
# to build it.
cb_job_program() {
    cb_program_path "$CB_BUILD" "$1" || \
        cb_job_die "$1/$1 is not built in $CB_BUILD: build it first (scripts/run-suite --build-only, or make), or set CB_BUILDDIR"
}

# cb_job_srun ARGS...: launch one rank per task. Debian's Open MPI speaks PMIx only
# (--mpi=pmi2 and --mpi=none fail to wire up).
# The fence: with Slurm's default PMIx fence (a tree, here on 4 emulated nodes), UCX
# over TCP printed "Endpoint timeout" at MPI_Finalize in every run of 4 ranks (2 to 6
# lines; none with 2 ranks, none under mpirun), the output and exit code being right.
# Open MPI's UCX PML closes its endpoints and then waits in a PMIx fence; UCX reports a
# TCP connection closed by its peer as an endpoint timeout, so the lines are most likely
# ranks that left the fence and exited while others were still flushing their closes
# (not proven: a hypothesis that fits every observation). With the
# ring fence they did not appear in any of 7 runs: it is the default here, and
# SLURM_PMIX_FENCE in the environment overrides it.
cb_job_srun() {
    SLURM_PMIX_FENCE=${SLURM_PMIX_FENCE:-ring} srun --mpi=pmix --kill-on-bad-exit=1 "$@"
}

# ------------------------------------------------------------------ the programs
# Each cb_job_run_X runs one program over every task of the job and writes
# $CB_RESULTS/X-$CB_JOBID.h5. The CB_X_ARGS variables replace the default arguments.

# HPL: HPL.dat in the submit folder if there is one (netlib's convention); otherwise N
# from CB_HPL_N, or sized by hpl itself to CB_HPL_MEM_FRACTION (default 0.5) of each
# node's memory, on the grid hpl picks for the task count.
cb_job_run_hpl() {
    hpl=$(cb_job_program hpl) || return 1
    out="$CB_RESULTS/hpl-$CB_JOBID.h5"
    if [ -n "${CB_HPL_ARGS:-}" ]; then
        # shellcheck disable=SC2086
        cb_job_srun "$hpl" -o "$out" $CB_HPL_ARGS
    elif [ -f "${SLURM_SUBMIT_DIR:-.}/HPL.dat" ]; then
        echo "# hpl: using ${SLURM_SUBMIT_DIR:-.}/HPL.dat"
        (cd "${SLURM_SUBMIT_DIR:-.}" && cb_job_srun "$hpl" -o "$out")
    else
        cb_job_srun "$hpl" -o "$out" -N "${CB_HPL_N:-auto}" --nb "${CB_HPL_NB:-192}" \
            --mem-fraction "${CB_HPL_MEM_FRACTION:-0.5}"
    fi
}

# microbench: latency, bandwidth, allreduce and put over MPI, and UCX put with the tcp
# and shared-memory transports side by side. Pairs are rank i and i + ntasks/2, so with
# one task per node every pair crosses the network.
cb_job_run_microbench() {
    mb=$(cb_job_program microbench) || return 1
    # shellcheck disable=SC2086
    cb_job_srun "$mb" -o "$CB_RESULTS/microbench-$CB_JOBID.h5" \
        ${CB_MICROBENCH_ARGS:---tls tcp,shm latency bw allreduce put_lat ucx_put_lat}
}

# llm bench: a synthetic model (--shape) unless CB_LLM_MODEL names a model file.
cb_job_run_llm() {
    llm=$(cb_job_program llm) || return 1
    out="$CB_RESULTS/llm-$CB_JOBID.h5"
    if [ -n "${CB_LLM_MODEL:-}" ]; then
        [ -f "$CB_LLM_MODEL" ] && [ -r "$CB_LLM_MODEL" ] || \
            cb_job_die "CB_LLM_MODEL=$CB_LLM_MODEL: no such readable model file (unset it to use a synthetic --shape)"
        # shellcheck disable=SC2086
        cb_job_srun "$llm" bench -o "$out" -m "$CB_LLM_MODEL" ${CB_LLM_ARGS:-}
    else
        # shellcheck disable=SC2086
        cb_job_srun "$llm" bench -o "$out" --shape "${CB_LLM_SHAPE:-llama-3.2-1b}" ${CB_LLM_ARGS:-}
    fi
}
