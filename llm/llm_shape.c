/* Synthetic models: the real dimensions of well-known models (or any shape
 * given by its dimensions) with deterministic random weights, so the kernels
 * can be measured at real widths without a model file. A weight is a
 * function of (seed, tensor, row, column) only, so every rank generates
 * exactly its own shard and any split sees the same model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llm.h"

/* ================================================================ presets */

typedef struct {
    const char *name;
    llm_config_t c;
} llm_shape_t;

#define SHAPE(n, a, d, h, l, nh, kv, hd, v, cx, theta, ti, bias) \
    { n, { .arch = a, .dim = d, .hidden = h, .n_layers = l, .n_heads = nh, .n_kv_heads = kv, .head_dim = hd, \
           .vocab = v, .ctx = cx, .rope_theta = theta, .norm_eps = 1e-6f, .rope_neox = a != LLM_ARCH_LLAMA, \
           .qk_norm = a == LLM_ARCH_QWEN3, .qkv_bias = bias, .tied = ti } }
/* deepseek2: dense FFN width, heads, q_lora (0: none), kv_lora, nope, rope,
 * v dims; YaRN factor over the original context (factor 0: none), beta_fast;
 * DeepSeek MoE: ne experts of width eff (and one shared of the same), nu used,
 * after lead dense layers, sigmoid router with selection bias, weights
 * renormalised and scaled by wscale, ng groups of which tg are chosen. */
#define SHAPE_MLA(n, d, h, l, nh, ql, kvl, np_, rd, vd, v, cx, theta, yf, yorig, bfast, ne, nu, eff, lead, wscale, ng, tg) \
    { n, { .arch = LLM_ARCH_DEEPSEEK2, .dim = d, .hidden = h, .n_layers = l, .n_heads = nh, .n_kv_heads = nh, \
           .head_dim = (np_) + (rd), .vocab = v, .ctx = cx, .rope_theta = theta, .norm_eps = 1e-6f, \
           .rope_scaling = { .kind = (yf) > 0 ? LLM_ROPE_YARN : LLM_ROPE_NONE, .factor = (yf) > 0 ? (yf) : 1.0f, \
                             .orig_ctx = yorig, .beta_fast = bfast, .beta_slow = 1, .ext_factor = 1, .attn_factor = 1, \
                             .log_mul = (yf) > 0 ? 0.1f : 0.0f }, \
           .mla = { .kv_lora = kvl, .q_lora = ql, .nope = np_, .rope = rd, .v_dim = vd, .split_kvb = 1 }, \
           .moe = { .n_experts = ne, .n_used = nu, .expert_ffn = eff, .n_shared = 1, .shared_ffn = eff, \
                    .n_dense_lead = lead, .gate = LLM_GATE_SIGMOID, .norm_topk = 1, .weights_scale = wscale, \
                    .n_group = ng, .topk_group = tg, .sel_bias = 1 } } }

/* A mixture of experts: ne experts of width eff, nu used per token (softmax, renormalised). */
#define MOE_SHAPE(n, a, d, l, nh, kv, hd, v, cx, theta, ne, nu, eff) \
    { n, { .arch = a, .dim = d, .n_layers = l, .n_heads = nh, .n_kv_heads = kv, .head_dim = hd, .vocab = v, \
           .ctx = cx, .rope_theta = theta, .norm_eps = 1e-6f, .rope_neox = 1, .qk_norm = 1, \
           .moe = { .n_experts = ne, .n_used = nu, .expert_ffn = eff, .gate = LLM_GATE_SOFTMAX, .norm_topk = 1, \
                    .weights_scale = 1.0f } } }

