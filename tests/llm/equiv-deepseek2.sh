#!/bin/sh
# See equiv.sh: deepseek2 with q_lora, attn_k_b / attn_v_b, and YaRN (a small
# base and original context, so that the interpolated pairs turn within the
# test's positions and the attention scale carries mscale).
ARCH=deepseek2 WRITER="--theta 100 --rope-scaling yarn --rope-factor 4 --rope-orig 64" exec /bin/sh "$top_srcdir/tests/llm/equiv.sh"
