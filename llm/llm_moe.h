/* llm: the mixture-of-experts FFN unit (router, routed experts, shared
 * experts): its weights per layer, its run state, and the statistics the
 * bench reports (expert evaluations per rank, time in the MoE allreduce,
 * the routing profile that balanced placement reads). */
#ifndef LLM_MOE_H
#define LLM_MOE_H

#include "llm.h"

/* ================================================================ weights */

typedef struct llm_moe_layer {
    float *router;        /* (n_experts, dim) F32: ffn_gate_inp, the same on every rank */
    float *sel_bias;      /* (n_experts) exp_probs_b, or NULL */
    int n_pieces;         /* routed expert pieces this rank holds */
    const llm_expert_piece_t *pieces; /* (n_pieces): the shard plan's, by expert id */
    llm_mat_t *wg, *wu;   /* (n_pieces) each (f1 - f0, dim): gate and up rows of the piece */
    llm_mat_t *wd;        /* (n_pieces) each (dim, f1 - f0): down columns of the piece */
    llm_mat_t sg, su;     /* (s1 - s0, dim): shared experts' gate and up rows (rows 0: none) */
    llm_mat_t sd;         /* (dim, s1 - s0): shared experts' down columns */
} llm_moe_layer_t;

/* Load layer l's MoE weights of shard sh (which must outlive them): only
 * the bytes of this rank's experts are read. Adds the bytes to *bytes. Local. */
cb_status_t llm_moe_layer_load(const llm_desc_t *desc, const llm_shard_t *sh, int l,
                               llm_moe_layer_t **ml_p, size_t *bytes);
void llm_moe_layer_free(llm_moe_layer_t *ml);

/* ================================================================ the unit */

typedef struct llm_moe_run llm_moe_run_t;

/* Scratch for batches of up to `batch` tokens. Local. */
cb_status_t llm_moe_run_create(const llm_weights_t *w, int batch, llm_moe_run_t **mr_p);
void llm_moe_run_free(llm_moe_run_t *mr);

/* out (b, dim) = this rank's share of layer l's MoE FFN of x (b, dim): its
 * routed expert pieces weighted by the router, plus its shared-expert units.
 * Every rank routes every token itself, in one fixed order (portable C,
 * independent of threads and kernel ISA), so all agree bit for bit given the
 * same x; a prompt (b > 1) is batched per expert (one matrix product per
 * expert over the tokens routed to it). Local; the caller sums out over the
 * ranks (one allreduce) and reports its time with llm_moe_note_allreduce. */
cb_status_t llm_moe_ffn(llm_moe_run_t *mr, const llm_moe_layer_t *ml, int l, const float *x, int b, float *out);

/* Compare the routing (a hash of every chosen expert and weight since the
 * last check) across the ranks of comm: CB_ERR_INTERNAL with a held error on
 * every rank if any rank routed differently. Collective over comm. */
cb_status_t llm_moe_check_routing(llm_moe_run_t *mr, MPI_Comm comm);

/* Write every routing from now on to path, one line per token and layer:
 * "layer e1 .. ek w1 .. wk" (weights as C99 hex floats, exact). Local. */
cb_status_t llm_moe_trace_open(llm_moe_run_t *mr, const char *path);

/* ================================================================ kernels (llm_moe_kern.c) */

#define LLM_MOE_MAXP 65 /* pieces in one token's step: 64 routed, one shared */

/* One token's expert pieces and the scratch of their step. */
typedef struct {
    int n;                                  /* pieces */
    const llm_mat_t *wg[LLM_MOE_MAXP];      /* (h_i, dim) gate rows of piece i */
    const llm_mat_t *wu[LLM_MOE_MAXP];      /* (h_i, dim) up rows */
    const llm_mat_t *wd[LLM_MOE_MAXP];      /* (rows, h_i) down columns, rows the same for all */
    float a[LLM_MOE_MAXP];                  /* router weight of piece i (1 for the shared share) */
    int hmax;                               /* h_i <= hmax: the row of hg, hu */
    float *hg, *hu;                         /* (n, hmax) gate and up activations */
    llm_block_q8x_t *xq;                    /* (dim / LLM_QK + 1) x quantized */
    float *xd;                              /* (dim / LLM_QK + 1) its block scales */
    llm_block_q8x_t *hq;                    /* (n, hmax / LLM_QK + 1) SwiGLU outputs quantized */
    float *hd;                              /* (n, hmax / LLM_QK + 1) their block scales */
} llm_moe_token_t;

/* 1 if llm_moe_token_experts can take t: gate and up of one type, down of
 * one type, shapes consistent. Local. */
int llm_moe_token_fusable(const llm_moe_token_t *t);
/* y (rows) = sum_i a_i Wd_i SwiGLU(Wg_i x, Wu_i x), in one parallel region;
 * the sum runs in piece order for every row, so the bits do not depend on
 * the thread count. Local. */
void llm_moe_token_experts(const llm_moe_token_t *t, const float *x, float *y);
/* The dot the step uses for a row of `type` (the AVX-512 Q8_0 one where
 * selected): xq is x quantized by llm_quantize_act, xd its q8x scales. For
 * the tests against llm_dot_row. Local. */
float llm_moe_dot_row(int type, const void *row, const float *x, const llm_block_q8x_t *xq, const float *xd, int n);

/* ================================================================ statistics */

typedef struct {
    int64_t routings;     /* tokens routed, summed over MoE layers */
    int64_t evals;        /* (token, expert piece) products this rank computed */
    double ar_seconds;    /* time in the MoE allreduce (waiting for the slowest rank, and the transfer) */
    double seconds;       /* time in llm_moe_ffn */
} llm_moe_stats_t;

void llm_moe_stats(const llm_moe_run_t *mr, llm_moe_stats_t *s);
void llm_moe_stats_reset(llm_moe_run_t *mr);
void llm_moe_note_allreduce(llm_moe_run_t *mr, double seconds);
/* Routed tokens per (layer, expert) since creation, (n_layers * n_experts). */
const int64_t *llm_moe_profile(const llm_moe_run_t *mr);
/* Write that profile as text ("llm-routing-profile L E" then L lines of E
 * counts) for --routing-profile. Local. */
cb_status_t llm_moe_profile_write(const llm_moe_run_t *mr, const char *path);

/* The MoE run state of a run (NULL for a dense model). Local. */
llm_moe_run_t *llm_run_moe(llm_run_t *run);

#endif
