#!/bin/sh
# See equiv.sh.
ARCH=qwen2 exec /bin/sh "$top_srcdir/tests/llm/equiv.sh"
