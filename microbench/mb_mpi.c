/* The MPI backend: instance, buffers and point-to-point tests (ping-pong,
 * windowed bandwidth both ways, message rate of every pair). Collectives and
 * one-sided operations are in mb_mpi_coll.c and mb_mpi_rma.c. */
#include "mb_mpi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_DATA 101
#define TAG_ACK 102
#define TAG_ECHO 103

/* ================================================================ instance */

static cb_status_t mpi_open(const mb_params_t *params, const char *set, void **inst_p)
{
    mb_mpi_t *m = calloc(1, sizeof *m);
    cb_status_t st = m ? CB_OK : CB_ERR_NOMEM;
    if (!m)
        cb_error("cannot allocate the MPI backend");
    if ((st = cb_agree(st, params->comm)) != CB_OK) {
        free(m);
        return st;
    }
    m->comm = params->comm;
    m->rank = params->rank;
    m->n_ranks = params->n_ranks;
    m->max_size = params->max_size;
    m->win = MPI_WIN_NULL;
    m->overlap = set && strcmp(set, "overlap") == 0; /* iallreduce's second block */
    m->pml_lanes = params->pml_lanes;
    m->threads = params->threads;
    *inst_p = m;
    return CB_OK;
}

static void mpi_close(void *inst)
{
    mb_mpi_t *m = inst;
    if (!m)
        return;
    if (m->win != MPI_WIN_NULL)
        MPI_Win_free(&m->win);
    free(m->reqs);
    cb_free(m->rbuf);
    cb_free(m->sbuf);
    free(m);
}

/* "MPI pml ucx, UCX selects posix/memory.0 ..." (the lanes of the PML's own
 * endpoints, from UCX's log of their configurations) or "MPI pml ob1".
 * Collective. */
static cb_status_t mpi_describe(void *inst, char *buf, size_t len)
{
    mb_mpi_t *m = inst;
    cb_provenance_t *prov = calloc(1, sizeof *prov);
    cb_status_t st = prov ? CB_OK : CB_ERR_NOMEM;
    if (!prov)
        cb_error("cannot allocate provenance");
    if ((st = cb_agree(st, m->comm)) != CB_OK)
        return st;
    if ((st = cb_provenance_collect(m->comm, prov)) != CB_OK)
        goto out;
    /* Every rank runs the same PML; decide on rank 0's name. */
    int ucx = strcmp(prov->mpi_pml, "ucx") == 0;
    if ((st = cb_agree(CB_MPI(MPI_Bcast(&ucx, 1, MPI_INT, 0, m->comm)), m->comm)) != CB_OK)
        goto out;
    if (ucx) {
        const char *lanes = m->pml_lanes && m->pml_lanes[0] ? m->pml_lanes : NULL;
        snprintf(buf, len, "MPI pml ucx, UCX selects %s",
                 lanes ? lanes : "unknown (no endpoint configuration of the PML's was logged)");
    } else {
        snprintf(buf, len, "MPI pml %s", prov->mpi_pml[0] ? prov->mpi_pml : "unknown");
    }
out:
    cb_provenance_free(prov); /* the hosts table it gathered */
    free(prov);
    return st;
}

cb_status_t mb_mpi_reserve(mb_mpi_t *m, size_t send, size_t recv, int reqs)
{
    cb_status_t st = CB_OK;
    if (send > m->scap) {
        cb_free(m->sbuf);
        m->scap = 0;
        if ((m->sbuf = cb_alloc(send, 1, "the send buffer")) != NULL)
            m->scap = send;
        else
            st = CB_ERR_NOMEM;
    }
    if (st == CB_OK && recv > m->rcap) {
        cb_free(m->rbuf);
        m->rcap = 0;
        if ((m->rbuf = cb_alloc(recv, 1, "the receive buffer")) != NULL)
            m->rcap = recv;
        else
            st = CB_ERR_NOMEM;
    }
    if (st == CB_OK && reqs > m->n_reqs) {
        MPI_Request *r = realloc(m->reqs, (size_t)reqs * sizeof *r);
        if (r) {
            m->reqs = r;
            m->n_reqs = reqs;
        } else {
            cb_error("cannot allocate %d requests", reqs);
            st = CB_ERR_NOMEM;
        }
    }
    return cb_agree(st, m->comm);
}

