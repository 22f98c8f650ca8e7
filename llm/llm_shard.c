/* Sharding, Megatron style: which rows or columns of every tensor a rank
 * holds, what that costs in memory, and loading exactly that part.
 * Q, K, V, gate and up are split by output rows (heads, FFN units); the
 * attention output and down projections by input columns; token_embd and
 * output by vocabulary rows. Norms are small and replicated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llm.h"

/* ================================================================ plan */

/* The column split of wo and ffn_down must fall on block boundaries. */
static int shard_block(const llm_desc_t *desc)
{
    int blk = 1;
    char n[LLM_NAME_MAX];
    for (int l = 0; l < desc->cfg.n_layers; l++) {
        snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l);
        int t = llm_desc_find(desc, n), b = t >= 0 ? llm_type_block(desc->tensors[t].type) : 1;
        blk = b > blk ? b : blk;
        snprintf(n, sizeof n, "blk.%d.attn_output.weight", l);
        t = llm_desc_find(desc, n);
        b = t >= 0 ? llm_type_block(desc->tensors[t].type) : 1;
        blk = b > blk ? b : blk;
    }
    return blk;
}

cb_status_t llm_shard_plan(const llm_desc_t *desc, int rank, int np, llm_shard_t *sh)
{
    const llm_config_t *c = &desc->cfg;
    if (np > c->n_heads) {
        cb_error("%d ranks but the model has %d attention heads: at most %d ranks", np, c->n_heads, c->n_heads);
        return CB_ERR_UNSUPPORTED;
    }
    int blk = shard_block(desc);
    /* The attention output's columns split at head boundaries that are also
     * block boundaries: heads go in groups of hg (2 heads of 128 for a
     * 256-element super-block), FFN units in blocks. */
    int hg = 1;
    while ((hg * c->head_dim) % blk)
        hg++;
    /* Where no such split exists (4 heads of 64 in one 256-element block over
     * 2 ranks), every rank holds attn_output whole and multiplies it by its
     * heads' outputs with zeros elsewhere: the sum over ranks is the same. */
    sh->wo_whole = np > 1 && (c->n_heads % hg || np > c->n_heads / hg);
    if (sh->wo_whole)
        hg = 1;
    int units = c->hidden / blk;
    if (np > units) {
        cb_error("%d ranks but the FFN has only %d blocks of %d units: at most %d ranks", np, units, blk, units);
        return CB_ERR_UNSUPPORTED;
    }
    int group = c->n_heads / c->n_kv_heads, hunits = np > 1 ? c->n_heads / hg : c->n_heads;
    if (np == 1)
        hg = 1;
    sh->rank = rank;
    sh->np = np;
    sh->h0 = (int)((int64_t)rank * hunits / np) * hg;
    sh->h1 = (int)((int64_t)(rank + 1) * hunits / np) * hg;
    sh->kv0 = sh->h0 / group;
    sh->kv1 = (sh->h1 - 1) / group + 1;
    sh->f0 = (int)((int64_t)rank * units / np) * blk;
    sh->f1 = (int)((int64_t)(rank + 1) * units / np) * blk;
    /* Note where the even split would have cut a block (the caller says so). */
    sh->resplit = 0;
    for (int r = 1; r < np; r++) {
        sh->resplit |= (int)((int64_t)r * c->n_heads / np) * c->head_dim % blk != 0 ? (sh->wo_whole ? 4 : 1) : 0;
        sh->resplit |= (int)((int64_t)r * c->hidden / np) % blk != 0 ? 2 : 0;
    }
    sh->block = blk;
    sh->head_group = hg;
    sh->v0 = (int)((int64_t)rank * c->vocab / np);
    sh->v1 = (int)((int64_t)(rank + 1) * c->vocab / np);
    return CB_OK;
}

/* ================================================================ what each tensor contributes */

typedef enum { PART_ALL, PART_QROWS, PART_KVROWS, PART_QCOLS, PART_FROWS, PART_FCOLS, PART_VROWS } part_t;

