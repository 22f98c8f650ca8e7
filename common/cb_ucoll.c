/* The UCX collective layer: set-up (context, worker, endpoints to every peer,
 * one registered region with every receive buffer, keys exchanged once) and
 * the float32 sum-allreduce algorithms over it. Data moves by one primitive,
 * "deliver a block into a peer's slot and raise its flag", done by puts (a
 * put of the data, a fence, a put of the flag) or by active messages (the
 * handler copies the data and raises the flag), so each algorithm is written
 * once for both. Flags carry the call's sequence number and slots are
 * double-buffered by its parity: a rank reaches call k+2 only after every
 * peer has sent it something of call k+1, i.e. after every peer has finished
 * reading call k's slots. */
#define _GNU_SOURCE 1 /* sched_getaffinity, CPU_COUNT */
#include "cb_ucoll.h"

#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucp/api/ucp.h>
#include "cb_fsum.h"
#include "cb_mem.h"
#include "cb_mpi.h"

const char *const cb_ucoll_alg_names[] = { "oneshot", "twoshot", "am", "am-twoshot", "pull", "auto", NULL };

#define UCOLL_AM_ID 21
#define UCOLL_CLASSES 40 /* auto's size classes: up to 2^k floats */
/* Floats per chunk of oneshot by stores, a flag each. Timed at np=2 here
 * (two processes, 16 KiB, no UCX): chunks of 512 floats 4.9-5.5 us, 1024
 * 4.2-4.3, the whole vector in one 4.0-4.2: a chunk's flag costs more than
 * its overlap gains at decode sizes, so 16 KiB goes in one. */
#define UCOLL_CHUNK 4096
#define UCOLL_LINE 64 /* a flag per cache line: writers of different flags never share one */

/* The receive regions: slots[parity][src] of a region's slot size. */
enum { REG_ONE = 0, /* oneshot: every source's whole vector */
       REG_RS,      /* twoshot reduce-scatter: every source's copy of my chunk */
       REG_AG,      /* twoshot allgather: one vector per parity, each source's chunk at its offset */
       REG_COUNT };

typedef struct {
    uint64_t region, parity, src, offset, bytes, seq;
} am_header_t;

struct cb_ucoll {
    MPI_Comm comm;
    int rank, np;
    size_t max_count;
    ucp_context_h context;
    ucp_worker_h worker;
    ucp_ep_h *eps;            /* (np) endpoint to each peer, NULL for self */
    ucp_mem_h mem;            /* the registered region */
    uint8_t *base;            /* its address here */
    size_t flags_bytes;       /* flags at the start: [REG_COUNT][2][np] lines */
    size_t cflags_off;        /* oneshot by stores' chunk flags: [2][np][max_chunks] lines */
    size_t max_chunks;
    size_t reg_off[REG_COUNT];   /* offset of each region */
    size_t slot_bytes[REG_COUNT];/* bytes per slot */
    int per_src[REG_COUNT];      /* 1: a slot per source, 0: one shared slot */
    uint64_t *remote_base;    /* (np) each peer's region address */
    ucp_rkey_h *rkeys;        /* (np) each peer's key */
    int rma_native;           /* agreed: every endpoint puts natively */
    uint8_t **mapped;         /* (np) each peer's region mapped here (ucp_rkey_ptr), or NULL */
    int all_mapped;           /* agreed: every rank maps every peer */
    uint64_t seq;             /* calls so far */
    uint64_t flag_value;      /* source of flag puts: valid until they complete */
    am_header_t *headers;     /* (REG_COUNT, np) headers of messages in flight */
    void **reqs;              /* requests in flight */
    int n_reqs, cap_reqs;
    int am_bad;               /* the handler saw a malformed message */
    double spin_s;            /* a wait for the network spins this long, then blocks (CB_UCOLL_SPIN_US) */
    double spin_mem_s;        /* a wait for a peer's stores spins this long, then sleeps (CB_UCOLL_SPIN_US) */
    int oversub;              /* agreed: some host runs more of these ranks than it has cores */
    int efd;                  /* the worker's wake-up descriptor, or -1 (CB_UCOLL_WAKEUP=0) */
    int copy_nt;              /* stores into mapped peers bypass the caches (CB_UCOLL_NT) */
    int best[UCOLL_CLASSES];  /* auto: the calibrated algorithm per size class (2^k floats), or -1 */
    int prefetch;             /* pull: prefetch the peers' slots before summing (CB_UCOLL_PREFETCH) */
    char desc[512];
};

/* ================================================================ helpers */

static volatile uint64_t *flag_at(cb_ucoll_t *c, int region, int parity, int src)
{
    return (volatile uint64_t *)(c->base + ((size_t)(region * 2 + parity) * (size_t)c->np + (size_t)src) * UCOLL_LINE);
}

static size_t flag_off(const cb_ucoll_t *c, int region, int parity, int src)
{
    return ((size_t)(region * 2 + parity) * (size_t)c->np + (size_t)src) * UCOLL_LINE;
}

/* Offset of slot (region, parity, src) from the region's base. */
static size_t slot_off(const cb_ucoll_t *c, int region, int parity, int src)
{
    size_t idx = c->per_src[region] ? (size_t)parity * (size_t)c->np + (size_t)src : (size_t)parity;
    return c->reg_off[region] + idx * c->slot_bytes[region];
}

static cb_status_t ucs_fail(const char *what, ucs_status_t s)
{
    cb_error("ucx collectives: %s: %s", what, ucs_status_string(s));
    return CB_ERR_UCX;
}

