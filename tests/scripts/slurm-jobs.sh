# tests/scripts/slurm-jobs.sh: sourced by slurm-1host.sh and slurm-4hosts.sh with
# NODES, TASKS_PER_NODE and PREFIX_LETTERS set. Starts Slurm on an emulated cluster of NODES
# hosts, submits each scripts/slurm/*.sbatch, waits, and checks every job: a built
# program's job completes with an HDF5 file whose ranks sit on NODES hosts; a program
# that is not built fails its job with a clear message, and suite.sbatch skips it.
. "$(dirname "$0")/lib.sh"
need_netns
need_slurm
need_python_h5py
PREFIX=$(unique_prefix "$PREFIX_LETTERS")
cluster_up "$NODES" --prefix "$PREFIX"
"$CLUSTER/slurm-up" > "$tmp/slurm-up.log" 2>&1 || { cat "$tmp/slurm-up.log" >&2; fail "slurm-up"; }
ranks=$((NODES * TASKS_PER_NODE))
jobs=$tmp/jobs
mkdir -p "$jobs"

# Small problems: the jobs prove the plumbing, not the speed. The emulated nodes share
# this machine's cores, so ranks yield when idle rather than starve each other.
ids=""
for j in hpl microbench llm suite; do
    id=$(cd "$jobs" && "$CLUSTER/exec" "${PREFIX}0" env CB_ROOT="$top_srcdir" CB_BUILDDIR="$top_builddir" \
        CB_RESULTS="$jobs/results" CB_HPL_N=384 CB_HPL_NB=32 CB_LLM_SHAPE=tiny-llama CB_LLM_ARGS="-p 16 -n 8 -r 1" \
        CB_MICROBENCH_ARGS="-m 8:1K --iters 50 --tls tcp,shm latency put_lat ucx_put_lat" UCX_NET_DEVICES=eth0 \
        OMPI_MCA_mpi_yield_when_idle=1 \
        sbatch --parsable -N "$NODES" --ntasks-per-node="$TASKS_PER_NODE" --time=5 \
        "$top_srcdir/scripts/slurm/$j.sbatch" 2>"$tmp/sbatch.err") || { cat "$tmp/sbatch.err" >&2; fail "sbatch $j.sbatch"; }
    ids="$ids $j:$id"
done
note "submitted$ids"

# Wait for every job to leave the queue: polling squeue is quicker than sbatch --wait.
for _ in $(seq 600); do
    [ -z "$("$CLUSTER/exec" "${PREFIX}0" squeue -h -t PD,R,CG 2>/dev/null)" ] && break
    sleep 0.3
done
[ -z "$("$CLUSTER/exec" "${PREFIX}0" squeue -h -t PD,R,CG)" ] || fail "jobs still queued after 3 minutes"

built() { [ -x "$top_builddir/$1/$1" ]; }
n_checked=0
for entry in $ids; do
    j=${entry%%:*}; id=${entry#*:}
    state=$("$CLUSTER/exec" "${PREFIX}0" scontrol show job "$id" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    log="$jobs/cb-$j-$id.out"
    # Seen with UCX over TCP under srun (not under mpirun): reported, not hidden.
    timeouts=$(grep -c "Endpoint timeout" "$log" 2>/dev/null || true)
    extra=""
    [ "${timeouts:-0}" -gt 0 ] && extra=" ($timeouts UCX 'Endpoint timeout' lines at finalize)"
    note "$j.sbatch: job $id $state$extra"
    if [ "$j" = suite ]; then
        any=0
        for p in hpl microbench llm; do
            if built "$p"; then
                any=1
                h5check "$jobs/results/$p-$id.h5" --program "$p" --ranks $ranks --hosts "$NODES" || { cat "$log" >&2; fail "suite.sbatch: $p"; }
                n_checked=$((n_checked + 1))
            else
                grep -q "skipping $p: $p/$p is not built" "$log" || { cat "$log" >&2; fail "suite.sbatch did not say it skipped $p"; }
            fi
        done
        [ "$state" = COMPLETED ] || { cat "$log" >&2; fail "suite.sbatch: job $state"; }
        [ $any = 1 ] || note "suite.sbatch ran no program: none is built"
    elif built "$j"; then
        [ "$state" = COMPLETED ] || { cat "$log" >&2; fail "$j.sbatch: job $state"; }
        h5check "$jobs/results/$j-$id.h5" --program "$j" --ranks $ranks --hosts "$NODES" || { cat "$log" >&2; fail "$j.sbatch results"; }
        n_checked=$((n_checked + 1))
    else
        [ "$state" = FAILED ] || { cat "$log" >&2; fail "$j.sbatch without $j/$j: job $state, expected FAILED"; }
        grep -q "$j/$j is not built" "$log" || { cat "$log" >&2; fail "$j.sbatch without $j/$j: no clear message"; }
    fi
done
note "$n_checked results files checked"
"$CLUSTER/down" > /dev/null || fail "down"
for d in slurmctld slurmd munged slurmstepd; do
    for pid in $(pgrep -x "$d"); do
        tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$tmp" && fail "$d (pid $pid) still running after down"
    done
done
exit 0
