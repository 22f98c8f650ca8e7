#!/bin/sh
# See equiv.sh.
ARCH=qwen3 exec /bin/sh "$top_srcdir/tests/llm/equiv.sh"