/* Keep a request to wait for; NULL is done already. Local. */
static cb_status_t track(cb_ucoll_t *c, void *req, const char *what)
{
    if (req == NULL)
        return CB_OK;
    if (UCS_PTR_IS_ERR(req))
        return ucs_fail(what, UCS_PTR_STATUS(req));
    if (c->n_reqs == c->cap_reqs) {
        int cap = c->cap_reqs ? 2 * c->cap_reqs : 16;
        void **r = realloc(c->reqs, (size_t)cap * sizeof *r);
        if (!r) {
            cb_error("cannot allocate %d request slots", cap);
            return CB_ERR_NOMEM;
        }
        c->reqs = r;
        c->cap_reqs = cap;
    }
    c->reqs[c->n_reqs++] = req;
    return CB_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A wait's back-off between polls: spin for the spin period (yielding now
 * and then, so that an oversubscribed host runs the rank we wait for), then
 * leave the core to ranks that compute: block on the worker's wake-up
 * descriptor where what we wait for comes through the worker (`via_worker`;
 * tcp wakes us as data arrives), otherwise sleep 10 us a poll. 1 if it left
 * the core. */
typedef struct {
    unsigned polls;
    double t0;
} waiter_t;

static int waiter_idle(const cb_ucoll_t *c, waiter_t *w, int via_worker)
{
    double spin = via_worker ? c->spin_s : c->spin_mem_s;
    ++w->polls;
    if (spin > 0) { /* no spin period: leave the core at the first idle poll */
        if ((w->polls & 255) != 0) {
            /* Every 64th poll of an oversubscribed host yields to the rank we wait for. */
            if (c->oversub && (w->polls & 63) == 0)
                sched_yield();
            else
                __builtin_ia32_pause();
            return 0;
        }
        double t = now_s();
        if (w->polls == 256)
            w->t0 = t;
        if (t - w->t0 < spin)
            return 0;
    }
    if (via_worker && c->efd >= 0) {
        /* Armed: no event is pending, the descriptor fires on the next one
         * (the timeout only bounds a missed one). */
        if (ucp_worker_arm(c->worker) == UCS_OK) {
            struct pollfd pfd = { .fd = c->efd, .events = POLLIN };
            poll(&pfd, 1, 2);
        }
        return 1;
    }
    struct timespec ts = { 0, 10000 };
    nanosleep(&ts, NULL);
    return 1;
}

/* Progress until every tracked request is complete. Local. */
static cb_status_t wait_all(cb_ucoll_t *c)
{
    cb_status_t st = CB_OK;
    for (int i = 0; i < c->n_reqs; i++) {
        ucs_status_t s;
        waiter_t w = { 0, 0 };
        while ((s = ucp_request_check_status(c->reqs[i])) == UCS_INPROGRESS)
            if (ucp_worker_progress(c->worker) == 0)
                waiter_idle(c, &w, 1);
        ucp_request_free(c->reqs[i]);
        if (s != UCS_OK && st == CB_OK)
            st = ucs_fail("an operation failed", s);
    }
    c->n_reqs = 0;
    return st;
}

/* Progress until the flag at `f` holds `seq`. Local. `progress` 0: the flag
 * is raised by a peer's stores, the worker is progressed only now and then. */
static cb_status_t wait_value(cb_ucoll_t *c, const volatile uint64_t *f, uint64_t seq, int progress)
{
    waiter_t w = { 0, 0 };
    int slept = 0;
    while (__atomic_load_n(f, __ATOMIC_ACQUIRE) != seq) {
        /* After a sleep the worker is progressed at once: what we wait for
         * may come through it (active messages to a mapped peer). */
        if ((progress || slept || (w.polls & 63) == 63) && ucp_worker_progress(c->worker) != 0)
            continue;
        if (c->am_bad) {
            cb_error("ucx collectives: a malformed active message arrived");
            return CB_ERR_UCX;
        }
        slept = waiter_idle(c, &w, progress);
    }
    return CB_OK; /* the acquire load orders the data after the flag */
}

/* Flag (region, parity, src) of this rank's region. */
static cb_status_t wait_flag(cb_ucoll_t *c, int region, int parity, int src, uint64_t seq)
{
    return wait_value(c, flag_at(c, region, parity, src), seq, c->mapped[src] == NULL);
}

/* ================================================================ delivery */

/* Start moving `bytes` from `src` into peer `dst`'s slot (region, parity,
 * this rank) at `offset`; with active messages the message raises the flag
 * itself. Local. */
static cb_status_t deliver(cb_ucoll_t *c, int am, int region, int parity, int dst, size_t offset,
                           const void *src, size_t bytes)
{
    ucp_request_param_t p = { 0 };
    if (am) {
        am_header_t *h = &c->headers[(size_t)region * (size_t)c->np + (size_t)dst];
        *h = (am_header_t){ (uint64_t)region, (uint64_t)parity, (uint64_t)c->rank, offset, bytes, c->seq + 1 };
        p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
        p.flags = UCP_AM_SEND_FLAG_EAGER;
        return track(c, ucp_am_send_nbx(c->eps[dst], UCOLL_AM_ID, h, sizeof *h, src, bytes, &p), "active message");
    }
    if (bytes == 0)
        return CB_OK;
    if (c->mapped[dst]) { /* shared memory: store straight into the peer's slot */
        void *to = c->mapped[dst] + slot_off(c, region, parity, c->rank) + offset;
        if (c->copy_nt)
            cb_fcopy_nt(to, src, bytes / sizeof(float));
        else
            memcpy(to, src, bytes);
        return CB_OK;
    }
    uint64_t raddr = c->remote_base[dst] + slot_off(c, region, parity, c->rank) + offset;
    return track(c, ucp_put_nbx(c->eps[dst], src, bytes, raddr, c->rkeys[dst], &p), "put");
}

/* After deliver() to every peer in `peers` (NULL: all): with puts, a fence
 * and then the flags. Local. */