static const llm_shape_t llm_shapes[] = {
    /* name           arch            dim   ffn    layers heads kv  hd   vocab   ctx     theta    tied bias */
    SHAPE("llama-3.2-1b", LLM_ARCH_LLAMA, 2048, 8192, 16, 32, 8, 64, 128256, 131072, 500000.0f, 1, 0),
    SHAPE("llama-3.2-3b", LLM_ARCH_LLAMA, 3072, 8192, 28, 24, 8, 128, 128256, 131072, 500000.0f, 1, 0),
    SHAPE("llama-3.1-8b", LLM_ARCH_LLAMA, 4096, 14336, 32, 32, 8, 128, 128256, 131072, 500000.0f, 0, 0),
    SHAPE("llama-3.1-70b", LLM_ARCH_LLAMA, 8192, 28672, 80, 64, 8, 128, 128256, 131072, 500000.0f, 0, 0),
    SHAPE("qwen2.5-0.5b", LLM_ARCH_QWEN2, 896, 4864, 24, 14, 2, 64, 151936, 32768, 1000000.0f, 1, 1),
    SHAPE("qwen2.5-7b", LLM_ARCH_QWEN2, 3584, 18944, 28, 28, 4, 128, 152064, 32768, 1000000.0f, 0, 1),
    SHAPE("qwen3-0.6b", LLM_ARCH_QWEN3, 1024, 3072, 28, 16, 8, 128, 151936, 40960, 1000000.0f, 1, 0),
    SHAPE("qwen3-1.7b", LLM_ARCH_QWEN3, 2048, 6144, 28, 16, 8, 128, 151936, 40960, 1000000.0f, 1, 0),
    SHAPE("qwen3-4b", LLM_ARCH_QWEN3, 2560, 9728, 36, 32, 8, 128, 151936, 40960, 1000000.0f, 1, 0),
    SHAPE("qwen3-8b", LLM_ARCH_QWEN3, 4096, 12288, 36, 32, 8, 128, 151936, 40960, 1000000.0f, 0, 0),
    SHAPE("qwen3-32b", LLM_ARCH_QWEN3, 5120, 25600, 64, 64, 8, 128, 151936, 40960, 1000000.0f, 0, 0),
    /*             name               arch               dim  layers heads kv  hd  vocab   ctx    theta  experts used ffn */
    MOE_SHAPE("qwen3-30b-a3b", LLM_ARCH_QWEN3MOE, 2048, 48, 32, 4, 128, 151936, 40960, 1000000.0f, 128, 8, 768),
    MOE_SHAPE("qwen3-235b-a22b", LLM_ARCH_QWEN3MOE, 4096, 94, 64, 4, 128, 151936, 40960, 1000000.0f, 128, 8, 1536),
    /* name          dim   ffn   layers heads q_lora kv_lora nope rope v  vocab   ctx     theta  yarn  orig beta_fast
     *               experts used ffn lead scale groups used */
    SHAPE_MLA("deepseek-v3", 7168, 18432, 61, 128, 1536, 512, 128, 64, 128, 129280, 163840, 10000.0f, 40.0f, 4096, 32,
              256, 8, 2048, 3, 2.5f, 8, 4),
    SHAPE_MLA("kimi-k2", 7168, 18432, 61, 64, 1536, 512, 128, 64, 128, 163840, 131072, 50000.0f, 32.0f, 4096, 1,
              384, 8, 2048, 1, 2.827f, 1, 1),
    /* Small shapes for tests: every split from 1 to 4 ranks, GQA, uneven np = 3
     * ("tiny" is tiny-llama; the last four rows are the architectures' defaults,
     * in llm_arch_names' order). */
    SHAPE("tiny", LLM_ARCH_LLAMA, 64, 128, 2, 4, 2, 32, 256, 256, 10000.0f, 0, 0),
    SHAPE("tiny-llama", LLM_ARCH_LLAMA, 64, 128, 2, 4, 2, 32, 256, 256, 10000.0f, 0, 0),
    SHAPE("tiny-qwen2", LLM_ARCH_QWEN2, 64, 128, 2, 4, 2, 32, 256, 256, 1000000.0f, 0, 1),
    SHAPE("tiny-qwen3", LLM_ARCH_QWEN3, 64, 128, 2, 4, 2, 32, 256, 256, 1000000.0f, 0, 0),
    MOE_SHAPE("tiny-qwen3moe", LLM_ARCH_QWEN3MOE, 64, 2, 4, 2, 32, 256, 256, 1000000.0f, 6, 2, 64),
    SHAPE_MLA("tiny-deepseek2", 64, 128, 2, 4, 32, 64, 32, 16, 32, 256, 256, 10000.0f, 4.0f, 64, 32,
              8, 2, 32, 1, 2.5f, 4, 2),
};
#define LLM_N_SHAPES ((int)(sizeof(llm_shapes) / sizeof(llm_shapes[0])))

