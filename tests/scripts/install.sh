#!/bin/sh
# make install into a private prefix: the programs as cb-hpl, cb-microbench, cb-llm (no
# bare hpl or llm to shadow other commands), the clusterbench command, and scripts that
# work from the prefix: run-suite writes its results, summary and commands under the
# working folder; export and the Slurm listing answer; make uninstall leaves no file.
. "$(dirname "$0")/lib.sh"
need_mpirun
need_python_h5py
program hpl > /dev/null
command -v make > /dev/null 2>&1 || skip "no make"
prefix=$tmp/prefix
env -u MAKEFLAGS -u MFLAGS make -C "$top_builddir" -s install prefix="$prefix" > "$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "make install"; }
for p in hpl microbench llm; do
    [ -x "$prefix/bin/cb-$p" ] || fail "make install did not install cb-$p"
    [ ! -e "$prefix/bin/$p" ] || fail "make install installed a bare '$p', which collides with other commands"
done
[ -x "$prefix/bin/clusterbench" ] || fail "no clusterbench command"
"$prefix/bin/cb-llm" --version > /dev/null || fail "cb-llm --version"
"$prefix/bin/clusterbench" --help | grep -q "clusterbench run-suite" || fail "clusterbench --help"
"$prefix/bin/clusterbench" slurm | grep -q "hpl.sbatch" || fail "clusterbench slurm"
if "$prefix/bin/clusterbench" nonsense 2> "$tmp/err"; then fail "clusterbench nonsense succeeded"; fi
grep -q "^clusterbench: nonsense: unknown command" "$tmp/err" || fail "clusterbench: no clear message"

mkdir "$tmp/work"
(cd "$tmp/work" && "$prefix/bin/clusterbench" run-suite --quick --np 2 --parts hpl --hpl-n 480 --no-plots) > "$tmp/out" 2>&1 ||
    { cat "$tmp/out" >&2; fail "the installed run-suite"; }
f=$(ls "$tmp"/work/results/hpl-*.h5 2>/dev/null | head -n 1)
[ -n "$f" ] || { cat "$tmp/out" >&2; fail "the installed run-suite wrote no results in the working folder"; }
h5check "$f" --program hpl --ranks 2 > /dev/null || fail "the installed run-suite's hpl results"
s=$(ls "$tmp"/work/results/summary-*.txt 2>/dev/null | head -n 1)
[ -n "$s" ] || { cat "$tmp/out" >&2; fail "no summary file"; }
grep -q "^#   hpl: .*mpirun .*$prefix/bin/cb-hpl -o " "$s" || { cat "$s" >&2; fail "the summary lacks the installed hpl's command"; }
"$prefix/bin/clusterbench" export "$f" | grep -q ",hpl,runs,WR" || fail "clusterbench export"

env -u MAKEFLAGS -u MFLAGS make -C "$top_builddir" -s uninstall prefix="$prefix" > "$tmp/uninstall.log" 2>&1 ||
    { cat "$tmp/uninstall.log" >&2; fail "make uninstall"; }
left=$(find "$prefix" -type f | head -n 5)
[ -z "$left" ] || fail "make uninstall left: $left"
note "installed, ran from $prefix, uninstalled"
exit 0
