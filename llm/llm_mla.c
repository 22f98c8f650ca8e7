/* Multi-head latent attention (DeepSeek V2/V3, Kimi K2: GGUF "deepseek2").
 * Keys and values come from one compressed latent per token (kv_lora wide,
 * RMS-normed) plus a RoPE key part shared by every head; only these
 * kv_lora + rope floats per token and layer are cached. Attention runs in the
 * absorbed form: each head's no-RoPE query is mapped into latent space by
 * k_b, scores are dots with the cached rows, the weighted sum of latents is
 * mapped to the head's value by v_b. All heads then share one cache, read
 * once per token by a single sgemm (MQA over the latent), never expanded.
 * Tensor parallel by heads: q_b (or q), k_b, v_b and the output projection
 * are this rank's heads; q_a, kv_a_mqa and the cache are replicated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "llm.h"

struct llm_mla_layer {
    float *q_a_norm;    /* (q_lora) RMSNorm of the compressed query; NULL without q_lora */
    float *kv_a_norm;   /* (kv_lora) RMSNorm of the latent */
    llm_mat_t wq_a;     /* (q_lora, dim) whole: compressed query; rows 0 without q_lora */
    llm_mat_t wq;       /* (nq_loc * (nope + rope), q_lora or dim): attn_q_b or attn_q, this rank's heads */
    llm_mat_t wkv_a;    /* (kv_lora + rope, dim) whole: the latent, then the shared RoPE key */
    llm_mat_t wk_b;     /* (nq_loc * kv_lora, nope): head h's rows [h kv_lora, (h+1) kv_lora) map a query to the latent */
    llm_mat_t wv_b;     /* (nq_loc * v_dim, kv_lora): head h's rows map the attended latent to its value */
};

struct llm_mla_run {
    int nq;             /* this rank's heads */
    int ctx, batch;
    int lat;            /* kv_lora + rope: a cache row */
    float kq_scale;     /* softmax scale, with YaRN's mscale */
    float mscale;       /* RoPE cos/sin magnitude */
    float *cache;       /* (l1 - l0, ctx, lat): normed latent then roped key of the rank's layers, the same on every rank */
    int l0;             /* the first layer the rank holds (layer split), else 0 */
    float *qa;          /* (batch, q_lora) */
    float *q;           /* (batch, nq * (nope + rope)) */
    float *kva;         /* (batch, lat) */
    float *qlat;        /* (nq, lat) one token's absorbed queries and their RoPE parts */
    float *att;         /* (nq, ctx) scores, then probabilities */
    float *olat;        /* (nq, kv_lora) attended latents */
    float *ao;          /* (batch, nq * v_dim) head outputs */
    double *inv_freq;   /* (rope / 2) */
    float *cs, *sn;     /* (rope / 2) one position's angles */
    llm_block_q8x_t *xq;/* quantized activations: a matvec's, or one per head */
};

/* ================================================================ configuration */

