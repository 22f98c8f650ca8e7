/* The mixture-of-experts FFN unit: a router every rank computes alike,
 * top-k choice (softmax or sigmoid gate, selection bias, group limit), the
 * routed experts this rank holds (whole, or its piece of each when experts
 * are fewer than ranks) and its share of the shared experts, summed into
 * one partial output that the caller reduces over the ranks. A prompt is
 * batched per expert: the tokens routed to an expert, one matrix product. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llm.h"
#include "llm_moe.h"

struct llm_moe_run {
    const llm_weights_t *w;
    int batch;          /* tokens per call at most */
    int E, k, dim;      /* experts, chosen per token, embedding width */
    int hmax;           /* widest piece or shared share: the activations' row */
    float *logits;      /* (batch, E) router logits, then probabilities */
    float *score;       /* (E) one token's selection scores */
    int *sel;           /* (batch, k) chosen experts, by rank of score */
    float *wt;          /* (batch, k) their weights */
    float *xg;          /* (batch, dim) the tokens routed to one expert, gathered */
    float *yg;          /* (max(batch, k + 1), dim) expert outputs */
    float *hg, *hu;     /* (max(batch, k + 1), hmax) gate and up activations */
    int *tok;           /* (batch) tokens routed to the current expert */
    float *tw;          /* (batch) and their weights */
    llm_block_q8x_t *xq;/* (max(dim, hmax) / LLM_QK + 1) a product's input, quantized */
    float *xd;          /* (max(dim, hmax) / LLM_QK + 1) its scales */
    llm_block_q8x_t *hq;/* (k + 1, hmax / LLM_QK + 1) a token's SwiGLU outputs, quantized */
    float *hd;          /* (k + 1, hmax / LLM_QK + 1) their scales */
    llm_moe_token_t tk; /* a token's pieces, for llm_moe_token_experts */
    int64_t *profile;   /* (n_layers, E) routed tokens per expert */
    uint64_t hash;      /* FNV-1a of every choice and weight since the last check */
    int fault;          /* test hook: perturb one weight's bits on this rank once */
    int fused;          /* LLM_MOE_FUSED=1: a token's experts in one parallel region (llm_moe_kern.c) */
    FILE *trace;        /* --dump-routing, or NULL */
    llm_moe_stats_t st;
};

/* ================================================================ weights */

void llm_moe_layer_free(llm_moe_layer_t *ml)
{
    if (!ml)
        return;
    for (int i = 0; i < ml->n_pieces; i++) {
        if (ml->wd)
            cb_free(ml->wd[i].data);
        if (ml->wu)
            cb_free(ml->wu[i].data);
        if (ml->wg)
            cb_free(ml->wg[i].data);
    }
    cb_free(ml->wd);
    cb_free(ml->wu);
    cb_free(ml->wg);
    cb_free(ml->sd.data);
    cb_free(ml->su.data);
    cb_free(ml->sg.data);
    cb_free(ml->sel_bias);
    cb_free(ml->router);
    cb_free(ml);
}

/* Rows [r0, r0+nr) x columns [c0, c0+nc) of tensor `name` as a matrix. */
static cb_status_t load_rect(const llm_desc_t *desc, const char *name, int64_t r0, int64_t nr, int64_t c0, int64_t nc,
                             llm_mat_t *m, size_t *bytes)
{
    int t = llm_desc_find(desc, name);
    if (t < 0) {
        cb_error("tensor %s is missing", name);
        return CB_ERR_INPUT;
    }
    m->type = desc->tensors[t].type;
    m->rows = (int)nr;
    m->cols = (int)nc;
    m->row_bytes = llm_type_bytes(m->type, nc);
    m->data = NULL;
    if (nr == 0 || nc == 0)
        return CB_OK;
    if (!(m->data = cb_alloc(m->row_bytes * (size_t)nr, 0, name)))
        return CB_ERR_NOMEM;
    *bytes += m->row_bytes * (size_t)nr;
    return llm_desc_read(desc, t, r0, nr, c0, nc, m->data);
}

