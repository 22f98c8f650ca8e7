/* The sum-allreduce of tensor parallelism: two per layer per token, so the
 * latency of small messages decides decode speed on a cluster. MPI_Allreduce
 * by default; "rd" is recursive doubling over persistent requests on
 * pre-allocated buffers (no per-call setup, no algorithm selection), used for
 * the decode message size and falling back to MPI_Allreduce for others; the
 * rest go straight over UCX through common's collective layer (cb_ucoll):
 * "oneshot", "twoshot", "am" force one of its algorithms, "ucx" lets it pick
 * by size and transport, and "auto" times MPI_Allreduce against it at
 * start-up, for the decode size and for a prompt batch, and keeps the faster
 * of each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "llm.h"

const char *const llm_ar_names[] = { "mpi", "rd", "ucx", "oneshot", "twoshot", "am", "auto", NULL };

/* The collective layer's algorithm behind each UCX choice (-1: not UCX). */
static int ucoll_alg_of(int algo)
{
    switch (algo) {
    case LLM_AR_UCX: case LLM_AR_AUTO: return CB_UCOLL_AUTO;
    case LLM_AR_ONESHOT: return CB_UCOLL_ONESHOT;
    case LLM_AR_TWOSHOT: return CB_UCOLL_TWOSHOT;
    case LLM_AR_AM: return CB_UCOLL_AM;
    default: return -1;
    }
}

struct llm_comm {
    MPI_Comm comm;
    int rank, np;
    int algo;            /* llm_ar_t */
    int count;           /* the decode message (floats) */
    double seconds;      /* time inside allreduce */
    cb_rd_t *rd;         /* rd: recursive doubling for `count` floats */
    cb_ucoll_t *ucoll;   /* NULL unless a UCX algorithm was asked for */
    size_t ucoll_max;    /* floats its buffers hold */
    int use_ucx[2];      /* auto: [0] the decode size, [1] larger messages, go over UCX */
    double clock_off;    /* add to cb_now() for rank 0's clock (estimated at create) */
    double *ev;          /* (2 cap_ev) each allreduce's entry and exit, rank 0's clock; NULL: not kept */
    size_t n_ev, cap_ev;
    int ev_lost;         /* more calls since the reset than could be kept */
    long long calls;     /* allreduces since the reset */
    double bytes;        /* bytes reduced since the reset */
    char desc[640];
};

/* Median over `reps` calls of the slowest rank's time of one allreduce of
 * `count` floats, MPI's (ucx 0) or UCX's. Collective. */
static cb_status_t time_allreduce(llm_comm_t *c, int ucx, int count, double *sec_p)
{
    enum { REPS = 15 };
    float *v = cb_alloc(sizeof(float) * (size_t)count, 1, "allreduce probe");
    double t[REPS], tmax[REPS];
    cb_status_t st = v ? CB_OK : CB_ERR_NOMEM;
    for (int i = 0; i < REPS && st == CB_OK; i++) {
        double t0 = cb_now();
        st = ucx ? cb_ucoll_allreduce(c->ucoll, CB_UCOLL_AUTO, v, (size_t)count)
                 : CB_MPI(MPI_Allreduce(MPI_IN_PLACE, v, count, MPI_FLOAT, MPI_SUM, c->comm));
        t[i] = cb_now() - t0;
    }
    cb_free(v);
    if ((st = cb_agree(st, c->comm)) != CB_OK)
        return st;
    if ((st = cb_agree(CB_MPI(MPI_Allreduce(t, tmax, REPS, MPI_DOUBLE, MPI_MAX, c->comm)), c->comm)) != CB_OK)
        return st;
    for (int i = 1; i < REPS; i++) /* insertion sort: 15 values */
        for (int j = i; j > 0 && tmax[j] < tmax[j - 1]; j--) {
            double x = tmax[j];
            tmax[j] = tmax[j - 1];
            tmax[j - 1] = x;
        }
    *sec_p = tmax[REPS / 2];
    return CB_OK;
}