/* ================================================================ point to point */

/* The initiator's side of a ping-pong: run->iters times, a message to the
 * peer and its echo back (tag `echo_tag`), each round trip timed (half of
 * it is the sample); with --validate every echo is checked, the first with a
 * byte flipped when `corrupt`. One clock read per iteration: each ends where
 * the next begins (the clock restarts after the untimed pattern fill). */
static cb_status_t initiate(mb_mpi_t *m, const mb_run_t *run, int echo_tag, int corrupt, const char *what,
                            double *samples)
{
    cb_status_t st = CB_OK, bad = CB_OK;
    int n = (int)run->size;
    double t0 = mb_now();
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        if (run->validate) {
            mb_pattern_fill(m->sbuf, run->size, seed);
            t0 = mb_now();
        }
        st = CB_MPI(MPI_Send(m->sbuf, n, MPI_BYTE, run->peer, TAG_DATA, m->comm));
        if (st == CB_OK)
            st = CB_MPI(MPI_Recv(m->rbuf, n, MPI_BYTE, run->peer, echo_tag, m->comm, MPI_STATUS_IGNORE));
        double t1 = mb_now();
        samples[i] = (t1 - t0) / 2;
        t0 = t1;
        if (run->validate && st == CB_OK)
            mb_keep_first(&bad, mb_pattern_check(m->rbuf, run->size, seed, corrupt && i == 0, what));
    }
    return st != CB_OK ? st : bad;
}

/* Ping-pong between rank 0 and its peer, or between every pair at once
 * (`all_pairs`: multi_lat); the peer echoes what it received, so that
 * --validate checks the bytes after both directions. */
static cb_status_t pingpong(mb_mpi_t *m, const mb_run_t *run, int all_pairs, double *samples)
{
    cb_status_t st = CB_OK, bad = CB_OK;
    int n = (int)run->size;
    if (run->peer < 0 || (!all_pairs && m->rank != 0 && m->rank != m->n_ranks / 2))
        return CB_OK;
    if (run->initiator)
        return initiate(m, run, TAG_DATA, 0, "latency: echoed message", samples);
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        st = CB_MPI(MPI_Recv(m->rbuf, n, MPI_BYTE, run->peer, TAG_DATA, m->comm, MPI_STATUS_IGNORE));
        if (st == CB_OK)
            st = CB_MPI(MPI_Send(m->rbuf, n, MPI_BYTE, run->peer, TAG_DATA, m->comm));
        if (run->validate && st == CB_OK)
            mb_keep_first(&bad, mb_pattern_check(m->rbuf, run->size, run->seed + (uint32_t)i, run->corrupt && i == 0,
                                                 "latency: received message"));
    }
    return st != CB_OK ? st : bad;
}

/* One receiving thread of latency_mt's peer: `count` times, a receive from
 * the initiator into its own buffer, then the same bytes sent back. MPI's
 * return codes are kept, not logged (cb_error is the main thread's). */
typedef struct {
    MPI_Comm comm;
    int peer, n, count;
    uint8_t *buf;
    int rc;             /* the first failing MPI return code, or MPI_SUCCESS */
    const char *call;   /* the call that returned it */
} echo_thread_t;

static void *echo_main(void *arg)
{
    echo_thread_t *e = arg;
    for (int i = 0; i < e->count; i++) {
        int rc = MPI_Recv(e->buf, e->n, MPI_BYTE, e->peer, TAG_DATA, e->comm, MPI_STATUS_IGNORE);
        if (rc == MPI_SUCCESS)
            rc = MPI_Send(e->buf, e->n, MPI_BYTE, e->peer, TAG_ECHO, e->comm);
        if (rc != MPI_SUCCESS) {
            e->rc = rc;
            e->call = "MPI_Recv or MPI_Send in a latency_mt receiving thread";
            break;
        }
    }
    return NULL;
}

