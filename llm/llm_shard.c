/* Sharding, Megatron style: which rows or columns of every tensor a rank
 * holds, what that costs in memory, and loading exactly that part.
 * Q, K, V, gate and up are split by output rows (heads, FFN units); the
 * attention output and down projections by input columns; token_embd and
 * output by vocabulary rows. Norms are small and replicated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llm.h"
#include "llm_moe.h"

/* ================================================================ plan */

const char *const llm_placement_names[] = { "contiguous", "round-robin", "balanced", "split", NULL };
const char *const llm_split_names[] = { "tensor", "layers", NULL };

/* The largest block of the tensors blk.L.<suffix> (1 where none is present). */
static int tensor_block(const llm_desc_t *desc, const char *suffix)
{
    int blk = 1;
    char n[LLM_NAME_MAX];
    for (int l = 0; l < desc->cfg.n_layers; l++) {
        snprintf(n, sizeof n, "blk.%d.%s", l, suffix);
        int t = llm_desc_find(desc, n), b = t >= 0 ? llm_type_block(desc->tensors[t].type) : 1;
        blk = b > blk ? b : blk;
    }
    return blk;
}

/* The column splits (wo, ffn_down, the experts' down) must fall on block boundaries. */
static int shard_block(const llm_desc_t *desc)
{
    int blk = 1;
    for (int i = 0; i < desc->n_tensors; i++) {
        const char *n = desc->tensors[i].name, *k = strchr(n + (strncmp(n, "blk.", 4) ? 0 : 4), '.');
        if (!k || strncmp(n, "blk.", 4))
            continue;
        k++;
        if (!strncmp(k, "ffn_down", 8) || !strncmp(k, "attn_output.", 12)) {
            int b = llm_type_block(desc->tensors[i].type);
            blk = b > blk ? b : blk;
        }
    }
    return blk;
}

/* The cut before rank i when n units are shared by the split's weights
 * (even: floor(i n / np), as before weights existed), every rank keeping at
 * least min_each units. cut(0) = 0, cut(np) = n. */
static int split_cut(int n, const llm_split_t *sp, int i, int min_each)
{
    int np = sp->np, c = 0;
    if (!sp->weight) {
        c = (int)((int64_t)i * n / np);
    } else {
        double tot = 0, cum = 0;
        for (int r = 0; r < np; r++)
            tot += sp->weight[r];
        for (int r = 0; r < i; r++)
            cum += sp->weight[r];
        c = (int)(n * (cum / tot) + 0.5);
    }
    if (min_each > 0) {
        /* The weighted cuts, pushed apart so that each rank keeps min_each. */
        int lo = i * min_each, hi = n - (np - i) * min_each;
        if (sp->weight && i > 0) {
            int prev = split_cut(n, sp, i - 1, min_each);
            if (c < prev + min_each)
                c = prev + min_each;
        }
        c = c < lo ? lo : c > hi ? hi : c;
    }
    return c;
}

void llm_shard_free(llm_shard_t *sh)
{
    llm_expert_plan_t *ep = sh->ep;
    if (!ep)
        return;
    if (ep->pieces)
        for (int l = 0; l < ep->n_layers; l++)
            free(ep->pieces[l]);
    free(ep->pieces);
    free(ep->n_pieces);
    free(ep->local);
    free(ep);
    sh->ep = NULL;
}

static llm_expert_plan_t *plan_alloc(int n_layers, int n_experts)
{
    llm_expert_plan_t *ep = calloc(1, sizeof *ep);
    if (!ep)
        return NULL;
    ep->n_layers = n_layers;
    ep->n_experts = n_experts;
    ep->n_pieces = calloc((size_t)n_layers, sizeof(int));
    ep->pieces = calloc((size_t)n_layers, sizeof(llm_expert_piece_t *));
    ep->local = malloc(sizeof(int) * (size_t)n_layers * (size_t)n_experts);
    if (!ep->n_pieces || !ep->pieces || !ep->local) {
        llm_shard_t tmp = { .ep = ep };
        llm_shard_free(&tmp);
        return NULL;
    }
    for (size_t i = 0; i < (size_t)n_layers * (size_t)n_experts; i++)
        ep->local[i] = -1;
    return ep;
}