static cb_status_t deliver_flags(cb_ucoll_t *c, int am, int region, int parity)
{
    if (am)
        return CB_OK;
    int puts = 0;
    for (int d = 0; d < c->np; d++)
        puts += d != c->rank && c->mapped[d] == NULL;
    /* Stores (streaming ones included) are visible before the flags. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (int d = 0; d < c->np; d++)
        if (d != c->rank && c->mapped[d])
            __atomic_store_n((uint64_t *)(c->mapped[d] + flag_off(c, region, parity, c->rank)), c->seq + 1, __ATOMIC_RELEASE);
    if (!puts)
        return CB_OK;
    ucs_status_t s = ucp_worker_fence(c->worker);
    if (s != UCS_OK)
        return ucs_fail("fence", s);
    c->flag_value = c->seq + 1;
    ucp_request_param_t p = { 0 };
    for (int d = 0; d < c->np; d++) {
        if (d == c->rank || c->mapped[d])
            continue;
        uint64_t raddr = c->remote_base[d] + flag_off(c, region, parity, c->rank);
        cb_status_t st = track(c, ucp_put_nbx(c->eps[d], &c->flag_value, sizeof c->flag_value, raddr, c->rkeys[d], &p), "flag put");
        if (st != CB_OK)
            return st;
    }
    return CB_OK;
}

static ucs_status_t am_arrived(void *arg, const void *header, size_t header_length, void *data,
                               size_t length, const ucp_am_recv_param_t *param)
{
    cb_ucoll_t *c = arg;
    am_header_t h;
    if (header_length != sizeof h || (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV)) {
        c->am_bad = 1; /* only eager messages are sent */
        return UCS_OK;
    }
    memcpy(&h, header, sizeof h);
    if (h.region >= REG_COUNT || h.parity > 1 || h.src >= (uint64_t)c->np || h.bytes != length ||
        h.offset > c->slot_bytes[h.region] || length > c->slot_bytes[h.region] - h.offset) {
        c->am_bad = 1;
        return UCS_OK;
    }
    memcpy(c->base + slot_off(c, (int)h.region, (int)h.parity, (int)h.src) + h.offset, data, length);
    *flag_at(c, (int)h.region, (int)h.parity, (int)h.src) = h.seq;
    return UCS_OK;
}

/* ================================================================ algorithms */

/* The bounds of chunk r of n elements split over np ranks. */
static void chunk_of(size_t n, int np, int r, size_t *off_p, size_t *len_p)
{
    size_t base = n / (size_t)np, rem = n % (size_t)np, rr = (size_t)r;
    *off_p = rr * base + (rr < rem ? rr : rem);
    *len_p = base + (rr < rem ? 1 : 0);
}

static size_t cflag_off(const cb_ucoll_t *c, int parity, int src, size_t chunk)
{
    return c->cflags_off + (((size_t)parity * (size_t)c->np + (size_t)src) * c->max_chunks + chunk) * UCOLL_LINE;
}

/* oneshot by stores, every peer mapped (shared memory): np-1 copies of n
 * floats straight into the peers' slots, in chunks of UCOLL_CHUNK with a
 * flag each, 1 step, no messages. Chunk i-1 is summed while chunk i's
 * stores drain, so that reading the peers' data overlaps writing ours. An
 * empty vector still raises chunk 0's flag: every call synchronises, which
 * the double buffering needs. */
static cb_status_t oneshot_stores(cb_ucoll_t *c, float *buf, size_t n)
{
    const int par = (int)(c->seq & 1), me = c->rank, np = c->np;
    const uint64_t want = c->seq + 1;
    const size_t nch = n ? (n + UCOLL_CHUNK - 1) / UCOLL_CHUNK : 1;
    const float *src[np];
    for (size_t i = 0; i <= nch; i++) {
        if (i < nch) {
            size_t off = i * UCOLL_CHUNK, len = n - off < UCOLL_CHUNK ? n - off : UCOLL_CHUNK;
            for (int k = 1; k < np; k++) {
                int d = (me + k) % np;
                float *to = (float *)(c->mapped[d] + slot_off(c, REG_ONE, par, me)) + off;
                if (c->copy_nt)
                    cb_fcopy_nt(to, buf + off, len);
                else
                    memcpy(to, buf + off, len * sizeof(float));
            }
            if (c->copy_nt)
                __atomic_thread_fence(__ATOMIC_SEQ_CST); /* streaming stores before the flags */
            for (int k = 1; k < np; k++) {
                int d = (me + k) % np;
                __atomic_store_n((uint64_t *)(c->mapped[d] + cflag_off(c, par, me, i)), want, __ATOMIC_RELEASE);
            }
        }
        if (i == 0)
            continue;
        size_t off = (i - 1) * UCOLL_CHUNK, len = n - off < UCOLL_CHUNK ? n - off : UCOLL_CHUNK;
        for (int k = 0; k < np; k++) {
            if (k == me) {
                src[k] = buf + off;
                continue;
            }
            src[k] = (const float *)(c->base + slot_off(c, REG_ONE, par, k)) + off;
            cb_status_t st = wait_value(c, (const volatile uint64_t *)(c->base + cflag_off(c, par, k, i - 1)), want, 0);
            if (st != CB_OK)
                return st;
        }
        if (n)
            cb_fsum(buf + off, src, np, len);
    }
    return CB_OK;
}

/* oneshot: np-1 deliveries of n floats (puts + a flag, or messages), 1 step;
 * every rank sums all vectors in rank order. */
static cb_status_t oneshot(cb_ucoll_t *c, int am, float *buf, size_t n)
{
    if (!am && c->all_mapped)
        return oneshot_stores(c, buf, n);
    const int par = (int)(c->seq & 1), me = c->rank, np = c->np;
    const float *src[np];
    cb_status_t st = CB_OK;
    for (int k = 1; k < np && st == CB_OK; k++) {
        int d = (me + k) % np; /* start at different peers: spread the load */
        st = deliver(c, am, REG_ONE, par, d, 0, buf, n * sizeof(float));
    }
    if (st == CB_OK)
        st = deliver_flags(c, am, REG_ONE, par);
    for (int s = 0; s < np && st == CB_OK; s++) {
        src[s] = s == me ? buf : (const float *)(c->base + slot_off(c, REG_ONE, par, s));
        if (s != me)
            st = wait_flag(c, REG_ONE, par, s, c->seq + 1);
    }
    /* Our puts read buf: they must be done before it is overwritten. */
    cb_status_t w = wait_all(c);
    if (st == CB_OK && (st = w) == CB_OK)
        cb_fsum(buf, src, np, n);
    return st;
}

