#!/bin/sh
# Bad input to every script: a clear "program: what: why" line, a non-zero exit, and
# nothing left running (no namespace, no daemon, no relay).
. "$(dirname "$0")/lib.sh"
S=$top_srcdir/scripts

# expect_fail PATTERN CMD...: CMD exits non-zero and says PATTERN on stderr.
expect_fail() {
    pattern=$1; shift
    if "$@" > "$tmp/out" 2> "$tmp/err"; then
        fail "'$*' succeeded; expected an error matching '$pattern'"
    fi
    grep -q -- "$pattern" "$tmp/err" || { cat "$tmp/err" >&2; fail "'$*': stderr does not say '$pattern'"; }
    note "ok: $* -> $(head -n 1 "$tmp/err")"
}

# ---------------------------------------------------------------- run-suite
expect_fail "unknown option" "$S/run-suite" --bogus
expect_fail "not a program" "$S/run-suite" --parts hpl,nonsense
expect_fail "not a positive number" "$S/run-suite" --np 0
expect_fail "not a positive number" "$S/run-suite" --mb-iters many
expect_fail "not a weight type" "$S/run-suite" --llm-type q3_k
expect_fail "no such readable file" "$S/run-suite" --hosts "$tmp/nonexistent"
printf '# nobody\n\n' > "$tmp/empty-hosts"
expect_fail "names no host" "$S/run-suite" --hosts "$tmp/empty-hosts"
printf 'node1 slots=two\n' > "$tmp/bad-slots"
expect_fail "slots must be" "$S/run-suite" --hosts "$tmp/bad-slots"
printf 'cb-unreachable-1.invalid slots=2\ncb-unreachable-2.invalid\n' > "$tmp/unreachable"
expect_fail "names no reachable host" "$S/run-suite" --hosts "$tmp/unreachable" --no-build
# A program that is not there: said, and a non-zero exit when nothing could run.
mkdir -p "$tmp/empty-build"
expect_fail "nothing ran" "$S/run-suite" --build "$tmp/empty-build" --no-build --results "$tmp/res"
grep -q "skipping hpl: " "$tmp/out" || fail "run-suite did not say why it skipped hpl"

# ---------------------------------------------------------------- Slurm jobs
for j in hpl microbench llm suite; do
    expect_fail "not inside a Slurm job" env -u SLURM_JOB_ID CB_ROOT="$top_srcdir" bash "$S/slurm/$j.sbatch"
done
expect_fail "not a clusterbench checkout" env CB_ROOT="$tmp" SLURM_JOB_ID=1 bash "$S/slurm/hpl.sbatch"

# ---------------------------------------------------------------- cluster
export CB_CLUSTER_DIR="$tmp/cluster-state"
expect_fail "not a number" "$S/cluster/up" four
expect_fail "must be 1 to 64" "$S/cluster/up" 0
expect_fail "must be 1 to 64" "$S/cluster/up" 65
expect_fail "unknown option" "$S/cluster/up" 2 --bogus
expect_fail "whole number" "$S/cluster/up" 2 --delay-us -5
expect_fail "whole number" "$S/cluster/up" 2 --delay-us 1.5
expect_fail "lower-case" "$S/cluster/up" 2 --prefix 'a;b'
expect_fail "no emulated cluster is up" "$S/cluster/exec" h0 true
expect_fail "no emulated cluster is up" "$S/cluster/mpirun" -np 2 true
expect_fail "no emulated cluster is up" "$S/cluster/agent" h0 true
relay=$top_builddir/scripts/cluster/relay
if [ -x "$relay" ]; then
    expect_fail "not a whole number" "$relay" --delay-us 12x /run/netns/none
    expect_fail "usage" "$relay" --delay-us 10
    expect_fail "unknown option" "$relay" --frobnicate 1
fi

if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 && ip netns add "cbbad$$" 2>/dev/null; then
    ip netns del "cbbad$$"
    if [ -x "$relay" ]; then
        expect_fail "cannot open namespace" "$relay" --delay-us 10 "$tmp/no-such-netns"
    fi
    expect_fail "no emulated cluster is up" "$S/cluster/slurm-up"
    # A host name that is taken: refused before anything is built, nothing left.
    P=$(unique_prefix bb)
    ip netns add "${P}1"
    at_exit "ip netns del ${P}1 2>/dev/null"
    expect_fail "exists already" "$S/cluster/up" 2 --prefix "$P"
    ! ip netns list | grep -q "^${P}0" || fail "up left namespace ${P}0 behind"
    [ ! -e "$CB_CLUSTER_DIR/state" ] || fail "up left its state behind"
    # Slurm missing: hide its commands.
    mkdir -p "$tmp/bin"
    for f in /usr/local/sbin/* /usr/local/bin/* /usr/sbin/* /usr/bin/* /sbin/* /bin/*; do
        case ${f##*/} in slurm*|sbatch|sinfo|squeue|srun|scontrol|scancel|munge*|salloc) continue ;; esac
        [ -e "$tmp/bin/${f##*/}" ] || ln -s "$f" "$tmp/bin/${f##*/}"
    done
    expect_fail "Slurm is not installed" env PATH="$tmp/bin" "$S/cluster/slurm-up"
    "$S/cluster/down" > /dev/null || fail "down with nothing up"
else
    note "not root or no namespaces: the cluster's run-time checks are not exercised"
fi
exit 0
