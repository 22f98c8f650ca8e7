/* The forward pass. Tensor split: every rank holds the residual stream x
 * whole and its shard of every weight; per layer one allreduce after the
 * attention output projection and one after the FFN down projection. Layer
 * split (sh.pipe): rank r holds layers [l0, l1) whole, receives x from rank
 * r - 1, runs its layers with no collective and sends x on to rank r + 1;
 * the last rank computes the logits (a pipeline of one batch at a time, as
 * llama.cpp's RPC backend runs). Reads top to bottom like the maths of a
 * Llama / Qwen2 / Qwen3 block; a deepseek2 block's attention is multi-head
 * latent attention (llm_mla.c). */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "llm.h"
#include "llm_moe.h"

struct llm_run {
    const llm_weights_t *w;
    llm_comm_t *comm;
    int ctx;            /* positions the KV cache holds */
    int batch;          /* tokens per forward step at most */
    int nq, nkv;        /* this rank's query heads and KV heads */
    int hid, voc;       /* this rank's FFN units and vocabulary rows */
    float *x;           /* (batch, dim) residual stream, the same on every rank */
    float *xb;          /* (batch, dim) normalised input of a block */
    float *q;           /* (batch, nq * head_dim) */
    float *k, *v;       /* (batch, nkv * head_dim) */
    float *ao;          /* (batch, nq * head_dim) attention output */
    float *aow;         /* (batch, n_heads * head_dim) ao at its heads' place, zeros elsewhere (sh.wo_whole), else NULL */
    float *part;        /* (batch, dim) this rank's partial sum, then the total */
    float *hg, *hu;     /* (batch, hid) gate and up activations */
    void *kc, *vc;      /* (l1 - l0, ctx) rows of kv_row bytes: nkv * head_dim elements of kv_type,
                           the KV cache of this rank's KV heads and layers */
    int kv_type;        /* LLM_F32, LLM_F16 or LLM_Q8_0 */
    size_t kv_row;      /* bytes of one position of one layer */
    float *att;         /* (threads, llm_attention_scratch) attention tiles */
    int n_threads;
    double *inv_freq;   /* (head_dim / 2) RoPE frequencies, with the file's scaling */
    float rope_mscale;  /* magnitude of cos and sin (YaRN), else 1 */
    llm_mla_run_t *mla; /* deepseek2: the latent attention's state and cache (llm_mla.c), else NULL */
    float *rope_cs, *rope_sn; /* (batch, head_dim / 2) RoPE cos and sin of the batch's positions */
    float *logits;      /* (voc) last position's logits, this rank's vocabulary rows */
    llm_block_q8x_t *xq;/* activation quantized for integer dots */
    int *counts, *displs; /* (np) vocabulary rows of every rank, for the gather */
    llm_moe_run_t *moe; /* the MoE unit's state, NULL for a dense model */
};

int llm_run_ctx(const llm_run_t *run) { return run->ctx; }
llm_moe_run_t *llm_run_moe(llm_run_t *run) { return run->moe; }

/* ================================================================ state */

cb_status_t llm_run_create(const llm_weights_t *w, llm_comm_t *comm, int ctx, int batch, llm_run_t **run_p)
{
    return llm_run_create_kv(w, comm, ctx, batch, LLM_F16, run_p);
}