/* pull: a local copy of n floats into this rank's own slot and a local
 * flag, then every rank sums the np slots in rank order, loading them from
 * the peers' mapped regions: no messages, 1 step. A slot is rewritten two
 * calls later, after every peer has raised its flag of the call between,
 * i.e. after every peer has finished reading it. */
static cb_status_t pull(cb_ucoll_t *c, float *buf, size_t n)
{
    const int par = (int)(c->seq & 1), me = c->rank, np = c->np;
    const uint64_t want = c->seq + 1;
    const float *src[np];
    memcpy(c->base + slot_off(c, REG_ONE, par, me), buf, n * sizeof(float));
    __atomic_store_n((uint64_t *)flag_at(c, REG_ONE, par, me), want, __ATOMIC_RELEASE);
    for (int s = 0; s < np; s++) {
        if (s == me) {
            src[s] = buf; /* the same bits as our slot, already in this core's cache */
            continue;
        }
        uint8_t *base = c->mapped[s];
        src[s] = (const float *)(base + slot_off(c, REG_ONE, par, s));
        cb_status_t st = wait_value(c, (const volatile uint64_t *)(base + flag_off(c, REG_ONE, par, s)), want, 0);
        if (st != CB_OK)
            return st;
    }
    if (c->prefetch)
        for (int s = 0; s < np; s++)
            if (s != me)
                for (size_t j = 0; j < n; j += UCOLL_LINE / sizeof(float))
                    __builtin_prefetch(src[s] + j);
    cb_fsum(buf, src, np, n);
    return CB_OK;
}

/* twoshot: reduce-scatter (np-1 deliveries of n/np floats, rank r sums chunk r
 * in rank order) then allgather (np-1 deliveries of the summed chunk), 2 steps. */
static cb_status_t twoshot(cb_ucoll_t *c, int am, float *buf, size_t n)
{
    const int par = (int)(c->seq & 1), me = c->rank, np = c->np;
    const float *src[np];
    size_t off, len;
    cb_status_t st = CB_OK;
    for (int k = 1; k < np && st == CB_OK; k++) {
        int d = (me + k) % np;
        chunk_of(n, np, d, &off, &len);
        st = deliver(c, am, REG_RS, par, d, 0, buf + off, len * sizeof(float));
    }
    if (st == CB_OK)
        st = deliver_flags(c, am, REG_RS, par);
    chunk_of(n, np, me, &off, &len);
    for (int s = 0; s < np && st == CB_OK; s++) {
        src[s] = s == me ? buf + off : (const float *)(c->base + slot_off(c, REG_RS, par, s));
        if (s != me)
            st = wait_flag(c, REG_RS, par, s, c->seq + 1);
    }
    float *ag = (float *)(c->base + slot_off(c, REG_AG, par, 0));
    if (st == CB_OK)
        cb_fsum(ag + off, src, np, len);
    for (int k = 1; k < np && st == CB_OK; k++) {
        int d = (me + k) % np;
        st = deliver(c, am, REG_AG, par, d, off * sizeof(float), ag + off, len * sizeof(float));
    }
    if (st == CB_OK)
        st = deliver_flags(c, am, REG_AG, par);
    for (int s = 0; s < np && st == CB_OK; s++)
        if (s != me)
            st = wait_flag(c, REG_AG, par, s, c->seq + 1);
    cb_status_t w = wait_all(c);
    if (st == CB_OK && (st = w) == CB_OK)
        memcpy(buf, ag, n * sizeof(float));
    return st;
}

/* auto's class of `count` floats: the k of the least 2^k >= count. */
static int size_class(size_t count)
{
    int k = 0;
    while (k < UCOLL_CLASSES - 1 && ((size_t)1 << k) < count)
        k++;
    return k;
}

int cb_ucoll_pick(const cb_ucoll_t *c, int alg, size_t count)
{
    if (alg == CB_UCOLL_PULL)
        return c->all_mapped ? CB_UCOLL_PULL : CB_UCOLL_ONESHOT;
    if (alg != CB_UCOLL_AUTO)
        return alg;
    int b = c->best[size_class(count)];
    if (b >= 0)
        return b;
    int one = count * sizeof(float) <= CB_UCOLL_ONESHOT_MAX_BYTES;
    if (c->rma_native)
        return one ? CB_UCOLL_ONESHOT : CB_UCOLL_TWOSHOT;
    return one ? CB_UCOLL_AM : CB_UCOLL_AM_TWOSHOT;
}

cb_status_t cb_ucoll_allreduce(cb_ucoll_t *c, int alg, float *buf, size_t count)
{
    if (count > c->max_count) {
        cb_error("ucx collectives: %zu floats, more than the %zu registered", count, c->max_count);
        return CB_ERR_INTERNAL;
    }
    if (c->np == 1)
        return CB_OK;
    cb_status_t st;
    switch (cb_ucoll_pick(c, alg, count)) {
    case CB_UCOLL_ONESHOT: st = oneshot(c, 0, buf, count); break;
    case CB_UCOLL_TWOSHOT: st = twoshot(c, 0, buf, count); break;
    case CB_UCOLL_AM: st = oneshot(c, 1, buf, count); break;
    case CB_UCOLL_AM_TWOSHOT: st = twoshot(c, 1, buf, count); break;
    case CB_UCOLL_PULL: st = pull(c, buf, count); break;
    default:
        cb_error("ucx collectives: unknown algorithm %d", alg);
        return CB_ERR_INTERNAL;
    }
    c->seq++;
    return st;
}