/* A whole small tensor (router, bias) as floats, whatever its type. */
static cb_status_t load_floats(const llm_desc_t *desc, const char *name, int64_t rows, int64_t cols, float **v_p,
                               size_t *bytes)
{
    llm_mat_t m;
    cb_status_t st = load_rect(desc, name, 0, rows, 0, cols, &m, bytes);
    float *v = st == CB_OK ? cb_alloc(sizeof(float) * (size_t)(rows * cols), 0, name) : NULL;
    if (st == CB_OK && !v)
        st = CB_ERR_NOMEM;
    if (st == CB_OK) {
        for (int64_t r = 0; r < rows; r++)
            llm_dequantize_row(m.type, (const char *)m.data + (size_t)r * m.row_bytes, v + r * cols, cols);
        *bytes += sizeof(float) * (size_t)(rows * cols) - m.row_bytes * (size_t)rows;
        *v_p = v;
    }
    cb_free(m.data);
    return st;
}

cb_status_t llm_moe_layer_load(const llm_desc_t *desc, const llm_shard_t *sh, int l, llm_moe_layer_t **ml_p, size_t *bytes)
{
    const llm_config_t *c = &desc->cfg;
    const llm_moe_config_t *m = &c->moe;
    char n[LLM_NAME_MAX];
    cb_status_t st = CB_ERR_NOMEM;
    llm_moe_layer_t *ml = cb_alloc(sizeof *ml, 1, "MoE layer");
    if (!ml)
        return CB_ERR_NOMEM;
#define TRY(x) if ((st = (x)) != CB_OK) goto fail
    snprintf(n, sizeof n, "blk.%d.ffn_gate_inp.weight", l);
    TRY(load_floats(desc, n, m->n_experts, c->dim, &ml->router, bytes));
    if (m->sel_bias) {
        snprintf(n, sizeof n, "blk.%d.exp_probs_b.bias", l);
        TRY(load_floats(desc, n, 1, m->n_experts, &ml->sel_bias, bytes));
    }
    int np = sh->ep ? sh->ep->n_pieces[l] : 0;
    ml->pieces = sh->ep ? sh->ep->pieces[l] : NULL;
    if (np > 0) {
        ml->wg = cb_alloc(sizeof(llm_mat_t) * (size_t)np, 1, "MoE layer");
        ml->wu = cb_alloc(sizeof(llm_mat_t) * (size_t)np, 1, "MoE layer");
        ml->wd = cb_alloc(sizeof(llm_mat_t) * (size_t)np, 1, "MoE layer");
        if (!ml->wg || !ml->wu || !ml->wd)
            goto fail;
    }
    for (int i = 0; i < np; i++) {
        const llm_expert_piece_t *p = &ml->pieces[i];
        int64_t ff = m->expert_ffn, w = p->f1 - p->f0;
        ml->n_pieces = i + 1; /* what fail: frees */
        /* gate, up: ne (dim, ffn, E), expert e's rows start at e * ffn; down:
         * ne (ffn, dim, E), expert e's dim rows, the piece's columns. */
        snprintf(n, sizeof n, "blk.%d.ffn_gate_exps.weight", l);
        TRY(load_rect(desc, n, (int64_t)p->e * ff + p->f0, w, 0, c->dim, &ml->wg[i], bytes));
        snprintf(n, sizeof n, "blk.%d.ffn_up_exps.weight", l);
        TRY(load_rect(desc, n, (int64_t)p->e * ff + p->f0, w, 0, c->dim, &ml->wu[i], bytes));
        snprintf(n, sizeof n, "blk.%d.ffn_down_exps.weight", l);
        TRY(load_rect(desc, n, (int64_t)p->e * c->dim, c->dim, p->f0, w, &ml->wd[i], bytes));
    }
    if (m->shared_ffn > 0 && sh->s1 > sh->s0) {
        snprintf(n, sizeof n, "blk.%d.ffn_gate_shexp.weight", l);
        TRY(load_rect(desc, n, sh->s0, sh->s1 - sh->s0, 0, c->dim, &ml->sg, bytes));
        snprintf(n, sizeof n, "blk.%d.ffn_up_shexp.weight", l);
        TRY(load_rect(desc, n, sh->s0, sh->s1 - sh->s0, 0, c->dim, &ml->su, bytes));
        snprintf(n, sizeof n, "blk.%d.ffn_down_shexp.weight", l);
        TRY(load_rect(desc, n, 0, c->dim, sh->s0, sh->s1 - sh->s0, &ml->sd, bytes));
    }
#undef TRY
    *ml_p = ml;
    return CB_OK;
fail:
    llm_moe_layer_free(ml);
    return st;
}

