#!/bin/sh
# Replay the fuzz corpus (seeds and every input libFuzzer found interesting)
# through the model parsers, without libFuzzer: none may crash.
set -u
exec "$top_builddir/tests/llm/fuzz_replay" "$top_srcdir/tests/llm/fuzz/corpus"