cb_status_t llm_run_create_kv(const llm_weights_t *w, llm_comm_t *comm, int ctx, int batch, int kv_type, llm_run_t **run_p)
{
    const llm_config_t *c = &w->cfg;
    const llm_shard_t *sh = &w->sh;
    /* (MLA keeps its own latent cache in F32: the option is not its.) */
    if (!c->mla.kv_lora &&
        ((kv_type != LLM_F32 && kv_type != LLM_F16 && kv_type != LLM_Q8_0) || c->head_dim % llm_type_block(kv_type))) {
        cb_error("--kv-type %s: not a KV cache type for heads of %d (f32, f16, and q8_0 for heads of multiples of 32)",
                 llm_type_name(kv_type), c->head_dim);
        return CB_ERR_UNSUPPORTED;
    }
    llm_run_t *r = cb_alloc(sizeof *r, 1, "run state");
    if (!r)
        return CB_ERR_NOMEM;
    r->w = w;
    r->comm = comm;
    r->ctx = ctx;
    r->batch = batch;
    r->nq = sh->h1 - sh->h0;
    r->nkv = sh->kv1 - sh->kv0;
    r->hid = sh->f1 - sh->f0;
    r->voc = sh->v1 - sh->v0;
    r->n_threads = 1;
#ifdef _OPENMP
    r->n_threads = omp_get_max_threads();
#endif
    size_t B = (size_t)batch, hd = (size_t)c->head_dim, dim = (size_t)c->dim;
    size_t qd = (size_t)r->nq * hd, kvd = (size_t)r->nkv * hd;
    if (c->mla.kv_lora)
        qd = kvd = 0; /* MLA keeps its own buffers and latent cache */
    size_t maxcols = dim > qd ? dim : qd;
    if ((size_t)r->hid > maxcols)
        maxcols = (size_t)r->hid;
    if (c->mla.kv_lora && (size_t)llm_mla_max_cols(c, sh) > maxcols)
        maxcols = (size_t)llm_mla_max_cols(c, sh);
    if (sh->wo_whole && (size_t)c->n_heads * hd > maxcols)
        maxcols = (size_t)c->n_heads * hd;
#define ALLOC(p, n, what) if (!((p) = cb_alloc(sizeof(*(p)) * (n), 1, what))) goto fail
    ALLOC(r->x, B * dim, "activations");
    ALLOC(r->xb, B * dim, "activations");
    ALLOC(r->part, B * dim, "activations");
    ALLOC(r->q, B * qd, "activations");
    ALLOC(r->ao, B * qd, "activations");
    if (sh->wo_whole)
        ALLOC(r->aow, B * (size_t)c->n_heads * hd, "activations");
    ALLOC(r->k, B * kvd, "activations");
    ALLOC(r->v, B * kvd, "activations");
    ALLOC(r->hg, B * (size_t)r->hid, "activations");
    ALLOC(r->hu, B * (size_t)r->hid, "activations");
    r->kv_type = kv_type;
    r->kv_row = llm_type_bytes(kv_type, (int64_t)kvd);
    const size_t nl = (size_t)(sh->l1 - sh->l0);
    if (!(r->kc = cb_alloc(nl * (size_t)ctx * r->kv_row + 1, 0, "KV cache")) ||
        !(r->vc = cb_alloc(nl * (size_t)ctx * r->kv_row + 1, 0, "KV cache")))
        goto fail;
    ALLOC(r->att, (size_t)r->n_threads * llm_attention_scratch((int)hd), "attention tiles");
    ALLOC(r->inv_freq, hd / 2, "RoPE table");
    ALLOC(r->rope_cs, B * (hd / 2), "RoPE table");
    ALLOC(r->rope_sn, B * (hd / 2), "RoPE table");
    ALLOC(r->logits, (size_t)(r->voc > 0 ? r->voc : 1), "logits");
    ALLOC(r->xq, maxcols / LLM_QK + 1, "quantized activations");
    ALLOC(r->counts, (size_t)sh->np, "gather counts");
    ALLOC(r->displs, (size_t)sh->np, "gather displacements");
#undef ALLOC
    llm_rope_freqs(c, (int)hd, w->rope_freqs, r->inv_freq, &r->rope_mscale);
    if (c->mla.kv_lora && llm_mla_run_create(w, ctx, batch, &r->mla) != CB_OK)
        goto fail;
    cb_status_t st = CB_MPI(MPI_Allgather(&r->voc, 1, MPI_INT, r->counts, 1, MPI_INT, llm_comm_mpi(comm)));
    if (st != CB_OK) {
        llm_run_free(r);
        return st;
    }
    for (int i = 0, d = 0; i < sh->np; i++) {
        r->displs[i] = d;
        d += r->counts[i];
    }
    if (c->moe.n_experts > 0 && (st = llm_moe_run_create(w, batch, &r->moe)) != CB_OK) {
        llm_run_free(r);
        return st;
    }
    if ((size_t)c->moe.expert_ffn > maxcols)
        maxcols = (size_t)c->moe.expert_ffn;
    if ((size_t)(sh->s1 - sh->s0) > maxcols)
        maxcols = (size_t)(sh->s1 - sh->s0);
    st = llm_kernels_init_scratch((int)(maxcols > (size_t)c->hidden ? maxcols : (size_t)c->hidden));
    if (st != CB_OK) {
        llm_run_free(r);
        return st;
    }
    *run_p = r;
    return CB_OK;
fail:
    llm_run_free(r);
    return CB_ERR_NOMEM;
}

