#!/bin/sh
# See equiv.sh: deepseek2 as DeepSeek V3 is shaped: q_lora, attn_k_b /
# attn_v_b, a dense first layer then MoE layers (sigmoid router, selection
# bias, 2 of 4 expert groups, normalised and scaled weights, a shared expert),
# and YaRN (a small base and original context, so that the interpolated pairs
# turn within the test's positions and the attention scale carries mscale).
ARCH=deepseek2 WRITER="--layers 3 --dense-lead 1 --groups 4 --groups-used 2 --theta 100 --rope-scaling yarn --rope-factor 4 --rope-orig 64" exec /bin/sh "$top_srcdir/tests/llm/equiv.sh"