cb_status_t llm_mla_config_read(llm_desc_t *desc, const char *an)
{
    llm_config_t *c = &desc->cfg;
    int64_t dim, hidden, layers, heads, ctx, qlora, kvlora, klen, vlen, kmla, vmla, rope;
    if (!llm_desc_kv_int(desc, an, "embedding_length", -1, 1, 1 << 16, &dim) ||
        !llm_desc_kv_int(desc, an, "feed_forward_length", -1, 1, 1 << 18, &hidden) ||
        !llm_desc_kv_int(desc, an, "block_count", -1, 1, 1024, &layers) ||
        !llm_desc_kv_int(desc, an, "attention.head_count", -1, 1, 1024, &heads) ||
        !llm_desc_kv_int(desc, an, "attention.q_lora_rank", 0, 0, 1 << 16, &qlora) ||
        !llm_desc_kv_int(desc, an, "attention.kv_lora_rank", -1, 1, 1 << 16, &kvlora) ||
        !llm_desc_kv_int(desc, an, "attention.key_length", -1, 2, 1 << 16, &klen) ||
        !llm_desc_kv_int(desc, an, "attention.value_length", -1, 1, 1 << 16, &vlen) ||
        !llm_desc_kv_int(desc, an, "attention.key_length_mla", klen, 2, 1 << 16, &kmla) ||
        !llm_desc_kv_int(desc, an, "attention.value_length_mla", vlen, 1, 1 << 16, &vmla) ||
        !llm_desc_kv_int(desc, an, "rope.dimension_count", -1, 2, 1024, &rope) ||
        !llm_desc_kv_int(desc, an, "context_length", 4096, 1, 1 << 24, &ctx) ||
        !llm_desc_kv_float(desc, an, "rope.freq_base", 10000.0, 1.0, 1e12, &c->rope_theta) ||
        !llm_desc_kv_float(desc, an, "attention.layer_norm_rms_epsilon", 1e-6, 1e-12, 1.0, &c->norm_eps))
        return CB_ERR_INPUT;
    int split = llm_desc_find(desc, "blk.0.attn_k_b.weight") >= 0;
    if (split && kmla == klen && klen == kvlora + rope) {
        /* the split form's key_length is the latent's; the heads' is key_length_mla */
        cb_error("GGUF: %s.attention.key_length_mla is missing (attn_k_b form)", an);
        return CB_ERR_INPUT;
    }
    if (rope % 2 || kmla <= rope || heads * kmla > (1 << 18) || heads * vmla > (1 << 18)) {
        cb_error("GGUF: deepseek2 key length %lld with RoPE dimension %lld over %lld heads is not a valid MLA shape",
                 (long long)kmla, (long long)rope, (long long)heads);
        return CB_ERR_INPUT;
    }
    int te = llm_desc_find(desc, "token_embd.weight");
    if (te < 0) {
        cb_error("GGUF: tensor token_embd.weight is missing");
        return CB_ERR_INPUT;
    }
    if (desc->tensors[te].ne[1] > (1 << 21)) {
        cb_error("GGUF: a vocabulary of %lld tokens is implausible", (long long)desc->tensors[te].ne[1]);
        return CB_ERR_INPUT;
    }
    c->dim = (int)dim;
    c->hidden = (int)hidden;
    c->n_layers = (int)layers;
    c->n_heads = (int)heads;
    c->n_kv_heads = (int)heads; /* expanded, every head has its own key and value */
    c->head_dim = (int)kmla;
    c->vocab = (int)desc->tensors[te].ne[1];
    c->ctx = (int)ctx;
    c->rope_neox = 0;           /* deepseek2 rotates interleaved pairs */
    c->qk_norm = c->qkv_bias = 0;
    c->tied = llm_desc_find(desc, "output.weight") < 0;
    c->mla.kv_lora = (int)kvlora;
    c->mla.q_lora = (int)qlora;
    c->mla.rope = (int)rope;
    c->mla.nope = (int)(kmla - rope);
    c->mla.v_dim = (int)vmla;
    c->mla.split_kvb = split;
    /* DeepSeek MoE: sigmoid or softmax router, selection bias, groups,
     * shared experts, leading dense layers (llm_moe.c) */
    char key[160];
    snprintf(key, sizeof key, "%s.expert_count", an);
    memset(&c->moe, 0, sizeof c->moe);
    if (llm_desc_kv(desc, key))
        return llm_desc_moe_config(desc, an, c);
    return CB_OK;
}

/* A 3-D matrix tensor [ne0, ne1, ne2] of a supported type. */
static cb_status_t check3(const llm_desc_t *desc, const char *name, int64_t ne0, int64_t ne1, int64_t ne2)
{
    int i = llm_desc_find(desc, name);
    if (i < 0) {
        cb_error("tensor %s is missing", name);
        return CB_ERR_INPUT;
    }
    const llm_tensor_t *t = &desc->tensors[i];
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != ne2 || t->ne[3] != 1) {
        cb_error("tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld]", name,
                 (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                 (long long)ne0, (long long)ne1, (long long)ne2);
        return CB_ERR_INPUT;
    }
    if (!llm_type_supported(t->type)) {
        cb_error("tensor %s has type %s: not supported here (F32, F16, BF16, Q8_0 and Q4_0 are)", name, llm_type_name(t->type));
        return CB_ERR_UNSUPPORTED;
    }
    return CB_OK;
}

