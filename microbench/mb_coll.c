/* The collectives backend: the float32 sum-allreduce by several algorithms
 * side by side (--alg), an instance per algorithm and, for the UCX ones, per
 * --tls set: "mpi" (MPI_Allreduce, run by the MPI backend itself), "rd"
 * (recursive doubling over MPI point-to-point, common's cb_rd) and the UCX
 * algorithms of common's collective layer (cb_ucoll). A block is named
 * "ALG" or "ALG@SET". Each rank times each call and the engine keeps the
 * slowest rank's time per call, as for MPI's collectives. --validate checks
 * every element against its exact sum (integer-valued floats) and that
 * every rank holds the same bits. `decode` runs one token's allreduces of
 * a model shape back to back and times the token. */
#include "mb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    MPI_Comm comm;
    int rank, n_ranks;
    char alg[MB_NAME_LEN];    /* "mpi", "rd", or a cb_ucoll_alg_names entry */
    char set[MB_NAME_LEN];    /* --tls set of a UCX algorithm ("any": UCX_TLS) */
    int ucoll_alg;            /* cb_ucoll_alg_t, or -1 */
    void *mpi;                /* the MPI backend's instance ("mpi" and "rd": describe, allreduce) */
    cb_rd_t *rd;              /* rd, for the current count */
    cb_ucoll_t *ucoll;        /* a UCX algorithm's layer */
    float *buf, *peer;        /* (cap floats) in-place buffer; rank 0's copy for the bitwise check */
    size_t cap;
    int decode_calls;         /* allreduces per token of decode */
} mb_coll_t;

static void coll_close(void *inst)
{
    mb_coll_t *c = inst;
    if (!c)
        return;
    cb_ucoll_free(c->ucoll);
    cb_rd_free(c->rd);
    if (c->mpi)
        mb_backend_mpi.close(c->mpi);
    cb_free(c->peer);
    cb_free(c->buf);
    free(c);
}

/* `set` is "ALG" or "ALG@SET". Collective; agrees. */
static cb_status_t coll_open(const mb_params_t *params, const char *set, void **inst_p)
{
    mb_coll_t *c = calloc(1, sizeof *c);
    cb_status_t st = c ? CB_OK : CB_ERR_NOMEM;
    if (!c)
        cb_error("cannot allocate the collectives backend");
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        return st;
    c->comm = params->comm;
    c->rank = params->rank;
    c->n_ranks = params->n_ranks;
    c->ucoll_alg = -1;
    c->decode_calls = params->decode_calls;
    const char *at = strchr(set, '@');
    snprintf(c->alg, sizeof c->alg, "%.*s", at ? (int)(at - set) : (int)strlen(set), set);
    snprintf(c->set, sizeof c->set, "%s", at ? at + 1 : "any");
    for (int i = 0; cb_ucoll_alg_names[i]; i++)
        if (strcmp(cb_ucoll_alg_names[i], c->alg) == 0)
            c->ucoll_alg = i;
    if ((st = mb_backend_mpi.open(params, NULL, &c->mpi)) != CB_OK) {
        c->mpi = NULL;
        goto fail;
    }
    if (c->ucoll_alg >= 0) {
        /* Registered once, for the largest message of the run. */
        size_t max = params->max_size / sizeof(float);
        if ((size_t)params->decode_dim > max)
            max = (size_t)params->decode_dim;
        if ((st = cb_ucoll_create(params->comm, c->set, max, &c->ucoll)) != CB_OK) {
            c->ucoll = NULL;
            goto fail;
        }
    }
    *inst_p = c;
    return CB_OK;
fail:
    coll_close(c);
    return st;
}

static cb_status_t coll_describe(void *inst, char *buf, size_t len)
{
    mb_coll_t *c = inst;
    if (c->ucoll) {
        snprintf(buf, len, "%s over UCX %s: %s", c->alg, c->set, cb_ucoll_describe(c->ucoll));
        return CB_OK;
    }
    char mpi[448] = "";
    cb_status_t st = mb_backend_mpi.describe(c->mpi, mpi, sizeof mpi);
    if (st == CB_OK)
        snprintf(buf, len, "%s: %s", strcmp(c->alg, "rd") == 0 ? "rd (recursive doubling, MPI point-to-point)" : "MPI_Allreduce", mpi);
    return st;
}

/* ================================================================ one call */