cb_status_t llm_shard_copy(const llm_shard_t *sh, llm_shard_t *dst)
{
    *dst = *sh;
    dst->ep = NULL;
    const llm_expert_plan_t *ep = sh->ep;
    if (!ep)
        return CB_OK;
    llm_expert_plan_t *d = plan_alloc(ep->n_layers, ep->n_experts);
    if (!d) {
        cb_error("cannot allocate the expert plan");
        return CB_ERR_NOMEM;
    }
    memcpy(d->local, ep->local, sizeof(int) * (size_t)ep->n_layers * (size_t)ep->n_experts);
    for (int l = 0; l < ep->n_layers; l++) {
        d->n_pieces[l] = ep->n_pieces[l];
        if (ep->n_pieces[l] == 0)
            continue;
        d->pieces[l] = malloc(sizeof(llm_expert_piece_t) * (size_t)ep->n_pieces[l]);
        if (!d->pieces[l]) {
            llm_shard_t tmp = { .ep = d };
            llm_shard_free(&tmp);
            cb_error("cannot allocate the expert plan");
            return CB_ERR_NOMEM;
        }
        memcpy(d->pieces[l], ep->pieces[l], sizeof(llm_expert_piece_t) * (size_t)ep->n_pieces[l]);
    }
    dst->ep = d;
    return CB_OK;
}

/* owner[e] for each expert of layer l when np <= n_experts: the split's
 * share of experts per rank, filled by the placement. */
