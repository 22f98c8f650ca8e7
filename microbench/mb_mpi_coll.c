/* MPI collectives over every rank: each rank times each call and the engine
 * keeps the slowest rank's time per call. --validate checks every byte of
 * every result (reductions sum small integers, exact in float). */
#include "mb_mpi.h"

#include <stdio.h>

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
    case MB_OP_ALLREDUCE: case MB_OP_REDUCE_SCATTER: {
        size_t count = (test->op == MB_OP_ALLREDUCE ? 1 : (size_t)n) * (size / sizeof(float));
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

static cb_status_t coll_check(mb_mpi_t *m, const mb_test_t *test, size_t size, uint32_t seed, int corrupt)
{
    int n = m->n_ranks;
    cb_status_t st = CB_OK;
    char what[96];
    switch (test->op) {
    case MB_OP_ALLREDUCE: case MB_OP_REDUCE_SCATTER: {
        size_t count = size / sizeof(float);
        size_t first = test->op == MB_OP_ALLREDUCE ? 0 : (size_t)m->rank * count;
        float *f = (float *)m->rbuf;
        if (corrupt && count > 0)
            m->rbuf[size / 2] ^= 0x5a;
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

static cb_status_t coll_call(mb_mpi_t *m, const mb_test_t *test, size_t size)
{
    int n = (int)size;
    switch (test->op) {
    case MB_OP_ALLREDUCE:
        return CB_MPI(MPI_Allreduce(m->sbuf, m->rbuf, n / (int)sizeof(float), MPI_FLOAT, MPI_SUM, m->comm));
    case MB_OP_REDUCE_SCATTER:
        return CB_MPI(MPI_Reduce_scatter_block(m->sbuf, m->rbuf, n / (int)sizeof(float), MPI_FLOAT, MPI_SUM, m->comm));
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
    if (test->op == MB_OP_ALLGATHER)
        recv = cb_mul_size(run->size, np);
    if (test->op == MB_OP_ALLTOALL)
        send = recv = cb_mul_size(run->size, np);
    if (test->op == MB_OP_REDUCE_SCATTER)
        send = cb_mul_size(run->size, np);
    if ((st = mb_mpi_reserve(m, send, recv, 0)) != CB_OK)
        return st;
    if ((st = CB_MPI(MPI_Barrier(m->comm))) != CB_OK)
        return st;
    *msgs_p = 1;
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        if (run->validate)
            coll_fill(m, test, run->size, seed);
        double t0 = mb_now();
        st = coll_call(m, test, run->size);
        samples[i] = mb_now() - t0;
        if (run->validate && st == CB_OK)
            mb_keep_first(&bad, coll_check(m, test, run->size, seed, run->corrupt && i == 0));
    }
    return st != CB_OK ? st : bad;
}
