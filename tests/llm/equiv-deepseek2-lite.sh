#!/bin/sh
# See equiv.sh: deepseek2 as DeepSeek V2 Lite is shaped (no q_lora: a plain
# attn_q) and as older files store it (attn_kv_b whole); a dense first layer,
# a MoE second one without groups. (Q4_0 with MoE runs in equiv-deepseek2.sh.)
ARCH=deepseek2 WRITER="--q-lora 0 --kvb whole --dense-lead 1" TYPES="f32 bf16 q8_0" exec /bin/sh "$top_srcdir/tests/llm/equiv.sh"