/* The offset of this rank's clock from rank 0's: rank 0 ping-pongs with
 * each rank and keeps the round trip of least time (its midpoint against
 * the peer's reading). Exactly zero for the ranks that share rank 0's
 * kernel (its boot id: the hosts of an emulated cluster included), where
 * CLOCK_MONOTONIC is the same clock: there the midpoint's estimate is off
 * by the round trip's asymmetry (tens of us through the emulated links'
 * relay), which biased xfer. Collective. */
static cb_status_t clock_sync(llm_comm_t *c)
{
    enum { PINGS = 8, TAG = 0x11b, BOOT = 48 };
    char mine[BOOT] = "", root[BOOT] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f || !fgets(mine, sizeof mine, f)) /* unknown: a machine of its own */
        snprintf(mine, sizeof mine, "rank %d", c->rank);
    if (f)
        fclose(f);
    memcpy(root, mine, sizeof root);
    cb_status_t st = cb_agree(CB_MPI(MPI_Bcast(root, BOOT, MPI_CHAR, 0, c->comm)), c->comm);
    if (st != CB_OK)
        return st;
    int same = strncmp(mine, root, BOOT) == 0, *all_same = calloc((size_t)c->np, sizeof *all_same);
    if ((st = cb_agree(all_same ? CB_OK : CB_ERR_NOMEM, c->comm)) != CB_OK) {
        free(all_same);
        return st;
    }
    st = cb_agree(CB_MPI(MPI_Allgather(&same, 1, MPI_INT, all_same, 1, MPI_INT, c->comm)), c->comm);
    for (int r = 1; r < c->np && st == CB_OK; r++) {
        if (all_same[r]) {
            if (c->rank == r)
                c->clock_off = 0;
            continue;
        }
        if (c->rank == 0) {
            double best = 1e30, off = 0;
            for (int i = 0; i < PINGS && st == CB_OK; i++) {
                double t0 = cb_now(), tr = 0;
                st = CB_MPI(MPI_Send(&t0, 1, MPI_DOUBLE, r, TAG, c->comm));
                if (st == CB_OK)
                    st = CB_MPI(MPI_Recv(&tr, 1, MPI_DOUBLE, r, TAG, c->comm, MPI_STATUS_IGNORE));
                double t1 = cb_now();
                if (t1 - t0 < best) {
                    best = t1 - t0;
                    off = 0.5 * (t0 + t1) - tr;
                }
            }
            if (st == CB_OK)
                st = CB_MPI(MPI_Send(&off, 1, MPI_DOUBLE, r, TAG, c->comm));
        } else if (c->rank == r) {
            for (int i = 0; i < PINGS && st == CB_OK; i++) {
                double t0 = 0, tr;
                st = CB_MPI(MPI_Recv(&t0, 1, MPI_DOUBLE, 0, TAG, c->comm, MPI_STATUS_IGNORE));
                tr = cb_now();
                if (st == CB_OK)
                    st = CB_MPI(MPI_Send(&tr, 1, MPI_DOUBLE, 0, TAG, c->comm));
            }
            if (st == CB_OK)
                st = CB_MPI(MPI_Recv(&c->clock_off, 1, MPI_DOUBLE, 0, TAG, c->comm, MPI_STATUS_IGNORE));
        }
    }
    free(all_same);
    return cb_agree(st, c->comm);
}

/* Open the UCX layer for up to `max_count` floats (again, larger, when a
 * bigger message comes). Collective; agrees. */
static cb_status_t ucx_open(llm_comm_t *c, size_t max_count)
{
    cb_ucoll_free(c->ucoll);
    c->ucoll = NULL;
    cb_status_t st = cb_ucoll_create(c->comm, NULL, max_count, &c->ucoll);
    c->ucoll_max = st == CB_OK ? max_count : 0;
    return st;
}

