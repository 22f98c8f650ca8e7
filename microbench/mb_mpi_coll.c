/* MPI collectives over every rank, timed as OSU times them: every call
 * starts after a barrier (so that no rank runs ahead into the next call) and
 * each rank times its own call; the engine reports the mean over ranks of
 * each rank's mean (OSU's Avg), the slowest rank's mean, and percentiles of
 * the slowest rank per call. --validate checks every byte of every result
 * (reductions sum small integers, exact in float). reduce_scatter's size is
 * the whole vector, as OSU counts it: rank r receives its share (count / np,
 * the first count % np ranks one float more). iallreduce runs as two
 * blocks, as osu_iallreduce: pure (MPI_Iallreduce + MPI_Wait) and overlap
 * (MPI_Iallreduce, a computation as long as this rank's mean pure time at
 * this size, MPI_Wait), each call timed whole. */
#include "mb_mpi.h"

#include <stdio.h>
#include <stdlib.h>

/* The float every rank r contributes at global element j, and their sum. */
static inline float contrib(int r, size_t j, uint32_t seed)
{
    return (float)(((size_t)r + j + seed) % 61);
}

static float sum_of(int n_ranks, size_t j, uint32_t seed)
{
    float s = 0;
    for (int r = 0; r < n_ranks; r++)
        s += contrib(r, j, seed);
    return s;
}

/* The seed of the block rank `src` sends to rank `dst`. */
static inline uint32_t block_seed(uint32_t seed, int src, int dst, int n)
{
    return seed + (uint32_t)(src * n + dst) * 131u;
}

static void coll_fill(mb_mpi_t *m, const mb_test_t *test, size_t size, uint32_t seed)
{
    int n = m->n_ranks;
    switch (test->op) {
    case MB_OP_ALLREDUCE: case MB_OP_REDUCE_SCATTER: case MB_OP_IALLREDUCE: {
        size_t count = size / sizeof(float);
        float *f = (float *)m->sbuf;
        for (size_t j = 0; j < count; j++)
            f[j] = contrib(m->rank, j, seed);
        break;
    }
    case MB_OP_BCAST:
        if (m->rank == 0)
            mb_pattern_fill(m->rbuf, size, seed);
        break;
    case MB_OP_ALLGATHER:
        mb_pattern_fill(m->sbuf, size, block_seed(seed, m->rank, 0, n));
        break;
    case MB_OP_ALLTOALL:
        for (int d = 0; d < n; d++)
            mb_pattern_fill(m->sbuf + (size_t)d * size, size, block_seed(seed, m->rank, d, n));
        break;
    default:
        break;
    }
}

/* reduce_scatter: rank r's share of a vector of `total` floats and where
 * it starts (OSU's split: count / np each, the remainder to the first). */
static void share_of(size_t total, int n, int r, size_t *count_p, size_t *first_p)
{
    size_t q = total / (size_t)n, rem = total % (size_t)n, ur = (size_t)r;
    *count_p = q + (ur < rem ? 1 : 0);
    *first_p = ur * q + (ur < rem ? ur : rem);
}

static cb_status_t coll_check(mb_mpi_t *m, const mb_test_t *test, size_t size, uint32_t seed, int corrupt)
{
    int n = m->n_ranks;
    cb_status_t st = CB_OK;
    char what[96];
    switch (test->op) {
    case MB_OP_ALLREDUCE: case MB_OP_REDUCE_SCATTER: case MB_OP_IALLREDUCE: {
        size_t count = size / sizeof(float), first = 0;
        if (test->op == MB_OP_REDUCE_SCATTER)
            share_of(count, n, m->rank, &count, &first);
        float *f = (float *)m->rbuf;
        if (corrupt && count > 0)
            m->rbuf[count * sizeof(float) / 2] ^= 0x5a;
        for (size_t k = 0; k < count; k++) {
            float want = sum_of(n, first + k, seed);
            if (f[k] != want) {
                cb_error("validation failed: %s: element %zu of %zu is %g, expected %g",
                         test->name, k, count, (double)f[k], (double)want);
                return CB_ERR_CHECK;
            }
        }
        return CB_OK;
    }
    case MB_OP_BCAST:
        if (m->rank == 0)
            return CB_OK;
        return mb_pattern_check(m->rbuf, size, seed, corrupt, "bcast: received message");
    case MB_OP_ALLGATHER: case MB_OP_ALLTOALL:
        for (int s = 0; s < n && st == CB_OK; s++) {
            uint32_t bs = test->op == MB_OP_ALLGATHER ? block_seed(seed, s, 0, n) : block_seed(seed, s, m->rank, n);
            snprintf(what, sizeof what, "%s: block from rank %d", test->name, s);
            st = mb_pattern_check(m->rbuf + (size_t)s * size, size, bs, corrupt && s == n - 1, what);
        }
        return st;
    default:
        return CB_OK;
    }
}

/* This rank's mean pure iallreduce time at the size of the pure block's last
 * timed run (the engine runs the pure block before the overlap block at each
 * size): the overlap block computes for that long. */
static double pure_mean_s;
static size_t pure_size = SIZE_MAX;

/* Busy work for `seconds` on this core, no MPI call inside (osu_iallreduce's
 * default: no MPI_Test during the computation); the clock is read every 8
 * dependent multiply-adds, so it ends within a few tens of nanoseconds. */