static void place_experts(const llm_split_t *sp, int E, int l, int *owner, int *cap, int *order, double *load)
{
    int np = sp->np;
    for (int r = 0; r < np; r++) {
        cap[r] = split_cut(E, sp, r + 1, 0) - split_cut(E, sp, r, 0);
        load[r] = 0;
    }
    if (sp->placement == LLM_PLACE_CONTIGUOUS || (sp->placement == LLM_PLACE_BALANCED && !sp->profile)) {
        for (int r = 0; r < np; r++)
            for (int e = split_cut(E, sp, r, 0); e < split_cut(E, sp, r + 1, 0); e++)
                owner[e] = r;
        return;
    }
    if (sp->placement == LLM_PLACE_ROUND_ROBIN) {
        int r = 0;
        for (int e = 0; e < E; e++) {
            while (cap[r] == 0)
                r = (r + 1) % np;
            owner[e] = r;
            cap[r]--;
            r = (r + 1) % np;
        }
        return;
    }
    /* Balanced: the busiest experts first, each to the rank whose routed
     * tokens per unit of weight are fewest among those with room (LPT). */
    const int64_t *cnt = sp->profile + (size_t)l * E;
    for (int e = 0; e < E; e++)
        order[e] = e;
    for (int i = 1; i < E; i++) { /* insertion sort: count descending, id ascending */
        int v = order[i], j = i;
        while (j > 0 && (cnt[order[j - 1]] < cnt[v] || (cnt[order[j - 1]] == cnt[v] && order[j - 1] > v))) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (int i = 0; i < E; i++) {
        int best = -1;
        double bl = 0;
        for (int r = 0; r < np; r++) {
            if (cap[r] == 0)
                continue;
            double wr = sp->weight ? sp->weight[r] : 1.0, lr = load[r] / wr;
            if (best < 0 || lr < bl) {
                best = r;
                bl = lr;
            }
        }
        owner[order[i]] = best;
        cap[best]--;
        load[best] += (double)cnt[order[i]];
    }
}

static cb_status_t plan_experts(const llm_desc_t *desc, int rank, const llm_split_t *sp, int blk, llm_shard_t *sh)
{
    const llm_config_t *c = &desc->cfg;
    const int E = c->moe.n_experts, np = sp->np, ub = c->moe.expert_ffn / blk;
    const int split = np > 1 && sp->placement == LLM_PLACE_SPLIT;
    if (np > E && np > E * ub) {
        cb_error("%d ranks but the %d experts have only %d blocks of %d units in all", np, E, E * ub, blk);
        return CB_ERR_UNSUPPORTED;
    }
    if (split && np > ub) {
        cb_error("--expert-placement split: %d ranks but each expert's FFN has only %d blocks of %d units", np, ub, blk);
        return CB_ERR_UNSUPPORTED;
    }
    llm_expert_plan_t *ep = plan_alloc(c->n_layers, E);
    int *owner = malloc(sizeof(int) * (size_t)E), *order = malloc(sizeof(int) * (size_t)E);
    int *cap = malloc(sizeof(int) * (size_t)np);
    double *load = malloc(sizeof(double) * (size_t)np);
    cb_status_t st = CB_OK;
    if (!ep || !owner || !order || !cap || !load) {
        cb_error("cannot allocate the expert plan");
        st = CB_ERR_NOMEM;
        goto done;
    }
    sh->ep = ep;
    for (int l = 0; l < c->n_layers; l++) {
        if (!llm_layer_is_moe(c, l))
            continue;
        llm_expert_piece_t *p = malloc(sizeof *p * (size_t)E);
        if (!p) {
            cb_error("cannot allocate the expert plan");
            st = CB_ERR_NOMEM;
            goto done;
        }
        ep->pieces[l] = p;
        int n = 0;
        if (split) {
            /* Every expert cut alike by the weights: the same share of each. */
            int f0 = split_cut(ub, sp, rank, 1) * blk, f1 = split_cut(ub, sp, rank + 1, 1) * blk;
            for (int e = 0; e < E; e++)
                p[n++] = (llm_expert_piece_t){ e, f0, f1 };
        } else if (np <= E) {
            /* Whole experts. */
            place_experts(sp, E, l, owner, cap, order, load);
            for (int e = 0; e < E; e++)
                if (owner[e] == rank)
                    p[n++] = (llm_expert_piece_t){ e, 0, c->moe.expert_ffn };
        } else {
            /* Every expert split: the experts' blocks laid end to end, cut by the weights. */
            int b0 = split_cut(E * ub, sp, rank, 1), b1 = split_cut(E * ub, sp, rank + 1, 1);
            for (int e = 0; e < E; e++) {
                int lo = b0 > e * ub ? b0 : e * ub, hi = b1 < (e + 1) * ub ? b1 : (e + 1) * ub;
                if (lo < hi)
                    p[n++] = (llm_expert_piece_t){ e, (lo - e * ub) * blk, (hi - e * ub) * blk };
            }
        }
        ep->n_pieces[l] = n;
        for (int i = 0; i < n; i++)
            ep->local[(size_t)l * E + p[i].e] = i;
    }
done:
    free(load);
    free(cap);
    free(order);
    free(owner);
    if (st != CB_OK) {
        if (sh->ep)
            llm_shard_free(sh);
        else if (ep) {
            llm_shard_t tmp = { .ep = ep };
            llm_shard_free(&tmp);
        }
    }
    return st;
}

/* The layer split: the whole model's plan on one rank (every head, FFN unit
 * and expert), cut to the rank's contiguous layers [l0, l1): rank r gets the
 * layers split_cut gives its share, at least one each. */
static cb_status_t plan_layers(const llm_desc_t *desc, int rank, const llm_split_t *sp, llm_shard_t *sh)
{
    const llm_config_t *c = &desc->cfg;
    const int np = sp->np;
    if (np > c->n_layers) {
        cb_error("--split layers: %d ranks but the model has %d layers: at most %d ranks", np, c->n_layers, c->n_layers);
        return CB_ERR_UNSUPPORTED;
    }
    llm_split_t whole = { 1, NULL, sp->placement, sp->profile, 0 };
    cb_status_t st = llm_shard_plan_split(desc, 0, &whole, sh);
    if (st != CB_OK)
        return st;
    sh->rank = rank;
    sh->np = np;
    sh->pipe = 1;
    sh->l0 = split_cut(c->n_layers, sp, rank, 1);
    sh->l1 = split_cut(c->n_layers, sp, rank + 1, 1);
    if (rank != np - 1)
        sh->v0 = sh->v1 = 0; /* only the last rank computes logits (all of them) */
    return CB_OK;
}

int llm_shard_holds_embd(const llm_shard_t *sh, int tied)
{
    return !sh->pipe || sh->rank == 0 || (tied && sh->rank == sh->np - 1);
}

int llm_shard_holds_output(const llm_shard_t *sh)
{
    return !sh->pipe || sh->rank == sh->np - 1;
}

cb_status_t llm_shard_plan_split(const llm_desc_t *desc, int rank, const llm_split_t *sp, llm_shard_t *sh)
{
    const llm_config_t *c = &desc->cfg;
    const int np = sp->np;
    memset(sh, 0, sizeof *sh);
    if (sp->layers)
        return plan_layers(desc, rank, sp, sh);
    sh->l1 = c->n_layers;
    if (np > c->n_heads) {
        cb_error("%d ranks but the model has %d attention heads: at most %d ranks", np, c->n_heads, c->n_heads);
        return CB_ERR_UNSUPPORTED;
    }
    int blk = shard_block(desc);
    /* The attention output's columns split at head boundaries that are also
     * block boundaries: heads go in groups of hg (2 heads of 128 for a
     * 256-element super-block), FFN units in blocks. A head has v_dim output
     * columns under MLA, head_dim otherwise. */
    int ocols = c->mla.kv_lora ? c->mla.v_dim : c->head_dim;
    int hg = 1;
    while ((hg * ocols) % blk)
        hg++;
    /* Where no such split exists (4 heads of 64 in one 256-element block over
     * 2 ranks), every rank holds attn_output whole and multiplies it by its
     * heads' outputs with zeros elsewhere: the sum over ranks is the same.
     * (Not under MLA, whose output projection is always split by heads.) */
    sh->wo_whole = np > 1 && (c->n_heads % hg || np > c->n_heads / hg);
    if (sh->wo_whole && c->mla.kv_lora) {
        cb_error("%d ranks: the attention output's %d-element blocks span %d heads of %d columns, and %d heads do not split so",
                 np, blk, hg, ocols, c->n_heads);
        return CB_ERR_UNSUPPORTED;
    }
    if (sh->wo_whole)
        hg = 1;
    int dense = 0;
    for (int l = 0; l < c->n_layers; l++)
        dense |= !llm_layer_is_moe(c, l);
    int units = c->hidden / blk;
    if (dense && np > units && !sp->weight) {
        cb_error("%d ranks but the FFN has only %d blocks of %d units: at most %d ranks", np, units, blk, units);
        return CB_ERR_UNSUPPORTED;
    }
    int group = c->n_heads / c->n_kv_heads, hunits = np > 1 ? c->n_heads / hg : c->n_heads;
    if (np == 1)
        hg = 1;
    sh->rank = rank;
    sh->np = np;
    sh->h0 = split_cut(hunits, sp, rank, 1) * hg;
    sh->h1 = split_cut(hunits, sp, rank + 1, 1) * hg;
    sh->kv0 = sh->h0 / group;
    sh->kv1 = (sh->h1 - 1) / group + 1;
    if (dense) {
        sh->f0 = split_cut(units, sp, rank, 0) * blk;
        sh->f1 = split_cut(units, sp, rank + 1, 0) * blk;
    }
    /* Note where the even split would have cut a block (the caller says so). */
    sh->resplit = 0;
    for (int r = 1; r < np; r++) {
        sh->resplit |= (int)((int64_t)r * c->n_heads / np) * ocols % blk != 0 ? (sh->wo_whole ? 4 : 1) : 0;
        sh->resplit |= dense && (int)((int64_t)r * c->hidden / np) % blk != 0 ? 2 : 0;
    }
    sh->block = blk;
    sh->head_group = hg;
    sh->v0 = split_cut(c->vocab, sp, rank, 0);
    sh->v1 = split_cut(c->vocab, sp, rank + 1, 0);
    if (c->moe.n_experts > 0) {
        /* The shared expert splits by FFN units like a dense FFN, on the
         * blocks of its down projection; routed experts are whole on a rank
         * unless there are more ranks than experts, and only then split on
         * the blocks of theirs. */
        int bsh = tensor_block(desc, "ffn_down_shexp.weight"), bex = tensor_block(desc, "ffn_down_exps.weight");
        if (np == 1) {
            sh->s0 = 0;
            sh->s1 = c->moe.shared_ffn;
        } else {
            if (c->moe.shared_ffn % bsh) {
                cb_error("%d ranks: the shared expert's FFN width %d is not a multiple of the %d-element blocks of its down projection: run on one rank",
                         np, c->moe.shared_ffn, bsh);
                return CB_ERR_UNSUPPORTED;
            }
            int su = c->moe.shared_ffn / bsh;
            sh->s0 = split_cut(su, sp, rank, 0) * bsh;
            sh->s1 = split_cut(su, sp, rank + 1, 0) * bsh;
        }
        if ((np > c->moe.n_experts || sp->placement == LLM_PLACE_SPLIT) && c->moe.expert_ffn % bex) {
            cb_error("%d ranks split each of the %d experts, but their FFN width %d is not a multiple of the %d-element blocks",
                     np, c->moe.n_experts, c->moe.expert_ffn, bex);
            return CB_ERR_UNSUPPORTED;
        }
        return plan_experts(desc, rank, sp, bex, sh);
    }
    return CB_OK;
}

cb_status_t llm_shard_plan(const llm_desc_t *desc, int rank, int np, llm_shard_t *sh)
{
    llm_split_t sp = { np, NULL, LLM_PLACE_CONTIGUOUS, NULL, 0 };
    return llm_shard_plan_split(desc, rank, &sp, sh);
}

cb_status_t llm_shard_parse_weights(const char *text, int np, double *weight)
{
    const char *p = text;
    int n = 0;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v > 0 && v < 1e12) || (*end && *end != ',')) {
            cb_error("--shard-weights %s: expected %d positive numbers separated by commas, or auto", text, np);
            return CB_ERR_USAGE;
        }
        if (n < np)
            weight[n] = v;
        n++;
        p = *end ? end + 1 : end;
    }
    if (n != np) {
        cb_error("--shard-weights %s: %d weights for %d ranks", text, n, np);
        return CB_ERR_USAGE;
    }
    return CB_OK;
}

