#!/bin/sh
# Every quantized type's dequantization against a numpy decoder written from
# ggml's block layouts, on random block bytes. Skips without numpy.
: "${srcdir:=.}"
/usr/bin/python3 -c 'import numpy' 2>/dev/null || { echo "numpy missing: skipped"; exit 77; }
exec /usr/bin/python3 "$srcdir/tests/llm/quant_numpy.py" tests/llm/test_quant