int cb_ucoll_rma_native(const cb_ucoll_t *c) { return c->rma_native; }
int cb_ucoll_mapped(const cb_ucoll_t *c) { return c->all_mapped; }
const char *cb_ucoll_describe(const cb_ucoll_t *c) { return c->desc; }
size_t cb_ucoll_max_count(const cb_ucoll_t *c) { return c->max_count; }

/* ================================================================ set-up */

/* Every rank's blob of bytes to every rank: *all_p (malloc'd) holds them
 * back to back, (*offs_p)[r] where rank r's starts. Collective. */
static cb_status_t allgather_blob(MPI_Comm comm, int np, const void *mine, size_t len,
                                  uint8_t **all_p, int **offs_p)
{
    if (len > (1u << 24)) {
        cb_error("ucx collectives: a %zu-byte address or key", len);
        return CB_ERR_UCX;
    }
    int l = (int)len, *lens = calloc((size_t)np, sizeof(int)), *offs = calloc((size_t)np + 1, sizeof(int));
    uint8_t *all = NULL;
    cb_status_t st = (lens && offs) ? CB_OK : CB_ERR_NOMEM;
    if (st == CB_OK)
        st = CB_MPI(MPI_Allgather(&l, 1, MPI_INT, lens, 1, MPI_INT, comm));
    if (st == CB_OK) {
        for (int r = 0; r < np; r++)
            offs[r + 1] = offs[r] + lens[r];
        if ((all = malloc((size_t)offs[np] + 1)) == NULL)
            st = CB_ERR_NOMEM;
    }
    if (st == CB_OK)
        st = CB_MPI(MPI_Allgatherv(mine, l, MPI_BYTE, all, lens, offs, MPI_BYTE, comm));
    if (st == CB_ERR_NOMEM)
        cb_error("cannot allocate the exchange of UCX addresses");
    free(lens);
    if (st != CB_OK) {
        free(all);
        free(offs);
        return st;
    }
    *all_p = all;
    *offs_p = offs;
    return CB_OK;
}

/* Whether `ep` puts natively, and its transports, from what UCX prints of
 * its configuration: lanes that put natively come with "put[N]" protocol
 * lines (short, bcopy, zcopy ranges); over tcp UCX has only an rma_bw lane
 * for rendezvous and emulates ucp_put with active messages, printing none.
 * Local. */
static int ep_inspect(ucp_ep_h ep, char *tls, size_t len)
{
    char *text = NULL;
    size_t text_len = 0, used = 0;
    int native = 0;
    tls[0] = '\0';
    FILE *f = open_memstream(&text, &text_len);
    if (!f)
        return 0;
    ucp_ep_print_info(ep, f);
    fclose(f);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, " put[") || strstr(line, "#put["))
            native = 1;
        char *lane = strstr(line, "lane[");
        if (!lane)
            continue;
        char *colon = strchr(lane, ':'), word[96];
        int n = 0;
        if (colon && sscanf(colon + 1, "%95s%n", word, &n) == 1) {
            char *name = strchr(word, ':') ? strchr(word, ':') + 1 : word;
            if (!strstr(tls, name) && used < len)
                used += (size_t)snprintf(tls + used, len - used, "%s%s", used ? " " : "", name);
        }
    }
    free(text);
    return native;
}

static cb_status_t context_open(const char *tls, int wakeup, ucp_context_h *context_p)
{
    ucp_config_t *config = NULL;
    ucs_status_t s = ucp_config_read(NULL, NULL, &config);
    if (s != UCS_OK)
        return ucs_fail("cannot read the UCX configuration", s);
    if (tls && strcmp(tls, "any") != 0) {
        char list[256];
        snprintf(list, sizeof list, "%s", tls);
        for (char *p = list; *p; p++)
            if (*p == '+')
                *p = ',';
        s = ucp_config_modify(config, "TLS", list);
    }
    ucp_params_t params = {
        .field_mask = UCP_PARAM_FIELD_FEATURES,
        .features = UCP_FEATURE_RMA | UCP_FEATURE_AM | (wakeup ? UCP_FEATURE_WAKEUP : 0),
    };
    if (s == UCS_OK)
        s = ucp_init(&params, config, context_p);
    ucp_config_release(config);
    if (s != UCS_OK) {
        cb_error("ucx collectives: cannot open UCX over %s: %s", tls ? tls : "UCX_TLS", ucs_status_string(s));
        return CB_ERR_UCX;
    }
    return CB_OK;
}