cb_status_t llm_mla_check(const llm_desc_t *desc)
{
    const llm_config_t *c = &desc->cfg;
    const llm_mla_config_t *m = &c->mla;
    const int64_t H = c->n_heads, qk = m->nope + m->rope;
    cb_status_t st;
    char n[LLM_NAME_MAX];
#define LAYER(fmt, cols, rows, matrix) \
    snprintf(n, sizeof n, fmt, l); \
    if ((st = llm_desc_check_tensor(desc, n, cols, rows, matrix)) != CB_OK) return st
    for (int l = 0; l < c->n_layers; l++) {
        LAYER("blk.%d.attn_norm.weight", c->dim, 1, 0);
        if (m->q_lora) {
            LAYER("blk.%d.attn_q_a.weight", c->dim, m->q_lora, 1);
            LAYER("blk.%d.attn_q_a_norm.weight", m->q_lora, 1, 0);
            LAYER("blk.%d.attn_q_b.weight", m->q_lora, H * qk, 1);
        } else {
            LAYER("blk.%d.attn_q.weight", c->dim, H * qk, 1);
        }
        LAYER("blk.%d.attn_kv_a_mqa.weight", c->dim, m->kv_lora + m->rope, 1);
        LAYER("blk.%d.attn_kv_a_norm.weight", m->kv_lora, 1, 0);
        if (m->split_kvb) {
            snprintf(n, sizeof n, "blk.%d.attn_k_b.weight", l);
            if ((st = check3(desc, n, m->nope, m->kv_lora, H)) != CB_OK)
                return st;
            snprintf(n, sizeof n, "blk.%d.attn_v_b.weight", l);
            if ((st = check3(desc, n, m->kv_lora, m->v_dim, H)) != CB_OK)
                return st;
        } else {
            LAYER("blk.%d.attn_kv_b.weight", m->kv_lora, H * (m->nope + m->v_dim), 1);
        }
        LAYER("blk.%d.attn_output.weight", H * m->v_dim, c->dim, 1);
        LAYER("blk.%d.ffn_norm.weight", c->dim, 1, 0);
        if (llm_layer_is_moe(c, l)) {
            if ((st = llm_desc_check_moe(desc, l)) != CB_OK)
                return st;
            continue;
        }
        LAYER("blk.%d.ffn_gate.weight", c->dim, c->hidden, 1);
        LAYER("blk.%d.ffn_up.weight", c->dim, c->hidden, 1);
        LAYER("blk.%d.ffn_down.weight", c->hidden, c->dim, 1);
    }
#undef LAYER
    return CB_OK;
}

/* ================================================================ loading */

void llm_mla_layer_free(llm_mla_layer_t *m)
{
    if (!m)
        return;
    cb_free(m->wv_b.data); cb_free(m->wk_b.data); cb_free(m->wkv_a.data); cb_free(m->wq.data); cb_free(m->wq_a.data);
    cb_free(m->kv_a_norm); cb_free(m->q_a_norm);
    cb_free(m);
}

/* k_b and v_b of this rank's heads from attn_kv_b, whose rows are, per head,
 * nope key rows then v_dim value rows over the latent. k_b is its key part
 * transposed (a row per latent index), in F32: a transposed quantized block
 * would need requantizing, and these files are the older form; v_b is its
 * value rows as they are. */
