#!/bin/sh
# The batch jobs as a site engineer would drive them, without Slurm: each *.sbatch run
# with a job's environment and a stand-in srun that records its arguments. hpl and llm
# ranks get their CPUs (--cpus-per-task, and as many BLAS threads); CB_SRUN_MPI,
# CB_MPI_ARGS, CB_PML and CB_MODULES are honoured; a job array's task runs its line of
# the sweep file; results are named by job and array ids and never replace an earlier
# file; bad sweep lines stop the job with one clear line.
. "$(dirname "$0")/lib.sh"
S=$top_srcdir/scripts

# A build folder with stand-in programs (never run: srun below only records).
mkdir -p "$tmp/build/hpl" "$tmp/build/microbench" "$tmp/build/llm" "$tmp/bin" "$tmp/res"
for p in hpl microbench llm; do printf '#!/bin/sh\nexit 0\n' > "$tmp/build/$p/$p"; chmod +x "$tmp/build/$p/$p"; done
cat > "$tmp/bin/srun" <<'EOF'
#!/bin/sh
# stand-in srun: one line per launch, the arguments and the thread settings
echo "srun $* | OMP_NUM_THREADS=${OMP_NUM_THREADS:-} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-} OMPI_MCA_pml=${OMPI_MCA_pml:-} UCX_TLS=${UCX_TLS:-}" >> "$CB_TEST_SRUN_LOG"
EOF
cat > "$tmp/bin/module" <<'EOF'
#!/bin/sh
echo "module $*" >> "$CB_TEST_SRUN_LOG"
EOF
chmod +x "$tmp/bin/srun" "$tmp/bin/module"
log=$tmp/srun.log

# job NAME ENV...: run scripts/slurm/NAME.sbatch as job 4242 of 2 nodes x 2 tasks, 8 CPUs a node.
job() {
    name=$1; shift
    : > "$log"
    env -u SLURM_CPUS_PER_TASK -u OMPI_MCA_pml PATH="$tmp/bin:$PATH" CB_TEST_SRUN_LOG="$log" CB_ROOT="$top_srcdir" \
        CB_BUILDDIR="$tmp/build" CB_RESULTS="$tmp/res" SLURM_JOB_ID=4242 SLURM_JOB_NUM_NODES=2 SLURM_NTASKS=4 \
        SLURM_NTASKS_PER_NODE=2 SLURM_CPUS_ON_NODE=8 SLURM_JOB_NODELIST="n[0-1]" SLURM_SUBMIT_DIR="$tmp" \
        "$@" bash "$S/slurm/$name.sbatch" ${SWEEP:-} > "$tmp/job.out" 2> "$tmp/job.err"
}
has() { grep -q -- "$1" "$log" || { cat "$tmp/job.out" "$tmp/job.err" "$log" >&2; fail "$2"; }; }

job hpl || { cat "$tmp/job.err" >&2; fail "hpl.sbatch"; }
has "srun --mpi=pmix --kill-on-bad-exit=1 --cpus-per-task=4 $tmp/build/hpl/hpl -o $tmp/res/hpl-4242.h5 " \
    "hpl.sbatch: ranks do not get the node's 8 CPUs over its 2 tasks"
has "OMP_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4 OMPI_MCA_pml=ucx" "hpl.sbatch: BLAS threads or PML"
# A second job of the same id (a requeue) does not replace the first one's results.
touch "$tmp/res/hpl-4242.h5"
job hpl || fail "hpl.sbatch, again"
has "-o $tmp/res/hpl-4242-2.h5 " "hpl.sbatch replaced an earlier results file"
# The site's choices.
job llm CB_SRUN_MPI=pmi2 CB_MPI_ARGS="--cpu-bind=cores" CB_PML=site CB_CPUS_PER_TASK=2 CB_MODULES="openmpi/4.1 ucx" ||
    { cat "$tmp/job.err" >&2; fail "llm.sbatch with site settings"; }
has "module load openmpi/4.1 ucx" "CB_MODULES not loaded"
has "srun --mpi=pmi2 --kill-on-bad-exit=1 --cpu-bind=cores --cpus-per-task=2 $tmp/build/llm/llm bench -o $tmp/res/llm-4242.h5" \
    "llm.sbatch: CB_SRUN_MPI, CB_MPI_ARGS or CB_CPUS_PER_TASK not honoured"
has "OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 OMPI_MCA_pml= " "CB_PML=site still forced a PML"
job microbench OMPI_MCA_pml=ob1 || fail "microbench.sbatch"
has "OMPI_MCA_pml=ob1 " "a PML set in the environment was overridden"
grep -q -- "--cpus-per-task" "$log" && fail "microbench ranks should keep one CPU each"

# A sweep: array task 2 runs the third line that is not a comment.
cat > "$tmp/sweep" <<'EOF'
# comment
hpl -N 1000

UCX_TLS=tcp microbench latency
ntasks=2 llm bench --shape tiny-llama
ntasks=9 hpl -N 1
bogus -x
EOF
SWEEP=$tmp/sweep job sweep SLURM_ARRAY_JOB_ID=900 SLURM_ARRAY_TASK_ID=2 || { cat "$tmp/job.err" >&2; fail "sweep.sbatch task 2"; }
has "srun --mpi=pmix --kill-on-bad-exit=1 --cpus-per-task=4 -n 2 $tmp/build/llm/llm bench -o $tmp/res/llm-900_2.h5 --shape tiny-llama" \
    "sweep task 2: not line 2, or not named by array job and index"
SWEEP=$tmp/sweep job sweep SLURM_ARRAY_JOB_ID=900 SLURM_ARRAY_TASK_ID=1 || fail "sweep.sbatch task 1"
has "$tmp/build/microbench/microbench -o $tmp/res/microbench-900_1.h5 latency | .* UCX_TLS=tcp" "sweep task 1: the transport"
for bad in "3:the job has 4 tasks" "4:'bogus': not a program" "7:has no line 7"; do
    SWEEP=$tmp/sweep job sweep SLURM_ARRAY_JOB_ID=900 SLURM_ARRAY_TASK_ID=${bad%%:*} && fail "sweep line ${bad%%:*} succeeded"
    grep -q "${bad#*:}" "$tmp/job.err" || { cat "$tmp/job.err" >&2; fail "sweep line ${bad%%:*}: no clear message"; }
done
job sweep && fail "sweep.sbatch without a sweep file succeeded"
grep -q "no sweep file" "$tmp/job.err" || { cat "$tmp/job.err" >&2; fail "sweep.sbatch: no clear message without a file"; }
job hpl CB_SRUN_MPI='pmix;rm' && fail "a bad CB_SRUN_MPI was accepted"
note "hpl, llm, microbench and sweep jobs launch as configured"
exit 0