/* Context, worker, handler and the registered region. Local. */
static cb_status_t local_open(cb_ucoll_t *c, const char *tls)
{
    const char *e = getenv("CB_UCOLL_WAKEUP");
    int wakeup = !(e && *e && atoi(e) == 0);
    cb_status_t st = context_open(tls, wakeup, &c->context);
    if (st != CB_OK) {
        c->context = NULL;
        return st;
    }
    ucp_worker_params_t wp = { .field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE, .thread_mode = UCS_THREAD_MODE_SINGLE };
    ucs_status_t s = ucp_worker_create(c->context, &wp, &c->worker);
    if (s != UCS_OK) {
        c->worker = NULL;
        return ucs_fail("cannot create a worker", s);
    }
    ucp_am_handler_param_t am = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG,
        .id = UCOLL_AM_ID, .cb = am_arrived, .arg = c,
    };
    if ((s = ucp_worker_set_am_recv_handler(c->worker, &am)) != UCS_OK)
        return ucs_fail("cannot set the active message handler", s);
    c->efd = -1;
    if (wakeup && (s = ucp_worker_get_efd(c->worker, &c->efd)) != UCS_OK)
        return ucs_fail("cannot get the worker's wake-up descriptor", s);

    /* Layout: flags, then oneshot slots [2][np] of n, reduce-scatter slots
     * [2][np] of ceil(n/np), allgather [2] of n; each rounded to lines. */
    size_t n = c->max_count > 0 ? c->max_count : 1, np = (size_t)c->np;
    size_t chunk = (n + np - 1) / np;
    c->flags_bytes = (size_t)REG_COUNT * 2 * np * UCOLL_LINE;
    c->slot_bytes[REG_ONE] = (n * sizeof(float) + UCOLL_LINE - 1) / UCOLL_LINE * UCOLL_LINE;
    c->slot_bytes[REG_RS] = (chunk * sizeof(float) + UCOLL_LINE - 1) / UCOLL_LINE * UCOLL_LINE;
    c->slot_bytes[REG_AG] = c->slot_bytes[REG_ONE];
    c->per_src[REG_ONE] = c->per_src[REG_RS] = 1;
    c->per_src[REG_AG] = 0;
    size_t total = c->flags_bytes;
    for (int r = 0; r < REG_COUNT; r++) {
        size_t slots = c->per_src[r] ? 2 * np : 2, bytes = cb_mul_size(slots, c->slot_bytes[r]);
        c->reg_off[r] = total;
        total = bytes == SIZE_MAX || total + bytes < total ? SIZE_MAX : total + bytes;
    }
    c->max_chunks = (n + UCOLL_CHUNK - 1) / UCOLL_CHUNK;
    c->cflags_off = total;
    size_t cbytes = cb_mul_size(2 * np * UCOLL_LINE, c->max_chunks);
    total = total == SIZE_MAX || cbytes == SIZE_MAX || total + cbytes < total ? SIZE_MAX : total + cbytes;
    if (total == SIZE_MAX) {
        cb_error("ucx collectives: %zu floats is too large a message", c->max_count);
        return CB_ERR_NOMEM;
    }
    /* UCX allocates, so that shared-memory transports can map the region. */
    ucp_mem_map_params_t mp = {
        .field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH | UCP_MEM_MAP_PARAM_FIELD_FLAGS,
        .address = NULL, .length = total, .flags = UCP_MEM_MAP_ALLOCATE,
    };
    if ((s = ucp_mem_map(c->context, &mp, &c->mem)) != UCS_OK) {
        c->mem = NULL;
        cb_error("ucx collectives: cannot register %zu bytes: %s", total, ucs_status_string(s));
        return CB_ERR_UCX;
    }
    ucp_mem_attr_t attr = { .field_mask = UCP_MEM_ATTR_FIELD_ADDRESS };
    if ((s = ucp_mem_query(c->mem, &attr)) != UCS_OK)
        return ucs_fail("cannot query the registered region", s);
    c->base = attr.address;
    memset(c->base, 0, total);
    c->eps = calloc(np, sizeof *c->eps);
    c->rkeys = calloc(np, sizeof *c->rkeys);
    c->remote_base = calloc(np, sizeof *c->remote_base);
    c->headers = calloc((size_t)REG_COUNT * np, sizeof *c->headers);
    c->mapped = calloc(np, sizeof *c->mapped);
    if (!c->eps || !c->rkeys || !c->remote_base || !c->headers || !c->mapped) {
        cb_error("cannot allocate the UCX collectives' tables");
        return CB_ERR_NOMEM;
    }
    return CB_OK;
}

/* Endpoints to every peer from the gathered worker addresses. Collective. */
static cb_status_t connect_all(cb_ucoll_t *c)
{
    ucp_address_t *addr = NULL;
    size_t len = 0;
    ucs_status_t s = ucp_worker_get_address(c->worker, &addr, &len);
    cb_status_t st = s == UCS_OK ? CB_OK : ucs_fail("cannot get the worker address", s);
    uint8_t *all = NULL;
    int *offs = NULL;
    if ((st = cb_agree(st, c->comm)) != CB_OK)
        return st;
    st = allgather_blob(c->comm, c->np, addr, len, &all, &offs);
    ucp_worker_release_address(c->worker, addr);
    if ((st = cb_agree(st, c->comm)) != CB_OK)
        return st;
    for (int r = 0; r < c->np && st == CB_OK; r++) {
        if (r == c->rank)
            continue;
        ucp_ep_params_t ep = {
            .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE,
            .address = (const ucp_address_t *)(all + offs[r]), .err_mode = UCP_ERR_HANDLING_MODE_NONE,
        };
        if ((s = ucp_ep_create(c->worker, &ep, &c->eps[r])) != UCS_OK) {
            c->eps[r] = NULL;
            cb_error("ucx collectives: cannot reach rank %d: %s", r, ucs_status_string(s));
            st = CB_ERR_UCX;
        }
    }
    free(all);
    free(offs);
    return cb_agree(st, c->comm);
}