cb_status_t llm_moe_profile_read(const char *path, int n_layers, int n_experts, int64_t *counts)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        cb_error("cannot open %s: %s", path, strerror(errno));
        return CB_ERR_IO;
    }
    int L = 0, E = 0;
    cb_status_t st = CB_OK;
    if (fscanf(f, "llm-routing-profile %d %d", &L, &E) != 2) {
        cb_error("%s: not a routing profile (llm bench --save-routing writes one)", path);
        st = CB_ERR_INPUT;
    } else if (L != n_layers || E != n_experts) {
        cb_error("%s: a profile of %d layers x %d experts, the model has %d x %d", path, L, E, n_layers, n_experts);
        st = CB_ERR_INPUT;
    }
    for (size_t i = 0; st == CB_OK && i < (size_t)L * (size_t)E; i++) {
        long long v;
        if (fscanf(f, "%lld", &v) != 1 || v < 0) {
            cb_error("%s: count %zu is missing or negative", path, i);
            st = CB_ERR_INPUT;
        } else {
            counts[i] = v;
        }
    }
    fclose(f);
    return st;
}

/* ================================================================ what each tensor contributes */

typedef enum { PART_ALL, PART_QROWS, PART_KVROWS, PART_QCOLS, PART_FROWS, PART_FCOLS, PART_VROWS, PART_EXPERTS } part_t;

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
    *r0 = 0; *nr = t->ne[1] * t->ne[2] * t->ne[3]; *c0 = 0; *nc = t->ne[0];
    if (c->mla.kv_lora > 0) {
        /* MLA: q_b (or q), k_b, v_b and kv_b by heads, the output by their
         * values; the latent projections q_a, kv_a_mqa and their norms whole. */
        int64_t nh = sh->h1 - sh->h0, per = 0;
        if (!strncmp(kind, "attn_q.", 7) || !strncmp(kind, "attn_q_b.", 9))
            per = c->mla.nope + c->mla.rope;
        else if (!strncmp(kind, "attn_k_b.", 9))
            per = c->mla.kv_lora;
        else if (!strncmp(kind, "attn_v_b.", 9))
            per = c->mla.v_dim;
        else if (!strncmp(kind, "attn_kv_b.", 10))
            per = c->mla.nope + c->mla.v_dim;
        if (per) {
            *r0 = sh->h0 * per; *nr = nh * per;
            return PART_QROWS;
        }
        if (!strncmp(kind, "attn_output.", 12)) {
            *c0 = sh->h0 * c->mla.v_dim; *nc = nh * c->mla.v_dim;
            return PART_QCOLS;
        }
    }
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
    if (!strncmp(kind, "ffn_gate_shexp.", 15) || !strncmp(kind, "ffn_up_shexp.", 13)) {
        *r0 = sh->s0; *nr = sh->s1 - sh->s0;
        return PART_FROWS;
    }
    if (!strncmp(kind, "ffn_down_shexp.", 15)) {
        *c0 = sh->s0; *nc = sh->s1 - sh->s0;
        return PART_FCOLS;
    }
    if (!strncmp(kind, "ffn_gate_exps.", 14) || !strncmp(kind, "ffn_up_exps.", 12) || !strncmp(kind, "ffn_down_exps.", 14))
        return PART_EXPERTS; /* pieces of whole experts: see expert_bytes */
    if (!strcmp(name, "token_embd.weight") || !strcmp(name, "output.weight")) {
        *r0 = sh->v0; *nr = sh->v1 - sh->v0;
        return PART_VROWS;
    }
    return PART_ALL;
}

