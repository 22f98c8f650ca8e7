/* The local backend: memcpy bandwidth, the ceiling of shared-memory
 * transports. Block "one": rank 0 copies alone; block "all": every rank copies
 * at once (the aggregate over the ranks of the run). */
#include "mb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    MPI_Comm comm;
    int rank, n_ranks;
    int all;           /* every rank copies (else rank 0 alone) */
    uint8_t *src, *dst;
    size_t cap;
} mb_local_t;

static cb_status_t local_open(const mb_params_t *params, const char *set, void **inst_p)
{
    mb_local_t *l = calloc(1, sizeof *l);
    cb_status_t st = l ? CB_OK : CB_ERR_NOMEM;
    if (!l)
        cb_error("cannot allocate the local backend");
    if ((st = cb_agree(st, params->comm)) != CB_OK) {
        free(l);
        return st;
    }
    l->comm = params->comm;
    l->rank = params->rank;
    l->n_ranks = params->n_ranks;
    l->all = set && strcmp(set, "all") == 0;
    *inst_p = l;
    return CB_OK;
}

static void local_close(void *inst)
{
    mb_local_t *l = inst;
    if (!l)
        return;
    cb_free(l->dst);
    cb_free(l->src);
    free(l);
}

static cb_status_t local_describe(void *inst, char *buf, size_t len)
{
    mb_local_t *l = inst;
    if (l->all)
        snprintf(buf, len, "memcpy on all %d ranks at once (aggregate)", l->n_ranks);
    else
        snprintf(buf, len, "memcpy on rank 0 alone (one core)");
    return CB_OK;
}

static cb_status_t local_run(void *inst, const mb_test_t *test, const mb_run_t *run,
                             double *samples, double *msgs_p)
{
    mb_local_t *l = inst;
    cb_status_t st = CB_OK, bad = CB_OK;
    int active = l->all || l->rank == 0;
    if (run->size > l->cap) {
        cb_free(l->src);
        cb_free(l->dst);
        l->cap = 0;
        l->src = cb_alloc(run->size, 1, "the copy source");
        l->dst = cb_alloc(run->size, 1, "the copy destination");
        if (l->src && l->dst)
            l->cap = run->size;
        else
            st = CB_ERR_NOMEM;
    }
    if ((st = cb_agree(st, l->comm)) != CB_OK)
        return st;
    *msgs_p = l->all ? l->n_ranks : 1;
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        if (l->all)
            st = CB_MPI(MPI_Barrier(l->comm));
        if (!active || st != CB_OK)
            continue;
        if (run->validate)
            mb_pattern_fill(l->src, run->size, seed);
        double t0 = mb_now();
        memcpy(l->dst, l->src, run->size);
        __asm__ __volatile__("" ::: "memory"); /* the copy happens here, not later */
        samples[i] = mb_now() - t0;
        if (run->validate)
            mb_keep_first(&bad, mb_pattern_check(l->dst, run->size, seed, run->corrupt && i == 0, "memcpy: copy"));
    }
    return st != CB_OK ? st : bad;
}

const mb_backend_t mb_backend_local = { "local", local_open, local_describe, local_run, local_close };