void llm_run_free(llm_run_t *r)
{
    if (!r)
        return;
    llm_kernels_free_scratch();
    llm_mla_run_free(r->mla);
    llm_moe_run_free(r->moe);
    cb_free(r->displs); cb_free(r->counts); cb_free(r->xq); cb_free(r->logits); cb_free(r->inv_freq);
    cb_free(r->rope_sn); cb_free(r->rope_cs);
    cb_free(r->att); cb_free(r->vc); cb_free(r->kc); cb_free(r->hu); cb_free(r->hg);
    cb_free(r->v); cb_free(r->k); cb_free(r->ao); cb_free(r->aow); cb_free(r->q); cb_free(r->part);
    cb_free(r->xb); cb_free(r->x);
    cb_free(r);
}

/* ================================================================ pieces */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float s = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++)
        out[i] = x[i] * s * w[i];
}

/* x += part over the whole batch. */
static void residual_add(float *x, const float *part, size_t n)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t j = 0; j < n; j++)
        x[j] += part[j];
}

/* Y (b, W rows) = X W^T: matrix-vector for one token, sgemm panels for more. */
static void project(llm_run_t *r, const llm_mat_t *m, const float *x, int b, float *y)
{
    if (b == 1)
        llm_matvec(m, x, r->xq, y);
    else
        llm_matmul(m, x, b, y, m->rows);
}

/* The angles of position pos: cs[j], sn[j] for j < hd/2, shared by every
 * head of the token (the same floats the per-head formula gave). */
static void rope_table(float *cs, float *sn, int hd, int pos, const double *inv_freq, float mscale)
{
    for (int j = 0; j < hd / 2; j++) {
        double a = (double)pos * inv_freq[j];
        cs[j] = (float)cos(a) * mscale;
        sn[j] = (float)sin(a) * mscale;
    }
}

/* Rotate pairs of one head by the table of its position: (2j, 2j+1)
 * interleaved, or (j, j + hd/2) for rotate-half (NeoX, Qwen). */
static void rope(float *v, int hd, const float *cs, const float *sn, int neox)
{
    int half = hd / 2;
    for (int j = 0; j < half; j++) {
        int i0 = neox ? j : 2 * j, i1 = neox ? j + half : 2 * j + 1;
        float v0 = v[i0], v1 = v[i1];
        v[i0] = v0 * cs[j] - v1 * sn[j];
        v[i1] = v0 * sn[j] + v1 * cs[j];
    }
}

/* ================================================================ GQA attention */

/* Layer l's grouped-query attention for b tokens at pos.. from r->xb:
 * this rank's heads' share of the output projection into r->part. Local. */
static void gqa_attend(llm_run_t *r, int l, int b, int pos)
{
    const llm_weights_t *w = r->w;
    const llm_config_t *c = &w->cfg;
    const llm_shard_t *sh = &w->sh;
    const llm_layer_t *L = &w->layers[l];
    const int hd = c->head_dim, qd = r->nq * hd, kvd = r->nkv * hd;
    const int group = c->n_heads / c->n_kv_heads;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t lo = (size_t)(l - sh->l0) * r->ctx * r->kv_row;
    char *kc = (char *)r->kc + lo, *vc = (char *)r->vc + lo;

    {
        const llm_mat_t *m[3] = { &L->wq, &L->wk, &L->wv };
        float *const y[3] = { r->q, r->k, r->v };
        if (b == 1)
            llm_matvec_n(3, m, r->xb, r->xq, y);
        else
            llm_matmul_n(3, m, r->xb, b, y);
    }
    /* (one token: no fork and join for one thread's work) */
#pragma omp parallel for schedule(static) if (b > 1)
    for (int i = 0; i < b; i++) {
        float *q = r->q + (size_t)i * qd, *k = r->k + (size_t)i * kvd, *v = r->v + (size_t)i * kvd;
        const float *cs = r->rope_cs + (size_t)i * (hd / 2), *sn = r->rope_sn + (size_t)i * (hd / 2);
        if (L->bq)
            for (int j = 0; j < qd; j++) q[j] += L->bq[j];
        if (L->bk)
            for (int j = 0; j < kvd; j++) k[j] += L->bk[j];
        if (L->bv)
            for (int j = 0; j < kvd; j++) v[j] += L->bv[j];
        for (int h = 0; h < r->nq; h++) {
            if (L->q_norm)
                rmsnorm(q + h * hd, q + h * hd, L->q_norm, hd, c->norm_eps);
            rope(q + h * hd, hd, cs, sn, c->rope_neox);
        }
        for (int h = 0; h < r->nkv; h++) {
            if (L->k_norm)
                rmsnorm(k + h * hd, k + h * hd, L->k_norm, hd, c->norm_eps);
            rope(k + h * hd, hd, cs, sn, c->rope_neox);
        }
        llm_quantize_row(r->kv_type, k, kc + (size_t)(pos + i) * r->kv_row, kvd);
        llm_quantize_row(r->kv_type, v, vc + (size_t)(pos + i) * r->kv_row, kvd);
    }

    /* ---- causal attention over the cache (tiled, online softmax) */
    llm_attn_t at = { r->q, r->ao, kc, vc, r->kv_type, r->kv_row, hd, r->nq, r->nkv,
                      sh->h0, sh->kv0, group, pos, b, scale, r->att };
    llm_attention(&at);

    /* ---- output projection of this rank's heads, summed over ranks */
    if (r->aow) {
        const size_t qall = (size_t)c->n_heads * hd;
        memset(r->aow, 0, sizeof(float) * (size_t)b * qall);
        for (int i = 0; i < b; i++)
            memcpy(r->aow + (size_t)i * qall + (size_t)sh->h0 * hd, r->ao + (size_t)i * qd, sizeof(float) * (size_t)qd);
        project(r, &L->wo, r->aow, b, r->part);
    } else {
        project(r, &L->wo, r->ao, b, r->part);
    }
}

