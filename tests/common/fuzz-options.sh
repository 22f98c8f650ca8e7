#!/bin/sh
# Replay the option parser's fuzz corpus (seeds and what libFuzzer kept) without
# libFuzzer: none may crash or accept a value outside its range.
set -u
exec "$top_builddir/tests/common/fuzz_options_replay" "$top_srcdir/tests/common/fuzz/corpus"