/* latency_mt, as osu_latency_mt: the initiator's one thread sends a message
 * and waits for its echo; the peer's m->threads threads each take every
 * T-th message, so that T receives wait on the same source and tag at once
 * and MPI's matching and progress are exercised under MPI_THREAD_MULTIPLE.
 * The initiator times every round trip (half of it, as latency) and, with
 * --validate, checks every echo; --inject-corruption flips a byte of the
 * first message's echo before its check. */
static cb_status_t pingpong_mt(mb_mpi_t *m, const mb_run_t *run, double *samples)
{
    cb_status_t st = CB_OK;
    int n = (int)run->size, nt = m->threads;
    int initiator = m->rank == 0, peer = m->rank == m->n_ranks / 2;
    echo_thread_t *e = NULL;
    pthread_t *tid = NULL;
    int started = 0;
    if (peer) {
        e = calloc((size_t)nt, sizeof *e);
        tid = calloc((size_t)nt, sizeof *tid);
        if (!e || !tid) {
            cb_error("cannot allocate %d latency_mt threads", nt);
            st = CB_ERR_NOMEM;
        }
        for (int k = 0; k < nt && st == CB_OK; k++) {
            e[k] = (echo_thread_t){ m->comm, run->peer, n, run->iters / nt + (k < run->iters % nt), NULL, MPI_SUCCESS, NULL };
            if ((e[k].buf = cb_alloc(run->size > 0 ? run->size : 1, 1, "a latency_mt thread's buffer")) == NULL)
                st = CB_ERR_NOMEM;
        }
        for (int k = 0; k < nt && st == CB_OK; k++, started++)
            if (pthread_create(&tid[k], NULL, echo_main, &e[k]) != 0) {
                cb_error("cannot start latency_mt's receiving thread %d of %d", k + 1, nt);
                st = CB_ERR_NOMEM;
            }
    }
    /* Every thread started (or the peer failed) before the first message. */
    if ((st = cb_agree(st, m->comm)) == CB_OK && initiator)
        st = initiate(m, run, TAG_ECHO, run->corrupt, "latency_mt: echoed message", samples);
    for (int k = 0; k < started; k++) {
        pthread_join(tid[k], NULL);
        if (st == CB_OK && e[k].rc != MPI_SUCCESS)
            st = cb_mpi_check(e[k].rc, e[k].call, __FILE__, __LINE__);
    }
    if (e)
        for (int k = 0; k < nt; k++)
            cb_free(e[k].buf);
    free(e);
    free(tid);
    return st;
}

/* A window of sends from each initiator to its peer, then a zero-byte ack;
 * `both`: the peer sends a window back at the same time (bibw). Pairs other
 * than pair 0 take part only when `all_pairs` (mbw_mr), and then, as in
 * osu_mbw_mr, every window starts after a barrier (not timed), so that the
 * pairs send at the same time instead of drifting apart. */
