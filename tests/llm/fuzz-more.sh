#!/bin/sh
# Replay the llama2.c loader's and the chat templates' fuzz corpora (seeds and
# every input libFuzzer kept, crashers included) without libFuzzer: none may crash.
set -u
"$top_builddir/tests/llm/fuzz_l2c_replay" "$top_srcdir/tests/llm/fuzz/corpus-fuzz_l2c" || exit 1
exec "$top_builddir/tests/llm/fuzz_chat_replay" "$top_srcdir/tests/llm/fuzz/corpus-fuzz_chat"