static cb_status_t reserve(mb_coll_t *c, size_t count)
{
    cb_status_t st = CB_OK;
    if (count > c->cap) {
        cb_free(c->buf);
        cb_free(c->peer);
        c->buf = cb_alloc(count * sizeof(float), 1, "allreduce buffer");
        c->peer = cb_alloc(count * sizeof(float), 1, "allreduce check buffer");
        c->cap = c->buf && c->peer ? count : 0;
        st = c->cap ? CB_OK : CB_ERR_NOMEM;
    }
    if (st == CB_OK && !c->ucoll && strcmp(c->alg, "rd") == 0 && (!c->rd || cb_rd_count(c->rd) != (int)count)) {
        cb_rd_free(c->rd);
        c->rd = NULL;
        if (count > (size_t)1 << 30) {
            cb_error("rd: %zu floats is too many for MPI counts", count);
            st = CB_ERR_USAGE;
        } else if ((st = cb_rd_create(c->comm, (int)count, &c->rd)) != CB_OK) {
            c->rd = NULL;
        }
    }
    return cb_agree(st, c->comm);
}

/* buf[0..count) summed in place over the ranks. Collective. */
static cb_status_t allreduce(mb_coll_t *c, size_t count)
{
    if (c->ucoll)
        return cb_ucoll_allreduce(c->ucoll, c->ucoll_alg, c->buf, count);
    if (c->rd)
        return cb_rd_allreduce(c->rd, c->buf);
    return CB_MPI(MPI_Allreduce(MPI_IN_PLACE, c->buf, (int)count, MPI_FLOAT, MPI_SUM, c->comm));
}

/* ================================================================ validation */

/* Rank r's float at element j: a small integer, so that every sum is exact. */
static inline float contrib(int r, size_t j, uint32_t seed)
{
    return (float)(((size_t)r * 7 + j + seed) % 61);
}

/* Every element against its exact sum, then bit for bit against rank 0's
 * result. With `corrupt` the last rank flips one byte first. Collective (the
 * bitwise check broadcasts rank 0's result). */
static cb_status_t check(mb_coll_t *c, size_t count, uint32_t seed, int corrupt)
{
    cb_status_t st = CB_OK;
    if (corrupt && c->rank == c->n_ranks - 1 && count > 0)
        ((uint8_t *)c->buf)[count * sizeof(float) / 2] ^= 0x5a;
    for (size_t j = 0; j < count && st == CB_OK; j++) {
        float want = 0;
        for (int r = 0; r < c->n_ranks; r++)
            want += contrib(r, j, seed);
        if (c->buf[j] != want) {
            cb_error("validation failed: allreduce %s: element %zu of %zu is %g, expected %g", c->alg, j, count,
                     (double)c->buf[j], (double)want);
            st = CB_ERR_CHECK;
        }
    }
    if (c->rank == 0)
        memcpy(c->peer, c->buf, count * sizeof(float));
    cb_status_t b = CB_MPI(MPI_Bcast(c->peer, (int)count, MPI_FLOAT, 0, c->comm));
    if (b != CB_OK)
        return b;
    if (memcmp(c->peer, c->buf, count * sizeof(float)) != 0 && st == CB_OK) {
        size_t j = 0;
        while (memcmp(&c->peer[j], &c->buf[j], sizeof(float)) == 0)
            j++;
        cb_error("validation failed: allreduce %s: element %zu differs from rank 0's bits", c->alg, j);
        st = CB_ERR_CHECK;
    }
    return st;
}

/* ================================================================ run */

static cb_status_t coll_run(void *inst, const mb_test_t *test, const mb_run_t *run, double *samples, double *msgs_p)
{
    mb_coll_t *c = inst;
    /* MPI_Allreduce is measured by the MPI backend itself, unchanged. */
    if (test->op == MB_OP_ALLREDUCE && !c->ucoll && strcmp(c->alg, "mpi") == 0)
        return mb_backend_mpi.run(c->mpi, test, run, samples, msgs_p);
    const int decode = test->op == MB_OP_DECODE;
    const size_t count = run->size / sizeof(float);
    const int calls = decode ? c->decode_calls : 1;
    cb_status_t st = reserve(c, count), bad = CB_OK;
    if (st != CB_OK)
        return st;
    memset(c->buf, 0, count * sizeof(float)); /* sums of zeros stay zeros */
    if ((st = CB_MPI(MPI_Barrier(c->comm))) != CB_OK)
        return st;
    *msgs_p = calls;
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        int validate = run->validate && !decode;
        if (validate)
            for (size_t j = 0; j < count; j++)
                c->buf[j] = contrib(c->rank, j, seed);
        double t0 = mb_now();
        for (int k = 0; k < calls && st == CB_OK; k++)
            st = allreduce(c, count);
        samples[i] = mb_now() - t0;
        if (validate && st == CB_OK) {
            mb_keep_first(&bad, check(c, count, seed, run->corrupt && i == 0));
            memset(c->buf, 0, count * sizeof(float));
        }
    }
    return st != CB_OK ? st : bad;
}

const mb_backend_t mb_backend_coll = { "coll", coll_open, coll_describe, coll_run, coll_close };