/* ================================================================ run state */

cb_status_t llm_moe_run_create(const llm_weights_t *w, int batch, llm_moe_run_t **mr_p)
{
    const llm_config_t *c = &w->cfg;
    llm_moe_run_t *r = cb_alloc(sizeof *r, 1, "MoE run state");
    if (!r)
        return CB_ERR_NOMEM;
    r->w = w;
    r->batch = batch;
    r->E = c->moe.n_experts;
    r->k = c->moe.n_used;
    r->dim = c->dim;
    r->hmax = c->moe.expert_ffn;
    if (w->sh.s1 - w->sh.s0 > r->hmax)
        r->hmax = w->sh.s1 - w->sh.s0;
    size_t B = (size_t)batch, rows = B > (size_t)r->k + 1 ? B : (size_t)r->k + 1;
#define ALLOC(p, n) if (!((p) = cb_alloc(sizeof(*(p)) * (n), 1, "MoE activations"))) goto fail
    ALLOC(r->logits, B * (size_t)r->E);
    ALLOC(r->score, (size_t)r->E);
    ALLOC(r->sel, B * (size_t)r->k);
    ALLOC(r->wt, B * (size_t)r->k);
    ALLOC(r->xg, B * (size_t)r->dim);
    ALLOC(r->yg, rows * (size_t)r->dim);
    ALLOC(r->hg, rows * (size_t)r->hmax);
    ALLOC(r->hu, rows * (size_t)r->hmax);
    ALLOC(r->tok, B);
    ALLOC(r->tw, B);
    ALLOC(r->xq, (size_t)(r->dim > r->hmax ? r->dim : r->hmax) / LLM_QK + 1);
    ALLOC(r->xd, (size_t)(r->dim > r->hmax ? r->dim : r->hmax) / LLM_QK + 1);
    ALLOC(r->hq, ((size_t)r->k + 1) * ((size_t)r->hmax / LLM_QK + 1));
    ALLOC(r->hd, ((size_t)r->k + 1) * ((size_t)r->hmax / LLM_QK + 1));
    ALLOC(r->profile, (size_t)c->n_layers * (size_t)r->E);
#undef ALLOC
    r->hash = 1469598103934665603ull;
    const char *f = getenv("LLM_TEST_ROUTING_FAULT"); /* tests/llm/moe.sh: the check must catch it */
    r->fault = f && *f && atoi(f) == w->sh.rank;
    const char *u = getenv("LLM_MOE_FUSED"); /* off by default: not yet measured faster */
    r->fused = u && *u == '1';
    *mr_p = r;
    return CB_OK;
fail:
    llm_moe_run_free(r);
    return CB_ERR_NOMEM;
}

void llm_moe_run_free(llm_moe_run_t *r)
{
    if (!r)
        return;
    if (r->trace)
        fclose(r->trace);
    cb_free(r->hd); cb_free(r->hq); cb_free(r->xd);
    cb_free(r->profile); cb_free(r->xq); cb_free(r->tw); cb_free(r->tok); cb_free(r->hu); cb_free(r->hg);
    cb_free(r->yg); cb_free(r->xg); cb_free(r->wt); cb_free(r->sel); cb_free(r->score); cb_free(r->logits);
    cb_free(r);
}

/* ================================================================ routing */

/* The router's dot product in one fixed order (eight lanes, then a fixed
 * tree): plain C, the same bits on every rank and for any thread count. */
