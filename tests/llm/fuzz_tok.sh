#!/bin/sh
# Replay the tokenizer fuzz corpus (seeds and what libFuzzer found) through
# the tokenizer reader, encoder, decoder and chat-template recognition: none
# may crash.
set -u
exec "$top_builddir/tests/llm/fuzz_tok_replay" "$top_srcdir/tests/llm/fuzz/tok"