static cb_status_t split_kv_b(const llm_desc_t *desc, const llm_shard_t *sh, const char *name, llm_mla_layer_t *m, size_t *bytes)
{
    const llm_config_t *c = &desc->cfg;
    const int kvl = c->mla.kv_lora, nope = c->mla.nope, vd = c->mla.v_dim, nh = sh->h1 - sh->h0;
    const int t = llm_desc_find(desc, name);
    const llm_tensor_t *ti = &desc->tensors[t];
    const int ktype = LLM_F32;
    cb_status_t st = CB_OK;
    m->wk_b.type = ktype;
    m->wk_b.rows = nh * kvl;
    m->wk_b.cols = nope;
    m->wk_b.row_bytes = llm_type_bytes(ktype, nope);
    m->wv_b.type = ti->type;
    m->wv_b.rows = nh * vd;
    m->wv_b.cols = kvl;
    m->wv_b.row_bytes = llm_type_bytes(ti->type, kvl);
    if (nh == 0)
        return CB_OK;
    size_t in_rb = llm_type_bytes(ti->type, kvl);
    m->wk_b.data = cb_alloc(m->wk_b.row_bytes * (size_t)m->wk_b.rows, 0, name);
    m->wv_b.data = cb_alloc(m->wv_b.row_bytes * (size_t)m->wv_b.rows, 0, name);
    char *raw = cb_alloc(in_rb * (size_t)nope, 0, "attn_kv_b rows");
    float *kf = cb_alloc(sizeof(float) * (size_t)nope * kvl, 0, "attn_kv_b rows");
    float *tr = cb_alloc(sizeof(float) * (size_t)nope * kvl, 0, "attn_kv_b rows");
    if (!m->wk_b.data || !m->wv_b.data || !raw || !kf || !tr) {
        st = CB_ERR_NOMEM;
        goto free_tmp;
    }
    *bytes += m->wk_b.row_bytes * (size_t)m->wk_b.rows + m->wv_b.row_bytes * (size_t)m->wv_b.rows;
    for (int h = 0; h < nh && st == CB_OK; h++) {
        int64_t r0 = (int64_t)(sh->h0 + h) * (nope + vd);
        st = llm_desc_read(desc, t, r0 + nope, vd, 0, kvl, (char *)m->wv_b.data + (size_t)h * vd * m->wv_b.row_bytes);
        if (st == CB_OK)
            st = llm_desc_read(desc, t, r0, nope, 0, kvl, raw);
        if (st != CB_OK)
            break;
        for (int i = 0; i < nope; i++)
            llm_dequantize_row(ti->type, raw + (size_t)i * in_rb, kf + (size_t)i * kvl, kvl);
        for (int i = 0; i < nope; i++)
            for (int j = 0; j < kvl; j++)
                tr[(size_t)j * nope + i] = kf[(size_t)i * kvl + j];
        for (int j = 0; j < kvl; j++)
            llm_quantize_row(ktype, tr + (size_t)j * nope,
                             (char *)m->wk_b.data + ((size_t)h * kvl + j) * m->wk_b.row_bytes, nope);
    }
free_tmp:
    cb_free(tr);
    cb_free(kf);
    cb_free(raw);
    return st;
}

cb_status_t llm_mla_layer_load(const llm_desc_t *desc, const llm_shard_t *sh, int l, llm_mla_layer_t **m_p, size_t *bytes)
{
    const llm_config_t *c = &desc->cfg;
    char n[LLM_NAME_MAX];
    cb_status_t st;
    llm_mla_layer_t *m = cb_alloc(sizeof *m, 1, "MLA layer");
    if (!m)
        return CB_ERR_NOMEM;
#define TRY(x) if ((st = (x)) != CB_OK) goto fail
#define NAME(fmt) (snprintf(n, sizeof n, fmt, l), n)
    if (c->mla.q_lora) {
        TRY(llm_shard_load_mat(desc, sh, NAME("blk.%d.attn_q_a.weight"), &m->wq_a, bytes));
        TRY(llm_shard_load_vec(desc, sh, NAME("blk.%d.attn_q_a_norm.weight"), &m->q_a_norm, bytes));
        TRY(llm_shard_load_mat(desc, sh, NAME("blk.%d.attn_q_b.weight"), &m->wq, bytes));
    } else {
        TRY(llm_shard_load_mat(desc, sh, NAME("blk.%d.attn_q.weight"), &m->wq, bytes));
    }
    TRY(llm_shard_load_mat(desc, sh, NAME("blk.%d.attn_kv_a_mqa.weight"), &m->wkv_a, bytes));
    TRY(llm_shard_load_vec(desc, sh, NAME("blk.%d.attn_kv_a_norm.weight"), &m->kv_a_norm, bytes));
    if (c->mla.split_kvb) {
        TRY(llm_shard_load_mat(desc, sh, NAME("blk.%d.attn_k_b.weight"), &m->wk_b, bytes));
        TRY(llm_shard_load_mat(desc, sh, NAME("blk.%d.attn_v_b.weight"), &m->wv_b, bytes));
    } else {
        TRY(split_kv_b(desc, sh, NAME("blk.%d.attn_kv_b.weight"), m, bytes));
    }
#undef NAME
#undef TRY
    *m_p = m;
    return CB_OK;
fail:
    llm_mla_layer_free(m);
    return st;
}