static float router_dot(const float *w, const float *x, int n)
{
    float a[8] = { 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            a[j] += w[i + j] * x[i + j];
    for (; i < n; i++)
        a[i & 7] += w[i] * x[i];
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* Index of the largest s[e] among e with ok(e) (lowest on ties), or -1. */
static int arg_best(const float *s, int n, const unsigned char *taken)
{
    int best = -1;
    for (int e = 0; e < n; e++)
        if (!taken[e] && (best < 0 || s[e] > s[best]))
            best = e;
    return best;
}

/* One token: probabilities p (in place of the logits), the choice and its
 * weights, as llm_moe_config_t describes. */
static void route_token(const llm_moe_config_t *m, const float *bias, float *p, float *score, int *sel, float *wt)
{
    const int E = m->n_experts, k = m->n_used;
    if (m->gate == LLM_GATE_SIGMOID) {
        for (int e = 0; e < E; e++)
            p[e] = 1.0f / (1.0f + expf(-p[e]));
    } else {
        float mx = p[0], sum = 0;
        for (int e = 1; e < E; e++)
            mx = p[e] > mx ? p[e] : mx;
        for (int e = 0; e < E; e++) {
            p[e] = expf(p[e] - mx);
            sum += p[e];
        }
        for (int e = 0; e < E; e++)
            p[e] /= sum;
    }
    unsigned char taken[1 << 12];
    for (int e = 0; e < E; e++) {
        score[e] = bias ? p[e] + bias[e] : p[e];
        taken[e] = 0;
    }
    if (m->n_group > 1 && m->topk_group < m->n_group) {
        /* Group-limited: a group scores the sum of its two best; experts
         * outside the best topk_group groups are not eligible. */
        const int G = m->n_group, per = E / G;
        float gs[256];
        unsigned char gt[256] = { 0 };
        for (int g = 0; g < G; g++) {
            float b1 = -INFINITY, b2 = -INFINITY;
            for (int e = g * per; e < (g + 1) * per; e++) {
                if (score[e] > b1) {
                    b2 = b1;
                    b1 = score[e];
                } else if (score[e] > b2) {
                    b2 = score[e];
                }
            }
            gs[g] = per > 1 ? b1 + b2 : b1;
        }
        unsigned char keep[256] = { 0 };
        for (int i = 0; i < m->topk_group; i++) {
            int g = arg_best(gs, G, gt);
            gt[g] = keep[g] = 1;
        }
        for (int e = 0; e < E; e++)
            taken[e] = !keep[e / per];
    }
    float sum = 0;
    for (int j = 0; j < k; j++) {
        int e = arg_best(score, E, taken);
        taken[e] = 1;
        sel[j] = e;
        wt[j] = p[e];
        sum += p[e];
    }
    for (int j = 0; j < k; j++) {
        if (m->norm_topk)
            wt[j] /= sum;
        wt[j] *= m->weights_scale;
    }
}

static void hash_bytes(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 1099511628211ull;
}

/* Route tokens [0, b) of layer l: sel, wt, the profile and the hash. */
static void route(llm_moe_run_t *r, const llm_moe_layer_t *ml, int l, const float *x, int b)
{
    const llm_moe_config_t *m = &r->w->cfg.moe;
    const int E = r->E, dim = r->dim, work = b * E;
#pragma omp parallel for schedule(static) if ((int64_t)work * dim > 65536)
    for (int i = 0; i < work; i++)
        r->logits[i] = router_dot(ml->router + (size_t)(i % E) * dim, x + (size_t)(i / E) * dim, dim);
    for (int i = 0; i < b; i++) {
        int *sel = r->sel + (size_t)i * r->k;
        float *wt = r->wt + (size_t)i * r->k;
        route_token(m, ml->sel_bias, r->logits + (size_t)i * E, r->score, sel, wt);
        if (r->fault) {
            wt[0] = nextafterf(wt[0], 2.0f);
            r->fault = 0;
        }
        for (int j = 0; j < r->k; j++)
            r->profile[(size_t)l * E + sel[j]]++;
        if (r->trace) {
            fprintf(r->trace, "%d", l);
            for (int j = 0; j < r->k; j++)
                fprintf(r->trace, " %d", sel[j]);
            for (int j = 0; j < r->k; j++)
                fprintf(r->trace, " %a", (double)wt[j]);
            fputc('\n', r->trace);
        }
        hash_bytes(&r->hash, sel, sizeof(int) * (size_t)r->k);
        hash_bytes(&r->hash, wt, sizeof(float) * (size_t)r->k);
    }
    r->st.routings += b;
}

cb_status_t llm_moe_check_routing(llm_moe_run_t *r, MPI_Comm comm)
{
    uint64_t mine[2] = { r->hash, ~r->hash }, top[2];
    cb_status_t st = CB_MPI(MPI_Allreduce(mine, top, 2, MPI_UINT64_T, MPI_MAX, comm));
    r->hash = 1469598103934665603ull;
    if (st != CB_OK)
        return st;
    if (top[0] != mine[0] || top[1] != mine[1]) {
        cb_error("the ranks routed tokens differently (experts or weights): rank %d's routing is not every rank's",
                 r->w->sh.rank);
        return CB_ERR_INTERNAL;
    }
    return CB_OK;
}

/* ================================================================ experts */

static void swiglu(float *g, const float *u, int64_t n)
{
#pragma omp parallel for schedule(static) if (n > 16384)
    for (int64_t j = 0; j < n; j++)
        g[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
}

/* One token: gate and up of the chosen pieces (and the shared share) in one
 * parallel region, then each piece's down product, summed by weight. */
static void ffn_token(llm_moe_run_t *r, const llm_moe_layer_t *ml, int l, const float *x, float *out)
{
    const int dim = r->dim, H = r->hmax, *loc = r->w->sh.ep->local + (size_t)l * r->E;
    const llm_mat_t *mats[2 * 64 + 2];
    float *ys[2 * 64 + 2];
    int pi[64 + 1], n = 0;
    float pw[64 + 1];
    for (int j = 0; j < r->k; j++)
        if (loc[r->sel[j]] >= 0) {
            pi[n] = loc[r->sel[j]];
            pw[n] = r->wt[j];
            mats[2 * n] = &ml->wg[pi[n]];
            mats[2 * n + 1] = &ml->wu[pi[n]];
            ys[2 * n] = r->hg + (size_t)n * H;
            ys[2 * n + 1] = r->hu + (size_t)n * H;
            n++;
        }
    int shared = ml->sg.rows > 0, nm = 2 * n;
    if (shared) {
        mats[nm] = &ml->sg;
        mats[nm + 1] = &ml->su;
        ys[nm] = r->hg + (size_t)n * H;
        ys[nm + 1] = r->hu + (size_t)n * H;
        nm += 2;
    }
    memset(out, 0, sizeof(float) * (size_t)dim);
    if (nm == 0)
        return;
    llm_moe_token_t *t = &r->tk;
    t->n = n + shared;
    for (int i = 0; i < t->n; i++) {
        t->wg[i] = i < n ? &ml->wg[pi[i]] : &ml->sg;
        t->wu[i] = i < n ? &ml->wu[pi[i]] : &ml->su;
        t->wd[i] = i < n ? &ml->wd[pi[i]] : &ml->sd;
        t->a[i] = i < n ? pw[i] : 1.0f;
    }
    t->hmax = H;
    t->hg = r->hg;
    t->hu = r->hu;
    t->xq = r->xq;
    t->xd = r->xd;
    t->hq = r->hq;
    t->hd = r->hd;
    if (r->fused && llm_moe_token_fusable(t)) {
        /* One parallel region for the whole step. */
        llm_moe_token_experts(t, x, out);
        r->st.evals += n;
        return;
    }
    llm_matvec_n(nm, mats, x, r->xq, ys);
    for (int i = 0; i < n + shared; i++) {
        int w = i < n ? ml->wd[pi[i]].cols : ml->sd.cols;
        swiglu(r->hg + (size_t)i * H, r->hu + (size_t)i * H, w);
    }
    for (int i = 0; i < n + shared; i++)
        llm_matvec(i < n ? &ml->wd[pi[i]] : &ml->sd, r->hg + (size_t)i * H, r->xq, r->yg + (size_t)i * dim);
    for (int i = 0; i < n + shared; i++) {
        const float a = i < n ? pw[i] : 1.0f, *y = r->yg + (size_t)i * dim;
        for (int d = 0; d < dim; d++)
            out[d] += a * y[d];
    }
    r->st.evals += n;
}

/* A batch: per piece this rank holds, the tokens routed to it gathered into
 * one matrix product (gate, up, down), scattered back by weight. */
static void ffn_batch(llm_moe_run_t *r, const llm_moe_layer_t *ml, const float *x, int b, float *out)
{
    const int dim = r->dim, k = r->k;
    memset(out, 0, sizeof(float) * (size_t)b * dim);
    for (int p = 0; p < ml->n_pieces; p++) {
        const int e = ml->pieces[p].e, w = ml->wd[p].cols;
        int nt = 0;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < k; j++)
                if (r->sel[(size_t)i * k + j] == e) {
                    r->tok[nt] = i;
                    r->tw[nt++] = r->wt[(size_t)i * k + j];
                }
        if (nt == 0)
            continue;
        for (int t = 0; t < nt; t++)
            memcpy(r->xg + (size_t)t * dim, x + (size_t)r->tok[t] * dim, sizeof(float) * (size_t)dim);
        llm_matmul(&ml->wg[p], r->xg, nt, r->hg, w);
        llm_matmul(&ml->wu[p], r->xg, nt, r->hu, w);
        swiglu(r->hg, r->hu, (int64_t)nt * w);
        llm_matmul(&ml->wd[p], r->hg, nt, r->yg, dim);
        for (int t = 0; t < nt; t++) {
            float *o = out + (size_t)r->tok[t] * dim;
            const float a = r->tw[t], *y = r->yg + (size_t)t * dim;
            for (int d = 0; d < dim; d++)
                o[d] += a * y[d];
        }
        r->st.evals += nt;
    }
    if (ml->sg.rows > 0) {
        const int w = ml->sd.cols;
        llm_matmul(&ml->sg, x, b, r->hg, w);
        llm_matmul(&ml->su, x, b, r->hu, w);
        swiglu(r->hg, r->hu, (int64_t)b * w);
        llm_matmul(&ml->sd, r->hg, b, r->yg, dim);
        for (size_t j = 0; j < (size_t)b * dim; j++)
            out[j] += r->yg[j];
    }
}

cb_status_t llm_moe_ffn(llm_moe_run_t *r, const llm_moe_layer_t *ml, int l, const float *x, int b, float *out)
{
    if (b > r->batch || r->k > 64) {
        cb_error("internal: MoE batch of %d tokens (at most %d), %d experts per token (at most 64)", b, r->batch, r->k);
        return CB_ERR_INTERNAL;
    }
    double t0 = cb_now();
    route(r, ml, l, x, b);
    if (b == 1)
        ffn_token(r, ml, l, x, out);
    else
        ffn_batch(r, ml, x, b, out);
    r->st.seconds += cb_now() - t0;
    return CB_OK;
}

cb_status_t llm_moe_trace_open(llm_moe_run_t *r, const char *path)
{
    if (!(r->trace = fopen(path, "w"))) {
        cb_error("cannot write %s", path);
        return CB_ERR_IO;
    }
    return CB_OK;
}

/* ================================================================ statistics */

void llm_moe_stats(const llm_moe_run_t *r, llm_moe_stats_t *s) { *s = r->st; }
void llm_moe_stats_reset(llm_moe_run_t *r) { memset(&r->st, 0, sizeof r->st); }
void llm_moe_note_allreduce(llm_moe_run_t *r, double seconds) { r->st.ar_seconds += seconds; }
const int64_t *llm_moe_profile(const llm_moe_run_t *r) { return r->profile; }

cb_status_t llm_moe_profile_write(const llm_moe_run_t *r, const char *path)
{
    const int L = r->w->cfg.n_layers, E = r->E;
    FILE *f = fopen(path, "w");
    if (!f) {
        cb_error("cannot write %s", path);
        return CB_ERR_IO;
    }
    fprintf(f, "llm-routing-profile %d %d\n", L, E);
    for (int l = 0; l < L; l++)
        for (int e = 0; e < E; e++)
            fprintf(f, "%lld%c", (long long)r->profile[(size_t)l * E + e], e + 1 < E ? ' ' : '\n');
    if (fclose(f) != 0) {
        cb_error("cannot write %s", path);
        return CB_ERR_IO;
    }
    return CB_OK;
}