/* Every rank's region address and packed key to every rank. Collective. */
static cb_status_t exchange_keys(cb_ucoll_t *c)
{
    void *packed = NULL;
    size_t packed_len = 0;
    uint8_t *blob = NULL, *all = NULL;
    int *offs = NULL;
    ucs_status_t s = ucp_rkey_pack(c->context, c->mem, &packed, &packed_len);
    cb_status_t st = s == UCS_OK ? CB_OK : ucs_fail("cannot pack the remote key", s);
    if (st == CB_OK && (blob = malloc(sizeof(uint64_t) + packed_len)) == NULL) {
        cb_error("cannot allocate a remote key");
        st = CB_ERR_NOMEM;
    }
    if (st == CB_OK) {
        uint64_t a = (uint64_t)(uintptr_t)c->base;
        memcpy(blob, &a, sizeof a);
        memcpy(blob + sizeof a, packed, packed_len);
    }
    if ((st = cb_agree(st, c->comm)) != CB_OK)
        goto out;
    st = cb_agree(allgather_blob(c->comm, c->np, blob, sizeof(uint64_t) + packed_len, &all, &offs), c->comm);
    if (st != CB_OK)
        goto out;
    for (int r = 0; r < c->np && st == CB_OK; r++) {
        if (r == c->rank)
            continue;
        if (offs[r + 1] - offs[r] <= (int)sizeof(uint64_t)) {
            cb_error("ucx collectives: rank %d's remote key is too short", r);
            st = CB_ERR_UCX;
            break;
        }
        memcpy(&c->remote_base[r], all + offs[r], sizeof(uint64_t));
        if ((s = ucp_ep_rkey_unpack(c->eps[r], all + offs[r] + sizeof(uint64_t), &c->rkeys[r])) != UCS_OK) {
            c->rkeys[r] = NULL;
            st = ucs_fail("cannot unpack a remote key", s);
        } else {
            /* Shared memory maps the peer's region here; other transports cannot. */
            void *ptr = NULL;
            if (ucp_rkey_ptr(c->rkeys[r], c->remote_base[r], &ptr) == UCS_OK)
                c->mapped[r] = ptr;
        }
    }
    st = cb_agree(st, c->comm);
out:
    free(all);
    free(offs);
    free(blob);
    if (packed)
        ucp_rkey_buffer_release(packed);
    return st;
}

/* Wire up every endpoint with one small call of each delivery, then agree
 * on RMA being native and describe rank 0's endpoint. Collective. */
static cb_status_t settle(cb_ucoll_t *c)
{
    float probe[1] = { (float)c->rank };
    cb_status_t st = oneshot(c, 1, probe, 1);
    c->seq++;
    if (st == CB_OK) {
        st = oneshot(c, 0, probe, 1);
        c->seq++;
    }
    if ((st = cb_agree(st, c->comm)) != CB_OK)
        return st;
    int native = 1;
    char tls[256] = "", first[256] = "";
    for (int r = 0; r < c->np; r++) {
        if (r == c->rank)
            continue;
        int n = ep_inspect(c->eps[r], tls, sizeof tls);
        native &= n;
        if (!first[0])
            snprintf(first, sizeof first, "%s", tls);
    }
    int mapped = 1;
    for (int r = 0; r < c->np; r++)
        mapped &= r == c->rank || c->mapped[r] != NULL;
    int mine[2] = { native, mapped }, all[2] = { 0, 0 };
    if ((st = cb_agree(CB_MPI(MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MIN, c->comm)), c->comm)) != CB_OK)
        return st;
    c->rma_native = all[0];
    c->all_mapped = all[1];
    snprintf(c->desc, sizeof c->desc, "%s; rma %s%s%s", first[0] ? first : "self", all[0] ? "native" : "emulated (active messages)",
             all[1] ? "; peers mapped" : "", c->oversub ? "; ranks outnumber cores" : "");
    return cb_agree(CB_MPI(MPI_Bcast(c->desc, (int)sizeof c->desc, MPI_CHAR, 0, c->comm)), c->comm);
}

/* Whether any machine runs more ranks of comm than the cores they may use:
 * ranks share a machine when they share a kernel (its boot id), so that the
 * hosts of an emulated cluster (network namespaces of one machine) count as
 * the one machine whose cores they share; its cores are the union of those
 * ranks' affinity sets. Collective; the same on every rank. */
static cb_status_t oversub_check(cb_ucoll_t *c)
{
    typedef struct {
        char boot[48];
        cpu_set_t cpus;
    } where_t;
    where_t mine;
    memset(&mine, 0, sizeof mine);
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f || !fgets(mine.boot, sizeof mine.boot, f)) /* unknown: a machine of its own */
        snprintf(mine.boot, sizeof mine.boot, "rank %d", c->rank);
    if (f)
        fclose(f);
    if (sched_getaffinity(0, sizeof mine.cpus, &mine.cpus) != 0) {
        CPU_ZERO(&mine.cpus);
        CPU_SET(0, &mine.cpus);
    }
    where_t *all = calloc((size_t)c->np, sizeof *all);
    cb_status_t st = all ? CB_OK : CB_ERR_NOMEM;
    if (!all)
        cb_error("cannot allocate the ranks' places");
    if ((st = cb_agree(st, c->comm)) != CB_OK)
        return st;
    st = cb_agree(CB_MPI(MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, c->comm)), c->comm);
    if (st == CB_OK) {
        int local = 0;
        cpu_set_t cores;
        CPU_ZERO(&cores);
        for (int r = 0; r < c->np; r++)
            if (strcmp(all[r].boot, mine.boot) == 0) {
                local++;
                CPU_OR(&cores, &cores, &all[r].cpus);
            }
        /* Every rank sees every machine, so every rank finds the same answer
         * for its own; any machine oversubscribed is agreed below. */
        int over = local > CPU_COUNT(&cores), any = 0;
        st = cb_agree(CB_MPI(MPI_Allreduce(&over, &any, 1, MPI_INT, MPI_MAX, c->comm)), c->comm);
        c->oversub = any;
    }
    free(all);
    return st;
}

/* auto's table: every candidate algorithm timed at each size class from 64
 * floats to the registered maximum (and at most 256 Ki floats), the
 * slowest rank's median of a few calls, the fastest kept; classes below
 * take the smallest's choice. The times are reduced over the ranks, so
 * every rank keeps the same table. Candidates: what the transports do
 * natively (puts or active messages), pull where peers are mapped.
 * Collective. */