/* ================================================================ run state */

size_t llm_mla_cache_bytes_per_token(const llm_config_t *c)
{
    return (size_t)c->n_layers * (size_t)(c->mla.kv_lora + c->mla.rope) * sizeof(float);
}

int llm_mla_max_cols(const llm_config_t *c, const llm_shard_t *sh)
{
    int m = c->dim, nq = sh->h1 - sh->h0;
    int cand[4] = { c->mla.q_lora, c->mla.kv_lora, nq * c->mla.v_dim, c->hidden };
    for (int i = 0; i < 4; i++)
        m = cand[i] > m ? cand[i] : m;
    return m;
}

/* Quantized-activation blocks: a matvec of the widest input, or every
 * head's no-RoPE query or attended latent at once. */
static size_t mla_xq_blocks(const llm_config_t *c, int nq)
{
    size_t a = (size_t)llm_mla_max_cols(c, &(llm_shard_t){ .h0 = 0, .h1 = nq }) / LLM_QK + 1;
    size_t w = (size_t)(c->mla.kv_lora > c->mla.nope ? c->mla.kv_lora : c->mla.nope);
    size_t b = (size_t)nq * (w / LLM_QK + 1);
    return a > b ? a : b;
}

size_t llm_mla_run_bytes(const llm_config_t *c, const llm_shard_t *sh, int ctx, int batch)
{
    const size_t nq = (size_t)(sh->h1 - sh->h0), lat = (size_t)(c->mla.kv_lora + c->mla.rope), B = (size_t)batch;
    size_t f = (size_t)ctx * llm_mla_cache_bytes_per_token(c) / sizeof(float) / (size_t)c->n_layers * (size_t)(sh->l1 - sh->l0);
    f += B * ((size_t)c->mla.q_lora + nq * (size_t)(c->mla.nope + c->mla.rope) + lat + nq * (size_t)c->mla.v_dim);
    f += nq * (lat + (size_t)ctx + (size_t)c->mla.kv_lora) + (size_t)c->mla.rope * 2;
    return f * sizeof(float) + mla_xq_blocks(c, (int)nq) * sizeof(llm_block_q8x_t);
}

void llm_mla_run_free(llm_mla_run_t *m)
{
    if (!m)
        return;
    cb_free(m->xq); cb_free(m->sn); cb_free(m->cs); cb_free(m->inv_freq);
    cb_free(m->ao); cb_free(m->olat); cb_free(m->att); cb_free(m->qlat);
    cb_free(m->kva); cb_free(m->q); cb_free(m->qa); cb_free(m->cache);
    cb_free(m);
}

