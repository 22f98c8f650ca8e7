#!/bin/sh
# scripts/run-suite on this machine with small sizes: every built program runs on two
# ranks, writes a complete HDF5 file under --results, and the summary names it; a
# program that is not built is skipped with its reason. --dry-run shows the commands.
. "$(dirname "$0")/lib.sh"
need_mpirun
S=$top_srcdir/scripts

"$S/run-suite" --dry-run --no-build --build "$top_builddir" --np 2 --results "$tmp/dry" > "$tmp/dry.out" 2>&1 || {
    cat "$tmp/dry.out" >&2; fail "run-suite --dry-run"; }
for p in hpl microbench llm; do
    grep -q "^# run-suite: $p: .*mpirun.* -np 2 " "$tmp/dry.out" || { cat "$tmp/dry.out" >&2; fail "--dry-run does not show the $p command"; }
done
grep -q "^# run-suite: llm: .* --type q8_0 --roofline" "$tmp/dry.out" || { cat "$tmp/dry.out" >&2; fail "llm does not run Q8_0 with --roofline by default"; }

timeout -k 5 240 "$S/run-suite" --quick --no-build --no-plots --build "$top_builddir" --np 2 --results "$tmp/res" \
    --hpl-n 480 --llm-shape tiny-llama --mb-iters 20 > "$tmp/out" 2>&1
rc=$?
n_built=0
for p in hpl microbench llm; do
    if [ -x "$top_builddir/$p/$p" ]; then
        n_built=$((n_built + 1))
        f=$(ls "$tmp"/res/$p-*.h5 2>/dev/null | head -n 1)
        [ -n "$f" ] || { cat "$tmp/out" >&2; fail "run-suite wrote no $p results"; }
        need_python_h5py
        h5check "$f" --program $p --ranks 2 || { cat "$tmp/out" >&2; fail "run-suite: $p results"; }
        grep -q "^# $p: complete, 2 ranks" "$tmp/out" || { cat "$tmp/out" >&2; fail "the summary does not show $p"; }
    else
        grep -q "skipping $p: " "$tmp/out" || { cat "$tmp/out" >&2; fail "run-suite did not say why it skipped $p"; }
    fi
done
if [ $n_built -gt 0 ]; then
    [ $rc = 0 ] || { cat "$tmp/out" >&2; fail "run-suite exited $rc"; }
    # Each step says so as it starts; the summary is saved with each run's command.
    grep -q "^# run-suite: \[1/4\] hpl" "$tmp/out" && grep -q "^# run-suite: \[4/4\] summary" "$tmp/out" ||
        { cat "$tmp/out" >&2; fail "run-suite does not number its steps"; }
    s=$(ls "$tmp"/res/summary-*.txt 2>/dev/null | head -n 1)
    [ -n "$s" ] || { cat "$tmp/out" >&2; fail "run-suite saved no summary"; }
    grep -q "^# run-suite: summary saved as $s" "$tmp/out" || fail "run-suite does not say where the summary is"
    for p in hpl microbench llm; do
        [ -x "$top_builddir/$p/$p" ] || continue
        grep -q "^#   $p: .*OMPI_MCA_pml=ucx .*mpirun -np 2 .*/$p/$p .*-o " "$s" || { cat "$s" >&2; fail "the summary lacks $p's command with its MCA settings"; }
    done
    "$PYTHON3" "$top_srcdir/tests/scripts/units.py" "$top_srcdir/results/README.md" "$tmp"/res/*.h5 ||
        fail "a field breaks the unit rule of results/README.md"
else
    [ $rc != 0 ] || fail "run-suite with nothing built exited 0"
fi
note "$n_built programs ran through run-suite"
exit 0