/* ================================================================ dense FFN */

/* part = this rank's share of the SwiGLU FFN of r->xb (b tokens). */
static void ffn_dense(llm_run_t *r, const llm_layer_t *L, int b)
{
    {
        /* gate and up together: X quantized once, one parallel region */
        const llm_mat_t *m[2] = { &L->wg, &L->wu };
        float *const y[2] = { r->hg, r->hu };
        if (b == 1)
            llm_matvec_n(2, m, r->xb, r->xq, y);
        else
            llm_matmul_n(2, m, r->xb, b, y);
    }
    const int64_t nh = (int64_t)b * r->hid;
#pragma omp parallel for schedule(static) if (nh > 4096)
    for (int64_t j = 0; j < nh; j++) {
        float g = r->hg[j];
        r->hg[j] = g / (1.0f + expf(-g)) * r->hu[j];
    }
    project(r, &L->wd, r->hg, b, r->part);
}

/* ================================================================ one batch */

static cb_status_t forward_batch(llm_run_t *r, const int *tokens, int b, int pos)
{
    const llm_weights_t *w = r->w;
    const llm_config_t *c = &w->cfg;
    const llm_shard_t *sh = &w->sh;
    const int dim = c->dim, hd = c->head_dim;
    cb_status_t st;

    if (sh->pipe && sh->rank > 0) {
        /* Layer split: the residual stream of the layers before ours. */
        if ((st = llm_comm_recv(r->comm, r->x, b * dim, sh->rank - 1)) != CB_OK)
            return st;
    } else if (sh->pipe) {
        /* Rank 0 holds the whole embedding. */
        for (int i = 0; i < b; i++)
            llm_dequantize_row(w->tok.type, (const char *)w->tok.data + (size_t)tokens[i] * w->tok.row_bytes,
                               r->x + (size_t)i * dim, dim);
    } else {
        /* Embedding: the owner of each token's row contributes it. */
        memset(r->x, 0, sizeof(float) * (size_t)b * dim);
        for (int i = 0; i < b; i++)
            if (tokens[i] >= sh->v0 && tokens[i] < sh->v1)
                llm_dequantize_row(w->tok.type, (const char *)w->tok.data + (size_t)(tokens[i] - sh->v0) * w->tok.row_bytes,
                                   r->x + (size_t)i * dim, dim);
        if ((st = llm_comm_allreduce(r->comm, r->x, b * dim)) != CB_OK)
            return st;
    }

    for (int i = 0; i < b; i++)
        rope_table(r->rope_cs + (size_t)i * (hd / 2), r->rope_sn + (size_t)i * (hd / 2), hd, pos + i, r->inv_freq, r->rope_mscale);

    /* Under the layer split every layer is whole here: no sums over ranks. */
    const int tp = !sh->pipe;
    for (int l = sh->l0; l < sh->l1; l++) {
        const llm_layer_t *L = &w->layers[l];

        /* ---- attention (MLA or GQA): this rank's heads, summed over ranks */
#pragma omp parallel for schedule(static) if (b > 1)
        for (int i = 0; i < b; i++)
            rmsnorm(r->xb + (size_t)i * dim, r->x + (size_t)i * dim, L->attn_norm, dim, c->norm_eps);
        if (L->mla)
            llm_mla_attend(r->mla, w, l, r->xb, b, pos, r->part);
        else
            gqa_attend(r, l, b, pos);
        if (tp && (st = llm_comm_allreduce(r->comm, r->part, b * dim)) != CB_OK)
            return st;
        residual_add(r->x, r->part, (size_t)b * dim);

        /* ---- FFN (dense SwiGLU or mixture of experts) over this rank's units, summed over ranks */
#pragma omp parallel for schedule(static) if (b > 1)
        for (int i = 0; i < b; i++)
            rmsnorm(r->xb + (size_t)i * dim, r->x + (size_t)i * dim, L->ffn_norm, dim, c->norm_eps);
        if (L->moe) {
            if ((st = llm_moe_ffn(r->moe, L->moe, l, r->xb, b, r->part)) != CB_OK)
                return st;
            double t0 = cb_now();
            st = tp ? llm_comm_allreduce(r->comm, r->part, b * dim) : CB_OK;
            llm_moe_note_allreduce(r->moe, cb_now() - t0);
        } else {
            ffn_dense(r, L, b);
            st = tp ? llm_comm_allreduce(r->comm, r->part, b * dim) : CB_OK;
        }
        if (st != CB_OK)
            return st;
        residual_add(r->x, r->part, (size_t)b * dim);
    }

    if (sh->pipe && sh->rank < sh->np - 1) /* on to the next rank's layers; no logits here */
        return llm_comm_send(r->comm, r->x, b * dim, sh->rank + 1);

    /* Logits of the last position, for this rank's vocabulary rows. */
    rmsnorm(r->xb, r->x + (size_t)(b - 1) * dim, w->out_norm, dim, c->norm_eps);
    llm_matvec(&w->out, r->xb, r->xq, r->logits);
    return CB_OK;
}