cb_status_t llm_mla_run_create(const llm_weights_t *w, int ctx, int batch, llm_mla_run_t **m_p)
{
    const llm_config_t *c = &w->cfg;
    const llm_mla_config_t *mc = &c->mla;
    llm_mla_run_t *m = cb_alloc(sizeof *m, 1, "MLA run state");
    if (!m)
        return CB_ERR_NOMEM;
    m->nq = w->sh.h1 - w->sh.h0;
    m->ctx = ctx;
    m->batch = batch;
    m->lat = mc->kv_lora + mc->rope;
    m->kq_scale = llm_rope_attn_scale(c, mc->nope + mc->rope);
    const size_t B = (size_t)batch, nq = (size_t)m->nq, lat = (size_t)m->lat;
#define ALLOC(p, n, what) if (!((p) = cb_alloc(sizeof(*(p)) * (n), 1, what))) goto fail
    /* exactly what inspect states: ctx x llm_mla_cache_bytes_per_token, for the rank's layers */
    m->l0 = w->sh.l0;
    ALLOC(m->cache, (size_t)ctx * llm_mla_cache_bytes_per_token(c) / sizeof(float) / (size_t)c->n_layers * (size_t)(w->sh.l1 - w->sh.l0),
          "latent cache");
    ALLOC(m->qa, B * (size_t)mc->q_lora, "activations");
    ALLOC(m->q, B * nq * (size_t)(mc->nope + mc->rope), "activations");
    ALLOC(m->kva, B * lat, "activations");
    ALLOC(m->qlat, nq * lat, "activations");
    ALLOC(m->att, nq * (size_t)ctx, "attention scores");
    ALLOC(m->olat, nq * (size_t)mc->kv_lora, "activations");
    ALLOC(m->ao, B * nq * (size_t)mc->v_dim, "activations");
    ALLOC(m->inv_freq, (size_t)mc->rope / 2, "RoPE table");
    ALLOC(m->cs, (size_t)mc->rope / 2, "RoPE table");
    ALLOC(m->sn, (size_t)mc->rope / 2, "RoPE table");
    ALLOC(m->xq, mla_xq_blocks(c, m->nq), "quantized activations");
#undef ALLOC
    llm_rope_freqs(c, mc->rope, w->rope_freqs, m->inv_freq, &m->mscale);
    *m_p = m;
    return CB_OK;
fail:
    llm_mla_run_free(m);
    return CB_ERR_NOMEM;
}

/* ================================================================ pieces */

static void mla_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float s = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++)
        out[i] = x[i] * s * w[i];
}

/* Interleaved pairs (2j, 2j+1) of v[0..n) rotated by the position's angles. */
static void mla_rope(float *v, int n, const float *cs, const float *sn)
{
    for (int j = 0; j < n / 2; j++) {
        float v0 = v[2 * j], v1 = v[2 * j + 1];
        v[2 * j] = v0 * cs[j] - v1 * sn[j];
        v[2 * j + 1] = v0 * sn[j] + v1 * cs[j];
    }
}

/* Y (b, W rows) = X W^T: matrix-vector for one token, sgemm panels for more. */
static void mla_project(llm_mla_run_t *m, const llm_mat_t *w, const float *x, int b, float *y)
{
    if (b == 1)
        llm_matvec(w, x, m->xq, y);
    else
        llm_matmul(w, x, b, y, w->rows);
}

/* Per head h < nh: y[h ys + r] = W[h rph + r] . x[h xs ..] for r < rph, the
 * rows of W holding nh stacked per-head matrices of W->cols columns. One
 * quantization of every head's input, one parallel region. */
static void heads_matvec(llm_mla_run_t *m, const llm_mat_t *W, int nh, int rph, const float *x, int xs, float *y, int ys)
{
    const int cols = W->cols, nb = cols / LLM_QK;
    /* Every quantized type takes its activations quantized (Q8_0-like or
     * Q8_K blocks): llama.cpp's quantizer gives k_b and v_b Q5_0 or Q8_0
     * where a K-quant's 256 does not divide the row. */
    const int quant = llm_type_act(W->type) != LLM_ACT_F32;
    if (quant) {
#pragma omp parallel for schedule(static)
        for (int h = 0; h < nh; h++)
            llm_quantize_act(W->type, x + (size_t)h * xs, m->xq + (size_t)h * nb, cols);
    }
    const int64_t total = (int64_t)nh * rph;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < total; i++) {
        int h = (int)(i / rph), r = (int)(i % rph);
        y[(size_t)h * ys + r] = llm_dot_row(W->type, (const char *)W->data + (size_t)i * W->row_bytes,
                                            x + (size_t)h * xs, quant ? m->xq + (size_t)h * nb : NULL, cols);
    }
}

/* ================================================================ attention */

