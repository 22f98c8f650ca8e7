#!/bin/sh
# See equiv.sh.
ARCH=llama exec /bin/sh "$top_srcdir/tests/llm/equiv.sh"