/* The part of tensor `name` the shard holds: rows [r0,r0+nr) x columns [c0,c0+nc). */
static part_t shard_part(const char *name, const llm_config_t *c, const llm_shard_t *sh,
                         const llm_tensor_t *t, int64_t *r0, int64_t *nr, int64_t *c0, int64_t *nc)
{
    const char *s = strrchr(name, '.');
    const char *kind = name;
    if (strncmp(name, "blk.", 4) == 0) {
        kind = strchr(name + 4, '.');
        kind = kind ? kind + 1 : name;
    }
    (void)s;
    int64_t hd = c->head_dim;
    *r0 = 0; *nr = t->ne[1]; *c0 = 0; *nc = t->ne[0];
    if (!strncmp(kind, "attn_q.", 7)) {
        *r0 = sh->h0 * hd; *nr = (sh->h1 - sh->h0) * hd;
        if (t->ne[1] == 1) { *c0 = *r0; *nc = *nr; *r0 = 0; *nr = 1; }
        return PART_QROWS;
    }
    if (!strncmp(kind, "attn_k.", 7) || !strncmp(kind, "attn_v.", 7)) {
        *r0 = sh->kv0 * hd; *nr = (sh->kv1 - sh->kv0) * hd;
        if (t->ne[1] == 1) { *c0 = *r0; *nc = *nr; *r0 = 0; *nr = 1; }
        return PART_KVROWS;
    }
    if (!strncmp(kind, "attn_output.", 12)) {
        if (!sh->wo_whole) {
            *c0 = sh->h0 * hd; *nc = (sh->h1 - sh->h0) * hd;
        }
        return PART_QCOLS;
    }
    if (!strncmp(kind, "ffn_gate.", 9) || !strncmp(kind, "ffn_up.", 7)) {
        *r0 = sh->f0; *nr = sh->f1 - sh->f0;
        return PART_FROWS;
    }
    if (!strncmp(kind, "ffn_down.", 9)) {
        *c0 = sh->f0; *nc = sh->f1 - sh->f0;
        return PART_FCOLS;
    }
    if (!strcmp(name, "token_embd.weight") || !strcmp(name, "output.weight")) {
        *r0 = sh->v0; *nr = sh->v1 - sh->v0;
        return PART_VROWS;
    }
    return PART_ALL;
}

size_t llm_shard_weight_bytes(const llm_desc_t *desc, const llm_shard_t *sh)
{
    size_t total = 0;
    for (int i = 0; i < desc->n_tensors; i++) {
        const llm_tensor_t *t = &desc->tensors[i];
        int64_t r0, nr, c0, nc;
        if (!llm_type_supported(t->type))
            continue;
        shard_part(t->name, &desc->cfg, sh, t, &r0, &nr, &c0, &nc);
        total += llm_type_bytes(t->type, nc) * (size_t)nr;
    }
    return total;
}

size_t llm_shard_kv_bytes(const llm_config_t *c, const llm_shard_t *sh, int ctx, int kv_type)
{
    size_t row = llm_type_bytes(kv_type, (int64_t)(sh->kv1 - sh->kv0) * c->head_dim);
    return row == SIZE_MAX ? SIZE_MAX : 2 * (size_t)c->n_layers * (size_t)ctx * row;
}

size_t llm_shard_run_bytes(const llm_config_t *c, const llm_shard_t *sh, int ctx, int batch)
{
    return llm_shard_run_bytes_kv(c, sh, ctx, batch, LLM_F16);
}

size_t llm_shard_run_bytes_kv(const llm_config_t *c, const llm_shard_t *sh, int ctx, int batch, int kv_type)
{
    size_t kvd = (size_t)(sh->kv1 - sh->kv0) * c->head_dim, qd = (size_t)(sh->h1 - sh->h0) * c->head_dim;
    size_t hid = (size_t)(sh->f1 - sh->f0), voc = (size_t)(sh->v1 - sh->v0);
    size_t kv = llm_shard_kv_bytes(c, sh, ctx, kv_type);
    size_t act = (size_t)batch * (4 * (size_t)c->dim + 2 * qd + 2 * kvd + 2 * hid) * sizeof(float);
    size_t cols = (size_t)(c->hidden > c->dim ? c->hidden : c->dim);
    if (qd * (size_t)(sh->np) > cols)
        cols = qd * (size_t)sh->np;
    /* sgemm panels, or the GEMM's quantized activations and level panels */
    size_t panels = 2 * llm_matmul_scratch((int)cols) * sizeof(float) + (size_t)batch * cols / 32 * 80;
    return kv + act + panels + (voc + (size_t)c->vocab) * sizeof(float) + 2 * llm_attention_scratch(c->head_dim) * sizeof(float);
}

/* ================================================================ loading */