void llm_mla_attend(llm_mla_run_t *m, const llm_weights_t *w, int l, const float *xb, int b, int pos, float *part)
{
    const llm_config_t *c = &w->cfg;
    const llm_mla_config_t *mc = &c->mla;
    const llm_layer_t *Ly = &w->layers[l];
    const llm_mla_layer_t *L = Ly->mla;
    const int nq = m->nq, kvl = mc->kv_lora, nope = mc->nope, rd = mc->rope, qk = nope + rd, lat = m->lat, vd = mc->v_dim;
    float *cache = m->cache + (size_t)(l - m->l0) * m->ctx * lat;

    /* ---- projections: queries of this rank's heads, the latent and RoPE key */
    if (mc->q_lora) {
        if (b == 1) {
            const llm_mat_t *mm[2] = { &L->wq_a, &L->wkv_a };
            float *const y[2] = { m->qa, m->kva };
            llm_matvec_n(2, mm, xb, m->xq, y);
        } else {
            mla_project(m, &L->wq_a, xb, b, m->qa);
            mla_project(m, &L->wkv_a, xb, b, m->kva);
        }
        for (int i = 0; i < b; i++)
            mla_rmsnorm(m->qa + (size_t)i * mc->q_lora, m->qa + (size_t)i * mc->q_lora, L->q_a_norm, mc->q_lora, c->norm_eps);
        mla_project(m, &L->wq, m->qa, b, m->q);
    } else if (b == 1) {
        const llm_mat_t *mm[2] = { &L->wq, &L->wkv_a };
        float *const y[2] = { m->q, m->kva };
        llm_matvec_n(2, mm, xb, m->xq, y);
    } else {
        mla_project(m, &L->wq, xb, b, m->q);
        mla_project(m, &L->wkv_a, xb, b, m->kva);
    }

    for (int i = 0; i < b; i++) {
        const int p = pos + i;
        float *q = m->q + (size_t)i * nq * qk, *kva = m->kva + (size_t)i * lat, *row = cache + (size_t)p * lat;
        for (int j = 0; j < rd / 2; j++) {
            double a = (double)p * m->inv_freq[j];
            m->cs[j] = (float)cos(a) * m->mscale;
            m->sn[j] = (float)sin(a) * m->mscale;
        }
        mla_rmsnorm(row, kva, L->kv_a_norm, kvl, c->norm_eps);
        memcpy(row + kvl, kva + kvl, sizeof(float) * (size_t)rd);
        mla_rope(row + kvl, rd, m->cs, m->sn);
        for (int h = 0; h < nq; h++)
            mla_rope(q + (size_t)h * qk + nope, rd, m->cs, m->sn);
    }

    /* ---- absorbed attention, token by token over the cache up to it */
    for (int i = 0; i < b; i++) {
        const int t_end = pos + i + 1;
        const float *q = m->q + (size_t)i * nq * qk;
        /* q_lat[h] = k_b[h] q_nope[h] (kv_lora), then the head's RoPE query */
        heads_matvec(m, &L->wk_b, nq, kvl, q, qk, m->qlat, lat);
        for (int h = 0; h < nq; h++)
            memcpy(m->qlat + (size_t)h * lat + kvl, q + (size_t)h * qk + nope, sizeof(float) * (size_t)rd);
        /* scores (nq, t_end) = scale q_lat . cache rows: the cache read once for all heads */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, t_end, lat, m->kq_scale,
                    m->qlat, lat, cache, lat, 0.0f, m->att, m->ctx);
#pragma omp parallel for schedule(static) if (nq * t_end > 4096)
        for (int h = 0; h < nq; h++) {
            float *a = m->att + (size_t)h * m->ctx, mx = -INFINITY, sum = 0;
            for (int t = 0; t < t_end; t++)
                mx = a[t] > mx ? a[t] : mx;
            for (int t = 0; t < t_end; t++) {
                a[t] = expf(a[t] - mx);
                sum += a[t];
            }
            for (int t = 0; t < t_end; t++)
                a[t] /= sum;
        }
        /* attended latents (nq, kv_lora) = probabilities . cached latents */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, kvl, t_end, 1.0f,
                    m->att, m->ctx, cache, lat, 0.0f, m->olat, kvl);
        /* each head's value: v_b[h] o_lat[h] (v_dim) */
        heads_matvec(m, &L->wv_b, nq, vd, m->olat, kvl, m->ao + (size_t)i * nq * vd, vd);
    }

    /* ---- this rank's heads through the output projection */
    mla_project(m, &Ly->wo, m->ao, b, part);
}