static cb_status_t windowed(mb_mpi_t *m, const mb_run_t *run, int both, int all_pairs, double *samples)
{
    cb_status_t st = CB_OK, bad = CB_OK;
    int n = (int)run->size, w = run->window;
    int in_pair0 = m->rank == 0 || m->rank == m->n_ranks / 2;
    if (run->peer < 0 || (!all_pairs && !in_pair0))
        return CB_OK;
    int sends = run->initiator || both, recvs = !run->initiator || both;
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        int k = 0;
        if (run->validate && sends)
            mb_pattern_fill(m->sbuf, run->size, seed);
        if (all_pairs && (st = CB_MPI(MPI_Barrier(m->comm))) != CB_OK)
            break;
        double t0 = mb_now();
        if (recvs)
            for (int j = 0; j < w && st == CB_OK; j++)
                st = CB_MPI(MPI_Irecv(m->rbuf + (size_t)(j % run->slots) * run->size, n, MPI_BYTE, run->peer,
                                      TAG_DATA, m->comm, &m->reqs[k++]));
        if (sends)
            for (int j = 0; j < w && st == CB_OK; j++)
                st = CB_MPI(MPI_Isend(m->sbuf, n, MPI_BYTE, run->peer, TAG_DATA, m->comm, &m->reqs[k++]));
        if (st == CB_OK)
            st = CB_MPI(MPI_Waitall(k, m->reqs, MPI_STATUSES_IGNORE));
        if (st == CB_OK && !both) {
            if (run->initiator)
                st = CB_MPI(MPI_Recv(NULL, 0, MPI_BYTE, run->peer, TAG_ACK, m->comm, MPI_STATUS_IGNORE));
            else
                st = CB_MPI(MPI_Send(NULL, 0, MPI_BYTE, run->peer, TAG_ACK, m->comm));
        }
        if (run->initiator)
            samples[i] = mb_now() - t0;
        if (run->validate && recvs && st == CB_OK)
            for (int j = 0; j < run->slots; j++)
                mb_keep_first(&bad, mb_pattern_check(m->rbuf + (size_t)j * run->size, run->size, seed,
                                                     run->corrupt && i == 0 && j == run->slots - 1,
                                                     "bandwidth: received message"));
    }
    return st != CB_OK ? st : bad;
}

static cb_status_t mpi_run(void *inst, const mb_test_t *test, const mb_run_t *run,
                           double *samples, double *msgs_p)
{
    mb_mpi_t *m = inst;
    cb_status_t st;
    size_t w = (size_t)run->window;
    switch (test->op) {
    case MB_OP_PINGPONG:
        if ((st = mb_mpi_reserve(m, run->size, run->size, 0)) != CB_OK)
            return st;
        if ((st = CB_MPI(MPI_Barrier(m->comm))) != CB_OK)
            return st;
        *msgs_p = 1;
        return pingpong(m, run, (test->flags & MB_TEST_ALL) != 0, samples);
    case MB_OP_PINGPONG_MT:
        if ((st = mb_mpi_reserve(m, run->size, run->size, 0)) != CB_OK)
            return st;
        *msgs_p = 1;
        return pingpong_mt(m, run, samples);
    case MB_OP_BW: case MB_OP_BIBW: case MB_OP_MSGRATE: {
        int both = test->op == MB_OP_BIBW, all = test->op == MB_OP_MSGRATE;
        if ((st = mb_mpi_reserve(m, run->size, cb_mul_size(run->size, (size_t)run->slots), 2 * run->window)) != CB_OK)
            return st;
        if ((st = CB_MPI(MPI_Barrier(m->comm))) != CB_OK)
            return st;
        *msgs_p = (double)w * (both ? 2 : 1) * (all ? m->n_ranks / 2 : 1);
        return windowed(m, run, both, all, samples);
    }
    case MB_OP_ALLREDUCE: case MB_OP_BCAST: case MB_OP_ALLGATHER: case MB_OP_ALLTOALL:
    case MB_OP_REDUCE_SCATTER: case MB_OP_BARRIER: case MB_OP_IALLREDUCE:
        return mb_mpi_coll_run(m, test, run, samples, msgs_p);
    case MB_OP_PUT_LAT: case MB_OP_GET_LAT: case MB_OP_PUT_BW: case MB_OP_GET_BW: case MB_OP_ATOMIC_LAT:
        return mb_mpi_rma_run(m, test, run, samples, msgs_p);
    case MB_OP_INIT:
        *msgs_p = 0;
        for (int i = 0; i < run->iters; i++)
            samples[i] = cb_mpi_init_seconds();
        return CB_OK;
    default:
        cb_error("test %s: not an MPI operation", test->name);
        return CB_ERR_INTERNAL;
    }
}

const mb_backend_t mb_backend_mpi = { "mpi", mpi_open, mpi_describe, mpi_run, mpi_close };