/* Bytes of the rank's pieces of a 3-D expert tensor (gate/up: ne (dim, ffn,
 * E), the piece's rows; down: ne (ffn, dim, E), the piece's columns). */
static size_t expert_bytes(const llm_tensor_t *t, const llm_shard_t *sh)
{
    int l = atoi(t->name + 4);
    if (!sh->ep || l < 0 || l >= sh->ep->n_layers)
        return 0;
    int down = strstr(t->name, "ffn_down_exps") != NULL;
    size_t total = 0;
    for (int i = 0; i < sh->ep->n_pieces[l]; i++) {
        const llm_expert_piece_t *p = &sh->ep->pieces[l][i];
        int64_t w = p->f1 - p->f0;
        total += down ? llm_type_bytes(t->type, w) * (size_t)t->ne[1] : llm_type_bytes(t->type, t->ne[0]) * (size_t)w;
    }
    return total;
}

size_t llm_shard_weight_bytes(const llm_desc_t *desc, const llm_shard_t *sh)
{
    size_t total = 0;
    for (int i = 0; i < desc->n_tensors; i++) {
        const llm_tensor_t *t = &desc->tensors[i];
        int64_t r0, nr, c0, nc;
        if (!llm_type_supported(t->type))
            continue;
        if (sh->pipe) {
            /* Layer split: the rank's layers whole, the embedding and output where it holds them. */
            int embd = !strcmp(t->name, "token_embd.weight"), out = !strcmp(t->name, "output.weight");
            if (!strncmp(t->name, "blk.", 4)) {
                int l = atoi(t->name + 4);
                if (l < sh->l0 || l >= sh->l1)
                    continue;
            } else if ((embd && !llm_shard_holds_embd(sh, desc->cfg.tied)) || (out && !llm_shard_holds_output(sh))) {
                continue;
            }
            if (embd || out) {
                total += llm_type_bytes(t->type, t->ne[0]) * (size_t)t->ne[1];
                continue;
            }
        }
        if (shard_part(t->name, &desc->cfg, sh, t, &r0, &nr, &c0, &nc) == PART_EXPERTS) {
            total += expert_bytes(t, sh);
            continue;
        }
        total += llm_type_bytes(t->type, nc) * (size_t)nr;
    }
    return total;
}