static cb_status_t load_mat(const llm_desc_t *desc, const llm_shard_t *sh, const char *name, llm_mat_t *m, size_t *bytes)
{
    int t = llm_desc_find(desc, name);
    if (t < 0) {
        cb_error("tensor %s is missing", name);
        return CB_ERR_INPUT;
    }
    const llm_tensor_t *ti = &desc->tensors[t];
    int64_t r0, nr, c0, nc;
    shard_part(name, &desc->cfg, sh, ti, &r0, &nr, &c0, &nc);
    m->type = ti->type;
    m->rows = (int)nr;
    m->cols = (int)nc;
    m->row_bytes = llm_type_bytes(ti->type, nc);
    m->data = NULL;
    if (nr == 0 || nc == 0)
        return CB_OK;
    m->data = cb_alloc(m->row_bytes * (size_t)nr, 0, name);
    if (!m->data)
        return CB_ERR_NOMEM;
    *bytes += m->row_bytes * (size_t)nr;
    return llm_desc_read(desc, t, r0, nr, c0, nc, m->data);
}

/* A vector (norm or bias) as floats: this shard's part of it. */
static cb_status_t load_vec(const llm_desc_t *desc, const llm_shard_t *sh, const char *name, float **v, size_t *bytes)
{
    llm_mat_t m;
    cb_status_t st = load_mat(desc, sh, name, &m, bytes);
    if (st != CB_OK) {
        cb_free(m.data);
        return st;
    }
    *v = m.data; /* vectors are F32 (checked by llm_desc_config) */
    return CB_OK;
}

cb_status_t llm_weights_load(const llm_desc_t *desc, const llm_shard_t *sh, llm_weights_t **w_p)
{
    const llm_config_t *c = &desc->cfg;
    cb_status_t st = CB_ERR_NOMEM;
    llm_weights_t *w = cb_alloc(sizeof *w, 1, "weights");
    if (!w)
        return CB_ERR_NOMEM;
    w->cfg = *c;
    w->sh = *sh;
    w->layers = cb_alloc(sizeof(llm_layer_t) * (size_t)c->n_layers, 1, "layer table");
    if (!w->layers)
        goto fail;
    char n[LLM_NAME_MAX];
#define TRY(x) if ((st = (x)) != CB_OK) goto fail
    TRY(load_mat(desc, sh, "token_embd.weight", &w->tok, &w->bytes));
    if (c->tied)
        w->out = w->tok;
    else
        TRY(load_mat(desc, sh, "output.weight", &w->out, &w->bytes));
    TRY(load_vec(desc, sh, "output_norm.weight", &w->out_norm, &w->bytes));
    for (int l = 0; l < c->n_layers; l++) {
        llm_layer_t *L = &w->layers[l];
#define MAT(fmt, m) snprintf(n, sizeof n, fmt, l); TRY(load_mat(desc, sh, n, m, &w->bytes))
#define VEC(fmt, v) snprintf(n, sizeof n, fmt, l); TRY(load_vec(desc, sh, n, v, &w->bytes))
        VEC("blk.%d.attn_norm.weight", &L->attn_norm);
        VEC("blk.%d.ffn_norm.weight", &L->ffn_norm);
        MAT("blk.%d.attn_q.weight", &L->wq);
        MAT("blk.%d.attn_k.weight", &L->wk);
        MAT("blk.%d.attn_v.weight", &L->wv);
        MAT("blk.%d.attn_output.weight", &L->wo);
        MAT("blk.%d.ffn_gate.weight", &L->wg);
        MAT("blk.%d.ffn_up.weight", &L->wu);
        MAT("blk.%d.ffn_down.weight", &L->wd);
        if (c->qkv_bias) {
            VEC("blk.%d.attn_q.bias", &L->bq);
            VEC("blk.%d.attn_k.bias", &L->bk);
            VEC("blk.%d.attn_v.bias", &L->bv);
        }
        if (c->qk_norm) {
            VEC("blk.%d.attn_q_norm.weight", &L->q_norm);
            VEC("blk.%d.attn_k_norm.weight", &L->k_norm);
        }
#undef MAT
#undef VEC
    }
#undef TRY
    *w_p = w;
    return CB_OK;
fail:
    llm_weights_free(w);
    return st;
}

void llm_weights_free(llm_weights_t *w)
{
    if (!w)
        return;
    if (w->layers) {
        for (int l = 0; l < w->cfg.n_layers; l++) {
            llm_layer_t *L = &w->layers[l];
            cb_free(L->wd.data); cb_free(L->wu.data); cb_free(L->wg.data); cb_free(L->wo.data);
            cb_free(L->wv.data); cb_free(L->wk.data); cb_free(L->wq.data);
            cb_free(L->k_norm); cb_free(L->q_norm); cb_free(L->bv); cb_free(L->bk); cb_free(L->bq);
            cb_free(L->ffn_norm); cb_free(L->attn_norm);
        }
        cb_free(w->layers);
    }
    cb_free(w->out_norm);
    if (w->out.data != w->tok.data)
        cb_free(w->out.data);
    cb_free(w->tok.data);
    cb_free(w);
}