static cb_status_t calibrate(cb_ucoll_t *c)
{
    enum { REPS = 9, MAXC = 4 };
    int cand[MAXC], nc = 0;
    if (c->rma_native) {
        cand[nc++] = CB_UCOLL_ONESHOT;
        cand[nc++] = CB_UCOLL_TWOSHOT;
        if (c->all_mapped)
            cand[nc++] = CB_UCOLL_PULL;
    } else {
        cand[nc++] = CB_UCOLL_AM;
        cand[nc++] = CB_UCOLL_AM_TWOSHOT;
    }
    size_t top = c->max_count < ((size_t)1 << 18) ? c->max_count : (size_t)1 << 18;
    float *v = cb_alloc((top > 64 ? top : 64) * sizeof(float), 1, "allreduce calibration");
    cb_status_t st = cb_agree(v ? CB_OK : CB_ERR_NOMEM, c->comm);
    if (st != CB_OK)
        return st;
    int k0 = size_class(64), first = -1;
    for (int k = k0; k < UCOLL_CLASSES && st == CB_OK; k++) {
        size_t n = (size_t)1 << k;
        if (n > top)
            break;
        double med[MAXC];
        for (int a = 0; a < nc && st == CB_OK; a++) {
            double t[REPS];
            for (int i = 0; i < REPS && st == CB_OK; i++) {
                double t0 = now_s();
                st = cb_ucoll_allreduce(c, cand[a], v, n);
                t[i] = now_s() - t0;
            }
            for (int i = 1; i < REPS; i++) /* insertion sort */
                for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
                    double x = t[j];
                    t[j] = t[j - 1];
                    t[j - 1] = x;
                }
            med[a] = t[REPS / 2];
        }
        if ((st = cb_agree(st, c->comm)) != CB_OK)
            break;
        if ((st = cb_agree(CB_MPI(MPI_Allreduce(MPI_IN_PLACE, med, nc, MPI_DOUBLE, MPI_MAX, c->comm)), c->comm)) != CB_OK)
            break;
        int b = 0;
        for (int a = 1; a < nc; a++)
            if (med[a] < med[b])
                b = a;
        c->best[k] = cand[b];
        if (first < 0)
            first = cand[b];
    }
    for (int k = 0; k < k0 && first >= 0; k++)
        c->best[k] = first;
    cb_free(v);
    return st;
}

cb_status_t cb_ucoll_create(MPI_Comm comm, const char *tls, size_t max_count, cb_ucoll_t **c_p)
{
    cb_status_t st = CB_OK;
    cb_ucoll_t *c = calloc(1, sizeof *c);
    if (!c) {
        cb_error("cannot allocate the UCX collectives");
        st = CB_ERR_NOMEM;
    }
    if ((st = cb_agree(st, comm)) != CB_OK)
        return st;
    c->comm = comm;
    c->max_count = max_count;
    const char *e = getenv("CB_UCOLL_SPIN_US");
    /* Network waits block soon (the wake-up costs little beside a network
     * latency), at once where ranks share cores (a spinning rank takes the
     * core from the rank, or the emulated cluster's relay, it waits for);
     * waits for stores spin on unless ranks share cores. */
    c->spin_s = e && *e ? atof(e) * 1e-6 : -1;
    c->spin_mem_s = c->spin_s;
    c->copy_nt = (e = getenv("CB_UCOLL_NT")) && atoi(e) > 0;
    c->prefetch = (e = getenv("CB_UCOLL_PREFETCH")) && atoi(e) > 0;
    MPI_Comm_rank(comm, &c->rank);
    MPI_Comm_size(comm, &c->np);
    if ((st = oversub_check(c)) != CB_OK)
        goto fail;
    if (c->spin_s < 0) {
        c->spin_s = c->oversub ? 0 : 20e-6;
        c->spin_mem_s = c->oversub ? 50e-6 : 5e-3;
    }
    if ((st = cb_agree(local_open(c, tls), comm)) != CB_OK)
        goto fail;
    if ((st = connect_all(c)) != CB_OK)
        goto fail;
    if ((st = exchange_keys(c)) != CB_OK)
        goto fail;
    if (c->np > 1 && (st = settle(c)) != CB_OK)
        goto fail;
    for (int k = 0; k < UCOLL_CLASSES; k++)
        c->best[k] = -1;
    if (c->np > 1 && !((e = getenv("CB_UCOLL_CALIBRATE")) && *e && atoi(e) == 0) && (st = calibrate(c)) != CB_OK)
        goto fail;
    if (c->np == 1)
        snprintf(c->desc, sizeof c->desc, "one rank: no communication");
    *c_p = c;
    return CB_OK;
fail:
    cb_ucoll_free(c);
    return st;
}

void cb_ucoll_free(cb_ucoll_t *c)
{
    if (!c)
        return;
    /* No peer may still be putting into our region when it goes away; the
     * barrier progresses the worker so that peers' operations complete. */
    MPI_Request req;
    int done = 0;
    if (MPI_Ibarrier(c->comm, &req) == MPI_SUCCESS)
        while (!done && MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS)
            if (c->worker)
                ucp_worker_progress(c->worker);
    for (int r = 0; c->rkeys && r < c->np; r++)
        if (c->rkeys[r])
            ucp_rkey_destroy(c->rkeys[r]);
    for (int r = 0; c->eps && r < c->np; r++) {
        if (!c->eps[r])
            continue;
        ucp_request_param_t p = { .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS, .flags = UCP_EP_CLOSE_FLAG_FORCE };
        void *q = ucp_ep_close_nbx(c->eps[r], &p);
        if (q && !UCS_PTR_IS_ERR(q)) {
            while (ucp_request_check_status(q) == UCS_INPROGRESS)
                ucp_worker_progress(c->worker);
            ucp_request_free(q);
        }
    }
    MPI_Barrier(c->comm);
    if (c->mem)
        ucp_mem_unmap(c->context, c->mem);
    if (c->worker)
        ucp_worker_destroy(c->worker);
    if (c->context)
        ucp_cleanup(c->context);
    free(c->reqs);
    free(c->headers);
    free(c->mapped);
    free(c->remote_base);
    free(c->rkeys);
    free(c->eps);
    free(c);
}