void llm_shape_list(void *out)
{
    FILE *f = out;
    fprintf(f, "# %-15s %-8s %6s %6s %6s %5s %4s %4s %7s %s\n", "shape", "arch", "dim", "ffn", "layers", "heads", "kv", "hd",
            "vocab", "experts");
    for (int i = 0; i < LLM_N_SHAPES; i++) {
        const llm_config_t *c = &llm_shapes[i].c;
        char ex[48] = "-";
        if (c->moe.n_experts)
            snprintf(ex, sizeof ex, "%d, %d used, ffn %d", c->moe.n_experts, c->moe.n_used, c->moe.expert_ffn);
        fprintf(f, "  %-15s %-8s %6d %6d %6d %5d %4d %4d %7d %s\n", llm_shapes[i].name, llm_arch_names[c->arch],
                c->dim, c->moe.n_experts ? c->moe.expert_ffn : c->hidden, c->n_layers, c->n_heads, c->n_kv_heads,
                c->head_dim, c->vocab, ex);
    }
}

/* "BASE[:key=value,...]": BASE a preset or an architecture (tiny defaults). */
static cb_status_t shape_parse(const char *text, llm_config_t *c)
{
    char base[64];
    const char *colon = strchr(text, ':');
    size_t bl = colon ? (size_t)(colon - text) : strlen(text);
    if (bl == 0 || bl >= sizeof base) {
        cb_error("--shape %s: expected NAME or NAME:key=value,...", text);
        return CB_ERR_USAGE;
    }
    memcpy(base, text, bl);
    base[bl] = 0;
    int found = 0;
    for (int i = 0; i < LLM_N_SHAPES && !found; i++)
        if (strcmp(llm_shapes[i].name, base) == 0) {
            *c = llm_shapes[i].c;
            found = 1;
        }
    for (int a = 0; llm_arch_names[a] && !found; a++)
        if (strcmp(llm_arch_names[a], base) == 0)
            for (int i = 0; i < LLM_N_SHAPES && !found; i++)
                if (!strncmp(llm_shapes[i].name, "tiny-", 5) && !strcmp(llm_shapes[i].name + 5, base)) {
                    *c = llm_shapes[i].c;
                    found = 1;
                }
    if (!found) {
        cb_error("--shape %s: unknown shape (llm generate --list-shapes shows them; or llama, qwen2, qwen3 with dimensions)", base);
        return CB_ERR_USAGE;
    }
    const char *p = colon ? colon + 1 : NULL;
    while (p && *p) {
        char key[32], val[32];
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (!eq || eq > p + n || (size_t)(eq - p) >= sizeof key || n - (size_t)(eq - p) - 1 >= sizeof val) {
            cb_error("--shape %s: expected key=value, found '%.*s'", text, (int)n, p);
            return CB_ERR_USAGE;
        }
        memcpy(key, p, (size_t)(eq - p));
        key[eq - p] = 0;
        memcpy(val, eq + 1, n - (size_t)(eq - p) - 1);
        val[n - (size_t)(eq - p) - 1] = 0;
        static const struct { const char *k; size_t off; long long max; } keys[] = {
            { "dim", offsetof(llm_config_t, dim), 1 << 16 },
            { "ffn", offsetof(llm_config_t, hidden), 1 << 18 },
            { "layers", offsetof(llm_config_t, n_layers), 1024 },
            { "heads", offsetof(llm_config_t, n_heads), 1024 },
            { "kv", offsetof(llm_config_t, n_kv_heads), 1024 },
            { "head_dim", offsetof(llm_config_t, head_dim), 1024 },
            { "vocab", offsetof(llm_config_t, vocab), 1 << 21 },
            { "ctx", offsetof(llm_config_t, ctx), 1 << 24 },
            { "tied", offsetof(llm_config_t, tied), 1 },
            { "q_lora", offsetof(llm_config_t, mla.q_lora), 1 << 16 },
            { "kv_lora", offsetof(llm_config_t, mla.kv_lora), 1 << 16 },
            { "nope", offsetof(llm_config_t, mla.nope), 1024 },
            { "rope", offsetof(llm_config_t, mla.rope), 1024 },
            { "v_dim", offsetof(llm_config_t, mla.v_dim), 1024 },
            { "experts", offsetof(llm_config_t, moe.n_experts), 1 << 12 },
            { "used", offsetof(llm_config_t, moe.n_used), 1 << 12 },
            { "expert_ffn", offsetof(llm_config_t, moe.expert_ffn), 1 << 18 },
            { "shared_ffn", offsetof(llm_config_t, moe.shared_ffn), 1 << 18 },
            { "dense_lead", offsetof(llm_config_t, moe.n_dense_lead), 1024 },
        };
        int k;
        for (k = 0; k < (int)(sizeof keys / sizeof keys[0]); k++)
            if (strcmp(keys[k].k, key) == 0)
                break;
        if (k == (int)(sizeof keys / sizeof keys[0])) {
            cb_error("--shape: unknown key '%s' (dim, ffn, layers, heads, kv, head_dim, vocab, ctx, tied, "
                     "experts, used, expert_ffn, shared_ffn, dense_lead; deepseek2: q_lora, kv_lora, nope, rope, v_dim)", key);
            return CB_ERR_USAGE;
        }
        long long v;
        int mla_key = keys[k].off >= offsetof(llm_config_t, mla) && keys[k].off < offsetof(llm_config_t, mla) + sizeof(llm_mla_config_t);
        if (c->arch != LLM_ARCH_DEEPSEEK2 && mla_key) {
            cb_error("--shape %s: %s is a deepseek2 key", text, key);
            return CB_ERR_USAGE;
        }
        int min = !strcmp(key, "tied") || !strcmp(key, "q_lora") || !strcmp(key, "shared_ffn") || !strcmp(key, "dense_lead") ? 0 : 1;
        cb_status_t st = cb_parse_int(val, key, min, keys[k].max, &v);
        if (st != CB_OK)
            return st;
        *(int *)((char *)c + keys[k].off) = (int)v;
        p = end ? end + 1 : NULL;
    }
    if (c->arch == LLM_ARCH_DEEPSEEK2) {
        c->n_kv_heads = c->n_heads;
        c->head_dim = c->mla.nope + c->mla.rope;
        if (c->mla.rope % 2) {
            cb_error("--shape %s: rope (%d) must be even", text, c->mla.rope);
            return CB_ERR_USAGE;
        }
    }
    if (c->arch != LLM_ARCH_QWEN3MOE && c->arch != LLM_ARCH_DEEPSEEK2 && (c->moe.n_experts || c->moe.shared_ffn)) {
        cb_error("--shape %s: experts belong to a mixture-of-experts architecture (qwen3moe, deepseek2)", text);
        return CB_ERR_USAGE;
    }
    if ((c->arch == LLM_ARCH_QWEN3MOE || c->moe.n_experts) &&
        (c->moe.n_used > c->moe.n_experts || c->moe.n_experts < 1 || c->moe.n_used > 64)) {
        cb_error("--shape %s: %d experts used of %d (at most 64)", text, c->moe.n_used, c->moe.n_experts);
        return CB_ERR_USAGE;
    }
    if (c->moe.n_group > 1 && (c->moe.n_experts % c->moe.n_group || c->moe.topk_group * (c->moe.n_experts / c->moe.n_group) < c->moe.n_used)) {
        cb_error("--shape %s: %d experts in %d groups cannot give %d", text, c->moe.n_experts, c->moe.n_group, c->moe.n_used);
        return CB_ERR_USAGE;
    }
    c->moe.n_shared = c->moe.shared_ffn > 0;
    if (c->n_heads % c->n_kv_heads || c->head_dim % 2) {
        cb_error("--shape %s: heads (%d) must be a multiple of kv (%d), head_dim (%d) even", text,
                 c->n_heads, c->n_kv_heads, c->head_dim);
        return CB_ERR_USAGE;
    }
    return CB_OK;
}