size_t llm_shard_kv_bytes(const llm_config_t *c, const llm_shard_t *sh, int ctx, int kv_type)
{
    size_t row = llm_type_bytes(kv_type, (int64_t)(sh->kv1 - sh->kv0) * c->head_dim);
    return row == SIZE_MAX ? SIZE_MAX : 2 * (size_t)(sh->l1 - sh->l0) * (size_t)ctx * row;
}

size_t llm_shard_run_bytes(const llm_config_t *c, const llm_shard_t *sh, int ctx, int batch)
{
    return llm_shard_run_bytes_kv(c, sh, ctx, batch, LLM_F16);
}

size_t llm_shard_run_bytes_kv(const llm_config_t *c, const llm_shard_t *sh, int ctx, int batch, int kv_type)
{
    size_t kvd = (size_t)(sh->kv1 - sh->kv0) * c->head_dim, qd = (size_t)(sh->h1 - sh->h0) * c->head_dim;
    size_t mla = 0;
    if (c->mla.kv_lora) {
        mla = llm_mla_run_bytes(c, sh, ctx, batch);
        kvd = qd = 0;
    }
    size_t hid = (size_t)(sh->f1 - sh->f0), voc = (size_t)(sh->v1 - sh->v0);
    size_t kv = c->mla.kv_lora ? 0 : llm_shard_kv_bytes(c, sh, ctx, kv_type); /* MLA: its latent cache is in mla */
    size_t act = (size_t)batch * (4 * (size_t)c->dim + 2 * qd + 2 * kvd + 2 * hid) * sizeof(float);
    size_t cols = (size_t)(c->hidden > c->dim ? c->hidden : c->dim);
    if (qd * (size_t)(sh->np) > cols)
        cols = qd * (size_t)sh->np;
    if (c->mla.kv_lora && (size_t)llm_mla_max_cols(c, sh) > cols)
        cols = (size_t)llm_mla_max_cols(c, sh);
    /* sgemm panels, or the GEMM's quantized activations and level panels */
    size_t panels = 2 * llm_matmul_scratch((int)cols) * sizeof(float) + (size_t)batch * cols / 32 * 80;
    size_t moe = 0;
    if (c->moe.n_experts > 0) /* router logits, gathered tokens and their expert activations */
        moe = (size_t)batch * ((size_t)c->moe.n_experts + 3 * (size_t)c->dim + 2 * (size_t)c->moe.expert_ffn +
                               2 * (size_t)(sh->s1 - sh->s0) + 2 * (size_t)c->moe.n_used) * sizeof(float);
    return mla + kv + act + moe + panels + (voc + (size_t)c->vocab) * sizeof(float) +
           2 * llm_attention_scratch(c->head_dim) * sizeof(float);
}