cb_status_t llm_comm_create(MPI_Comm comm, int algo, int small_count, int large_count, llm_comm_t **comm_p)
{
    cb_status_t st;
    llm_comm_t *c = cb_alloc(sizeof *c, 1, "communicator");
    if (!c)
        return CB_ERR_NOMEM;
    c->comm = comm;
    c->algo = algo;
    c->count = small_count;
    MPI_Comm_rank(comm, &c->rank);
    MPI_Comm_size(comm, &c->np);
    if (c->np > 1 && (st = clock_sync(c)) != CB_OK)
        goto fail;
    if (algo == LLM_AR_RD && c->np > 1 && (st = cb_agree(cb_rd_create(comm, small_count, &c->rd), comm)) != CB_OK)
        goto fail;
    snprintf(c->desc, sizeof c->desc, "%s", llm_ar_names[algo]);
    if (ucoll_alg_of(algo) >= 0 && c->np > 1) {
        size_t max = (size_t)(large_count > small_count ? large_count : small_count);
        if ((st = ucx_open(c, max)) != CB_OK)
            goto fail;
        snprintf(c->desc, sizeof c->desc, "%s over UCX (%s)", llm_ar_names[algo], cb_ucoll_describe(c->ucoll));
        c->use_ucx[0] = c->use_ucx[1] = 1;
        if (algo == LLM_AR_AUTO) {
            double mpi[2] = { 0, 0 }, ucx[2] = { 0, 0 };
            int sizes[2] = { small_count, large_count > small_count ? large_count : 0 };
            for (int k = 0; k < 2; k++) {
                if (sizes[k] == 0) {
                    c->use_ucx[k] = c->use_ucx[0];
                    continue;
                }
                /* Twice each, alternating: the first pass warms both up. */
                for (int pass = 0; pass < 2; pass++)
                    if ((st = time_allreduce(c, 0, sizes[k], &mpi[k])) != CB_OK ||
                        (st = time_allreduce(c, 1, sizes[k], &ucx[k])) != CB_OK)
                        goto fail;
                c->use_ucx[k] = ucx[k] < mpi[k];
            }
            snprintf(c->desc, sizeof c->desc,
                     "auto: %d floats over %s (UCX %s %.1f us, MPI_Allreduce %.1f us), larger over %s (UCX %.1f us, MPI %.1f us at %d floats); UCX: %s",
                     small_count, c->use_ucx[0] ? "UCX" : "MPI", cb_ucoll_alg_names[cb_ucoll_pick(c->ucoll, CB_UCOLL_AUTO, (size_t)small_count)],
                     ucx[0] * 1e6, mpi[0] * 1e6, c->use_ucx[1] ? "UCX" : "MPI", ucx[1] * 1e6, mpi[1] * 1e6, sizes[1],
                     cb_ucoll_describe(c->ucoll));
        }
    }
    cb_info("allreduce: %s", c->desc); /* -v: what auto chose, for scripts/bench-allreduce */
    *comm_p = c;
    return CB_OK;
fail:
    llm_comm_free(c);
    return st;
}

/* Keep an allreduce's entry and exit for llm_comm_xfer_seconds. Local. */
static void keep_event(llm_comm_t *c, double t0, double t1)
{
    enum { MAX_EV = 1 << 22 };
    if (c->n_ev == c->cap_ev) {
        size_t cap = c->cap_ev ? 2 * c->cap_ev : 4096;
        double *e = cap <= MAX_EV ? realloc(c->ev, 2 * cap * sizeof *e) : NULL;
        if (!e) {
            c->ev_lost = 1;
            return;
        }
        c->ev = e;
        c->cap_ev = cap;
    }
    c->ev[2 * c->n_ev] = t0 + c->clock_off;
    c->ev[2 * c->n_ev + 1] = t1 + c->clock_off;
    c->n_ev++;
}

cb_status_t llm_comm_xfer_seconds(llm_comm_t *c, double *sec_p)
{
    /* Every rank made the same allreduces: the counts agree unless one lost some. */
    long long mine[2] = { (long long)c->n_ev, c->ev_lost }, lo[2], hi[2];
    cb_status_t st = CB_MPI(MPI_Allreduce(mine, lo, 2, MPI_LONG_LONG, MPI_MIN, c->comm));
    if (st == CB_OK)
        st = CB_MPI(MPI_Allreduce(mine, hi, 2, MPI_LONG_LONG, MPI_MAX, c->comm));
    if (st != CB_OK)
        return st;
    if (c->np == 1 || hi[1] || lo[0] != hi[0] || lo[0] == 0) {
        *sec_p = c->np == 1 || lo[0] == 0 ? 0 : -1;
        return CB_OK;
    }
    size_t n = (size_t)lo[0];
    double *last = malloc(n * sizeof *last);
    st = last ? CB_OK : CB_ERR_NOMEM;
    if (!last)
        cb_error("cannot allocate %zu arrival times", n);
    if ((st = cb_agree(st, c->comm)) != CB_OK) {
        free(last);
        return st;
    }
    for (size_t i = 0; i < n; i++)
        last[i] = c->ev[2 * i];
    /* The last rank's arrival at each call, then from it to our exit. */
    double sum = 0;
    if ((st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, last, (int)n, MPI_DOUBLE, MPI_MAX, c->comm))) == CB_OK) {
        for (size_t i = 0; i < n; i++)
            sum += c->ev[2 * i + 1] > last[i] ? c->ev[2 * i + 1] - last[i] : 0;
        st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, c->comm));
    }
    free(last);
    if (st == CB_OK)
        *sec_p = sum / c->np;
    return st;
}