/* ================================================================ directory */

static void shape_add3(llm_desc_t *desc, const char *name, int type, int64_t cols, int64_t rows, int64_t n)
{
    llm_tensor_t *t = &desc->tensors[desc->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = rows > 1 ? type : LLM_F32;
    t->n_dims = n > 1 ? 3 : rows > 1 ? 2 : 1;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->ne[2] = n;
    t->ne[3] = 1;
    t->bytes = llm_type_bytes(t->type, cols) * (uint64_t)rows * (uint64_t)n;
}

static void shape_add(llm_desc_t *desc, const char *name, int type, int64_t cols, int64_t rows)
{
    shape_add3(desc, name, type, cols, rows, 1);
}

cb_status_t llm_shape_desc(const char *shape, int type, int n_layers, uint64_t seed, llm_desc_t *desc)
{
    memset(desc, 0, sizeof *desc);
    cb_status_t st = shape_parse(shape, &desc->cfg);
    if (st != CB_OK)
        return st;
    llm_config_t *c = &desc->cfg;
    if (n_layers > 0 && n_layers < c->n_layers)
        c->n_layers = n_layers;
    int blk = llm_type_block(type);
    if (c->dim % blk || c->hidden % blk || (c->n_heads * c->head_dim) % blk || c->moe.expert_ffn % blk ||
        c->moe.shared_ffn % blk ||
        (c->mla.kv_lora && (c->mla.kv_lora % blk || c->mla.nope % blk || c->mla.q_lora % blk))) {
        cb_error("--shape %s: dim, ffn and heads x head_dim must be multiples of %d for %s", shape, blk, llm_type_name(type));
        return CB_ERR_USAGE;
    }
    desc->format = LLM_FMT_SYNTHETIC;
    desc->seed = seed;
    snprintf(desc->source, sizeof desc->source, "synthetic %s %s%s", shape, llm_type_name(type),
             n_layers > 0 ? " (layers cut)" : "");
    desc->tensors = calloc((size_t)c->n_layers * 28 + 4, sizeof *desc->tensors);
    if (!desc->tensors) {
        cb_error("cannot allocate the tensor directory");
        return CB_ERR_NOMEM;
    }
    int64_t qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
    char n[LLM_NAME_MAX];
    shape_add(desc, "token_embd.weight", type, c->dim, c->vocab);
    shape_add(desc, "output_norm.weight", type, c->dim, 1);
    if (!c->tied)
        shape_add(desc, "output.weight", type, c->dim, c->vocab);
    for (int l = 0; l < c->n_layers; l++) {
#define ADD(fmt, cols, rows) snprintf(n, sizeof n, fmt, l); shape_add(desc, n, type, cols, rows)
        ADD("blk.%d.attn_norm.weight", c->dim, 1);
        if (c->mla.kv_lora) {
            const llm_mla_config_t *m = &c->mla;
            if (m->q_lora) {
                ADD("blk.%d.attn_q_a.weight", c->dim, m->q_lora);
                ADD("blk.%d.attn_q_a_norm.weight", m->q_lora, 1);
                ADD("blk.%d.attn_q_b.weight", m->q_lora, qd);
            } else {
                ADD("blk.%d.attn_q.weight", c->dim, qd);
            }
            ADD("blk.%d.attn_kv_a_mqa.weight", c->dim, m->kv_lora + m->rope);
            ADD("blk.%d.attn_kv_a_norm.weight", m->kv_lora, 1);
            snprintf(n, sizeof n, "blk.%d.attn_k_b.weight", l);
            shape_add3(desc, n, type, m->nope, m->kv_lora, c->n_heads);
            snprintf(n, sizeof n, "blk.%d.attn_v_b.weight", l);
            shape_add3(desc, n, type, m->kv_lora, m->v_dim, c->n_heads);
            ADD("blk.%d.attn_output.weight", (int64_t)c->n_heads * m->v_dim, c->dim);
        } else {
            ADD("blk.%d.attn_q.weight", c->dim, qd);
            ADD("blk.%d.attn_k.weight", c->dim, kvd);
            ADD("blk.%d.attn_v.weight", c->dim, kvd);
            ADD("blk.%d.attn_output.weight", qd, c->dim);
        }
        ADD("blk.%d.ffn_norm.weight", c->dim, 1);
        if (llm_layer_is_moe(c, l)) {
            const llm_moe_config_t *m = &c->moe;
            /* The router stays F32, as llama.cpp's quantizer keeps it. */
            snprintf(n, sizeof n, "blk.%d.ffn_gate_inp.weight", l);
            shape_add(desc, n, LLM_F32, c->dim, m->n_experts);
            snprintf(n, sizeof n, "blk.%d.ffn_gate_exps.weight", l);
            shape_add3(desc, n, type, c->dim, m->expert_ffn, m->n_experts);
            snprintf(n, sizeof n, "blk.%d.ffn_up_exps.weight", l);
            shape_add3(desc, n, type, c->dim, m->expert_ffn, m->n_experts);
            snprintf(n, sizeof n, "blk.%d.ffn_down_exps.weight", l);
            shape_add3(desc, n, type, m->expert_ffn, c->dim, m->n_experts);
            if (m->sel_bias) {
                snprintf(n, sizeof n, "blk.%d.exp_probs_b.bias", l);
                shape_add(desc, n, LLM_F32, m->n_experts, 1);
            }
            if (m->shared_ffn > 0) {
                ADD("blk.%d.ffn_gate_shexp.weight", c->dim, m->shared_ffn);
                ADD("blk.%d.ffn_up_shexp.weight", c->dim, m->shared_ffn);
                ADD("blk.%d.ffn_down_shexp.weight", m->shared_ffn, c->dim);
            }
        } else {
            ADD("blk.%d.ffn_gate.weight", c->dim, c->hidden);
            ADD("blk.%d.ffn_up.weight", c->dim, c->hidden);
            ADD("blk.%d.ffn_down.weight", c->hidden, c->dim);
        }
        if (c->qkv_bias) {
            ADD("blk.%d.attn_q.bias", qd, 1);
            ADD("blk.%d.attn_k.bias", kvd, 1);
            ADD("blk.%d.attn_v.bias", kvd, 1);
        }
        if (c->qk_norm) {
            ADD("blk.%d.attn_q_norm.weight", c->head_dim, 1);
            ADD("blk.%d.attn_k_norm.weight", c->head_dim, 1);
        }
#undef ADD
    }
    return llm_desc_config(desc);
}

/* ================================================================ values */

static inline uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void llm_shape_values(const llm_desc_t *desc, int t, int64_t r0, int64_t nr,
                      int64_t c0, int64_t nc, float *dst)
{
    const llm_tensor_t *ti = &desc->tensors[t];
    size_t len = strlen(ti->name);
    float scale, offset = 0;
    if (len > 12 && strcmp(ti->name + len - 12, "_norm.weight") == 0) {
        scale = 0.1f;
        offset = 1.0f;
    } else if (len > 5 && strcmp(ti->name + len - 5, ".bias") == 0) {
        scale = 0.1f;
    } else if (strcmp(ti->name, "token_embd.weight") == 0) {
        scale = 1.0f;
    } else {
        scale = sqrtf(3.0f / (float)ti->ne[0]); /* keeps activations near unit variance */
    }
    uint64_t base = mix64(desc->seed * 0x100000001b3ull + (uint64_t)t);
    for (int64_t r = 0; r < nr; r++) {
        uint64_t rb = mix64(base ^ ((uint64_t)(r0 + r) * 0xd6e8feb86659fd93ull));
        for (int64_t c = 0; c < nc; c++) {
            uint64_t x = mix64(rb + (uint64_t)(c0 + c));
            float u = (float)(int64_t)(x >> 40) * (1.0f / 8388608.0f) - 1.0f; /* [-1, 1) */
            dst[r * nc + c] = offset + scale * u;
        }
    }
}