/* ================================================================ loading */

cb_status_t llm_shard_load_mat(const llm_desc_t *desc, const llm_shard_t *sh, const char *name, llm_mat_t *m, size_t *bytes)
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
cb_status_t llm_shard_load_vec(const llm_desc_t *desc, const llm_shard_t *sh, const char *name, float **v, size_t *bytes)
{
    llm_mat_t m;
    cb_status_t st = llm_shard_load_mat(desc, sh, name, &m, bytes);
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
    if ((st = llm_shard_copy(sh, &w->sh)) != CB_OK) {
        cb_free(w);
        return st;
    }
    st = CB_ERR_NOMEM;
    w->layers = cb_alloc(sizeof(llm_layer_t) * (size_t)c->n_layers, 1, "layer table");
    if (!w->layers)
        goto fail;
    char n[LLM_NAME_MAX];
#define TRY(x) if ((st = (x)) != CB_OK) goto fail
    /* Under the layer split the embedding and output are whole where held. */
    llm_shard_t sv = *sh;
    if (sh->pipe) {
        sv.v0 = 0;
        sv.v1 = c->vocab;
    }
    if (llm_shard_holds_embd(sh, c->tied))
        TRY(llm_shard_load_mat(desc, &sv, "token_embd.weight", &w->tok, &w->bytes));
    if (c->tied)
        w->out = llm_shard_holds_output(sh) ? w->tok : (llm_mat_t){ 0 };
    else if (llm_shard_holds_output(sh))
        TRY(llm_shard_load_mat(desc, &sv, "output.weight", &w->out, &w->bytes));
    TRY(llm_shard_load_vec(desc, sh, "output_norm.weight", &w->out_norm, &w->bytes));
    if (c->rope_scaling.freq_factors)
        TRY(llm_shard_load_vec(desc, sh, "rope_freqs.weight", &w->rope_freqs, &w->bytes));
    for (int l = sh->l0; l < sh->l1; l++) {
        llm_layer_t *L = &w->layers[l];
#define MAT(fmt, m) snprintf(n, sizeof n, fmt, l); TRY(llm_shard_load_mat(desc, sh, n, m, &w->bytes))
#define VEC(fmt, v) snprintf(n, sizeof n, fmt, l); TRY(llm_shard_load_vec(desc, sh, n, v, &w->bytes))
        VEC("blk.%d.attn_norm.weight", &L->attn_norm);
        VEC("blk.%d.ffn_norm.weight", &L->ffn_norm);
        MAT("blk.%d.attn_output.weight", &L->wo);
        if (c->mla.kv_lora) {
            TRY(llm_mla_layer_load(desc, sh, l, &L->mla, &w->bytes));
        } else {
            MAT("blk.%d.attn_q.weight", &L->wq);
            MAT("blk.%d.attn_k.weight", &L->wk);
            MAT("blk.%d.attn_v.weight", &L->wv);
        }
        if (llm_layer_is_moe(c, l)) {
            TRY(llm_moe_layer_load(desc, &w->sh, l, &L->moe, &w->bytes));
        } else {
            MAT("blk.%d.ffn_gate.weight", &L->wg);
            MAT("blk.%d.ffn_up.weight", &L->wu);
            MAT("blk.%d.ffn_down.weight", &L->wd);
        }
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
            llm_moe_layer_free(L->moe);
            cb_free(L->wd.data); cb_free(L->wu.data); cb_free(L->wg.data); cb_free(L->wo.data);
            cb_free(L->wv.data); cb_free(L->wk.data); cb_free(L->wq.data);
            cb_free(L->k_norm); cb_free(L->q_norm); cb_free(L->bv); cb_free(L->bk); cb_free(L->bq);
            cb_free(L->ffn_norm); cb_free(L->attn_norm);
            llm_mla_layer_free(L->mla);
        }
        cb_free(w->layers);
    }
    cb_free(w->out_norm);
    cb_free(w->rope_freqs);
    if (w->out.data != w->tok.data)
        cb_free(w->out.data);
    cb_free(w->tok.data);
    llm_shard_free(&w->sh);
    cb_free(w);
}