cb_status_t llm_forward(llm_run_t *r, const int *tokens, int n, int pos)
{
    if (n <= 0 || pos < 0 || pos + n > r->ctx) {
        cb_error("positions %d..%d exceed the context of %d (--ctx)", pos, pos + n - 1, r->ctx);
        return CB_ERR_USAGE;
    }
    for (int i = 0; i < n; i += r->batch) {
        int b = n - i < r->batch ? n - i : r->batch;
        cb_status_t st = forward_batch(r, tokens + i, b, pos + i);
        if (st != CB_OK)
            return st;
    }
    /* Every rank routed alone: prove they agreed (one small allreduce). */
    if (r->moe && r->w->sh.np > 1 && !r->w->sh.pipe) /* (layer split: each layer routed by one rank) */
        return llm_moe_check_routing(r->moe, llm_comm_mpi(r->comm));
    return CB_OK;
}

/* ================================================================ the next token */

cb_status_t llm_argmax(llm_run_t *r, int *token_p)
{
    struct { float v; int i; } loc = { -INFINITY, 0x7fffffff }, glob;
    const llm_shard_t *sh = &r->w->sh;
    if (sh->pipe && sh->np > 1) {
        /* Layer split: the last rank holds every logit; the others wait their turn idle. */
        int tok = 0;
        for (int i = 0; i < r->voc; i++)
            if (r->logits[i] > loc.v) {
                loc.v = r->logits[i];
                tok = i;
            }
        MPI_Request req;
        cb_status_t st = CB_MPI(MPI_Ibcast(&tok, 1, MPI_INT, sh->np - 1, llm_comm_mpi(r->comm), &req));
        if (st == CB_OK)
            st = llm_comm_wait_idle(&req);
        if (st == CB_OK)
            *token_p = tok;
        return st;
    }
    for (int i = 0; i < r->voc; i++)
        if (r->logits[i] > loc.v) {
            loc.v = r->logits[i];
            loc.i = r->w->sh.v0 + i;
        }
    cb_status_t st = CB_MPI(MPI_Allreduce(&loc, &glob, 1, MPI_FLOAT_INT, MPI_MAXLOC, llm_comm_mpi(r->comm)));
    if (st == CB_OK)
        *token_p = glob.i == 0x7fffffff ? 0 : glob.i;
    return st;
}

cb_status_t llm_logits_gather(llm_run_t *r, float *logits)
{
    return CB_MPI(MPI_Gatherv(r->logits, r->voc, MPI_FLOAT, logits, r->counts, r->displs, MPI_FLOAT, 0,
                              llm_comm_mpi(r->comm)));
}