cb_status_t llm_comm_allreduce(llm_comm_t *c, float *buf, int count)
{
    if (c->np == 1)
        return CB_OK;
    double t0 = cb_now();
    cb_status_t st;
    int ucx = ucoll_alg_of(c->algo);
    if (ucx >= 0 && c->algo == LLM_AR_AUTO)
        ucx = c->use_ucx[count > c->count] ? ucx : -1;
    if (ucx >= 0 && (size_t)count > c->ucoll_max && (st = ucx_open(c, (size_t)count)) != CB_OK)
        return st; /* collective: every rank sees the same count */
    c->calls++;
    c->bytes += sizeof(float) * (double)count;
    if (ucx >= 0)
        st = cb_ucoll_allreduce(c->ucoll, ucx, buf, (size_t)count);
    else if (c->rd && count == c->count)
        st = cb_rd_allreduce(c->rd, buf);
    else
        st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, c->comm));
    double t1 = cb_now();
    c->seconds += t1 - t0;
    keep_event(c, t0, t1);
    return st;
}

/* The layer split's messages: one tag, in order per pair (MPI keeps order). */
enum { PIPE_TAG = 0x11a };

cb_status_t llm_comm_wait_idle(MPI_Request *req)
{
    for (int polls = 0;; polls++) {
        int done = 0;
        cb_status_t st = CB_MPI(MPI_Test(req, &done, MPI_STATUS_IGNORE));
        if (st != CB_OK || done)
            return st;
        if (polls >= 64) {
            struct timespec ts = { 0, 20000 }; /* 20 us */
            nanosleep(&ts, NULL);
        }
    }
}

cb_status_t llm_comm_send(llm_comm_t *c, const float *buf, int count, int dest)
{
    double t0 = cb_now();
    cb_status_t st = CB_MPI(MPI_Send(buf, count, MPI_FLOAT, dest, PIPE_TAG, c->comm));
    c->calls++;
    c->bytes += sizeof(float) * (double)count;
    c->seconds += cb_now() - t0;
    return st;
}

cb_status_t llm_comm_recv(llm_comm_t *c, float *buf, int count, int src)
{
    double t0 = cb_now();
    MPI_Request req;
    cb_status_t st = CB_MPI(MPI_Irecv(buf, count, MPI_FLOAT, src, PIPE_TAG, c->comm, &req));
    if (st == CB_OK)
        st = llm_comm_wait_idle(&req);
    c->calls++;
    c->bytes += sizeof(float) * (double)count;
    c->seconds += cb_now() - t0;
    return st;
}

double llm_comm_seconds(const llm_comm_t *c) { return c->seconds; }
void llm_comm_reset_time(llm_comm_t *c) { c->seconds = 0; c->calls = 0; c->bytes = 0; c->n_ev = 0; c->ev_lost = 0; }
long long llm_comm_calls(const llm_comm_t *c) { return c->calls; }
double llm_comm_bytes(const llm_comm_t *c) { return c->bytes; }
const char *llm_comm_describe(const llm_comm_t *c) { return c->desc; }
MPI_Comm llm_comm_mpi(const llm_comm_t *c) { return c->comm; }

void llm_comm_free(llm_comm_t *c)
{
    if (!c)
        return;
    cb_ucoll_free(c->ucoll);
    cb_rd_free(c->rd);
    free(c->ev);
    cb_free(c);
}