static void compute_for(double seconds)
{
    static volatile double sink;
    double x = sink, t_end = mb_now() + seconds;
    while (mb_now() < t_end)
        for (int k = 0; k < 8; k++)
            x = x * 0.999999 + 1e-9;
    sink = x;
}

static cb_status_t iallreduce_call(mb_mpi_t *m, int n)
{
    MPI_Request req;
    cb_status_t st = CB_MPI(MPI_Iallreduce(m->sbuf, m->rbuf, n / (int)sizeof(float), MPI_FLOAT, MPI_SUM, m->comm, &req));
    if (st != CB_OK)
        return st;
    if (m->overlap)
        compute_for(pure_mean_s);
    return CB_MPI(MPI_Wait(&req, MPI_STATUS_IGNORE));
}

static cb_status_t coll_call(mb_mpi_t *m, const mb_test_t *test, size_t size, const int *counts)
{
    int n = (int)size;
    switch (test->op) {
    case MB_OP_IALLREDUCE:
        return iallreduce_call(m, n);
    case MB_OP_ALLREDUCE:
        return CB_MPI(MPI_Allreduce(m->sbuf, m->rbuf, n / (int)sizeof(float), MPI_FLOAT, MPI_SUM, m->comm));
    case MB_OP_REDUCE_SCATTER:
        return CB_MPI(MPI_Reduce_scatter(m->sbuf, m->rbuf, counts, MPI_FLOAT, MPI_SUM, m->comm));
    case MB_OP_BCAST:
        return CB_MPI(MPI_Bcast(m->rbuf, n, MPI_BYTE, 0, m->comm));
    case MB_OP_ALLGATHER:
        return CB_MPI(MPI_Allgather(m->sbuf, n, MPI_BYTE, m->rbuf, n, MPI_BYTE, m->comm));
    case MB_OP_ALLTOALL:
        return CB_MPI(MPI_Alltoall(m->sbuf, n, MPI_BYTE, m->rbuf, n, MPI_BYTE, m->comm));
    case MB_OP_BARRIER:
        return CB_MPI(MPI_Barrier(m->comm));
    default:
        cb_error("test %s: not a collective", test->name);
        return CB_ERR_INTERNAL;
    }
}

cb_status_t mb_mpi_coll_run(mb_mpi_t *m, const mb_test_t *test, const mb_run_t *run,
                            double *samples, double *msgs_p)
{
    cb_status_t st, bad = CB_OK;
    size_t np = (size_t)m->n_ranks, send = run->size, recv = run->size;
    int *counts = NULL;
    if (test->op == MB_OP_ALLGATHER)
        recv = cb_mul_size(run->size, np);
    if (test->op == MB_OP_ALLTOALL)
        send = recv = cb_mul_size(run->size, np);
    if (test->op == MB_OP_REDUCE_SCATTER) {
        counts = malloc(np * sizeof *counts);
        st = counts ? CB_OK : CB_ERR_NOMEM;
        if (!counts)
            cb_error("cannot allocate %zu counts", np);
        if ((st = cb_agree(st, m->comm)) != CB_OK)
            return st;
        for (int r = 0; r < m->n_ranks; r++) {
            size_t c, f;
            share_of(run->size / sizeof(float), m->n_ranks, r, &c, &f);
            counts[r] = (int)c;
        }
    }
    if ((st = mb_mpi_reserve(m, send, recv, 0)) != CB_OK)
        goto out;
    if (test->op == MB_OP_IALLREDUCE && m->overlap && pure_size != run->size) {
        cb_error("internal: iallreduce's overlap block ran before its pure block at %zu bytes", run->size);
        st = CB_ERR_INTERNAL;
    }
    if ((st = cb_agree(st, m->comm)) != CB_OK)
        goto out;
    if ((st = CB_MPI(MPI_Barrier(m->comm))) != CB_OK)
        goto out;
    *msgs_p = 1;
    /* As OSU: time the call, then a barrier (not timed) before the next, so
     * that every call starts with every rank there. The barrier also orders
     * the untimed pattern fill of --validate before the next call. */
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        if (run->validate)
            coll_fill(m, test, run->size, seed);
        if (run->validate && test->op != MB_OP_BARRIER)
            st = CB_MPI(MPI_Barrier(m->comm));
        if (st != CB_OK)
            break;
        double t0 = mb_now();
        st = coll_call(m, test, run->size, counts);
        samples[i] = mb_now() - t0;
        if (st == CB_OK && test->op != MB_OP_BARRIER)
            st = CB_MPI(MPI_Barrier(m->comm));
        if (run->validate && st == CB_OK)
            mb_keep_first(&bad, coll_check(m, test, run->size, seed, run->corrupt && i == 0));
    }
    if (test->op == MB_OP_IALLREDUCE && !m->overlap && st == CB_OK && run->iters > 0) {
        /* the latest run is the timed one: the warm-up runs first */
        double total = 0;
        for (int i = 0; i < run->iters; i++)
            total += samples[i];
        pure_mean_s = total / run->iters;
        pure_size = run->size;
    }
out:
    free(counts);
    return st != CB_OK ? st : bad;
}
