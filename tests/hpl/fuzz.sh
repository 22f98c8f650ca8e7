#!/bin/sh
# Replay the HPL.dat fuzz corpus (seeds and every input libFuzzer found
# interesting) through the parser and the expansion of its lists, without
# libFuzzer: none may crash.
set -u
exec "$top_builddir/tests/hpl/fuzz_replay" "$top_srcdir/tests/hpl/fuzz/corpus"
