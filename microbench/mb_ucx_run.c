/* The UCX tests between rank 0 and its pair peer: tag ping-pong and
 * streamed bandwidth, put/get on the peer's registered memory completed by a
 * flush, put ping-pong, atomic fetch-and-add, active-message ping-pong. */
#include "mb_ucx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ tag */

static cb_status_t tag_pingpong(mb_ucx_t *u, const mb_run_t *run, double *samples)
{
    cb_status_t st = CB_OK, bad = CB_OK;
    ucp_request_param_t p = { 0 };
    double t0 = mb_now(); /* one clock read per iteration, as in mb_mpi.c */
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        if (run->initiator) {
            if (run->validate) {
                mb_pattern_fill(u->sbuf, run->size, seed);
                t0 = mb_now();
            }
            /* send first, post the receive while the message travels (as
             * ucx_perftest does): posting first delays every send */
            void *s = ucp_tag_send_nbx(u->ep, u->sbuf, run->size, MB_UCX_TAG_DATA, &p);
            void *r = ucp_tag_recv_nbx(u->worker, u->rbuf, run->size, MB_UCX_TAG_DATA, (ucp_tag_t)-1, &p);
            st = mb_ucx_wait(u, s, "tag send");
            mb_keep_first(&st, mb_ucx_wait(u, r, "tag receive"));
            double t1 = mb_now();
            samples[i] = (t1 - t0) / 2;
            t0 = t1;
            if (run->validate && st == CB_OK)
                mb_keep_first(&bad, mb_pattern_check(u->rbuf, run->size, seed, 0, "ucx_tag_lat: echoed message"));
        } else {
            void *r = ucp_tag_recv_nbx(u->worker, u->rbuf, run->size, MB_UCX_TAG_DATA, (ucp_tag_t)-1, &p);
            st = mb_ucx_wait(u, r, "tag receive");
            if (st == CB_OK)
                st = mb_ucx_wait(u, ucp_tag_send_nbx(u->ep, u->rbuf, run->size, MB_UCX_TAG_DATA, &p), "tag send");
            if (run->validate && st == CB_OK)
                mb_keep_first(&bad, mb_pattern_check(u->rbuf, run->size, seed, run->corrupt && i == 0,
                                            "ucx_tag_lat: received message"));
        }
    }
    return st != CB_OK ? st : bad;
}

/* A stream of sends keeping `window` in flight, as ucx_perftest's tag_bw:
 * a send is posted as soon as the oldest one completes, receives are
 * reposted as soon as one completes, and only the end of the run waits for
 * the receiver's acknowledgement. The samples are timed windows of delivery,
 * on the receiver: samples[i] runs from the delivery of window i-1's last
 * message (for window 0: the receiver leaving the barrier, with its receives
 * posted) to that of window i's, so that they add up to the time the stream
 * took to arrive. A sender's local completions would say when a buffer could
 * be reused, not when its data had arrived (an eager send completes at once).
 * The sender measures nothing; the engine takes each iteration's slowest rank.
 * The buffers never change meanwhile: --validate takes tag_bw_windows. */
static cb_status_t tag_bw_stream(mb_ucx_t *u, const mb_run_t *run, void **reqs, double *samples)
{
    cb_status_t st = CB_OK;
    ucp_request_param_t p = { 0 };
    long w = run->window, total = (long)run->iters * w, posted = 0, done = 0;
    if (run->initiator) {
        void *ack = ucp_tag_recv_nbx(u->worker, NULL, 0, MB_UCX_TAG_ACK, (ucp_tag_t)-1, &p);
        while (done < total) {
            for (; posted < total && posted - done < w; posted++)
                reqs[posted % w] = ucp_tag_send_nbx(u->ep, u->sbuf, run->size, MB_UCX_TAG_DATA, &p);
            mb_keep_first(&st, mb_ucx_wait(u, reqs[done++ % w], "tag send"));
        }
        mb_keep_first(&st, mb_ucx_wait(u, ack, "acknowledgement receive"));
    } else {
        for (; posted < total && posted < w; posted++)
            reqs[posted % w] = ucp_tag_recv_nbx(u->worker, u->rbuf + (size_t)(posted % run->slots) * run->size,
                                                run->size, MB_UCX_TAG_DATA, (ucp_tag_t)-1, &p);
        double t0 = mb_now();
        while (done < total) {
            mb_keep_first(&st, mb_ucx_wait(u, reqs[done % w], "tag receive"));
            if (++done % w == 0) {
                double t1 = mb_now();
                samples[done / w - 1] = t1 - t0;
                t0 = t1;
            }
            for (; posted < total && posted - done < w; posted++)
                reqs[posted % w] = ucp_tag_recv_nbx(u->worker, u->rbuf + (size_t)(posted % run->slots) * run->size,
                                                    run->size, MB_UCX_TAG_DATA, (ucp_tag_t)-1, &p);
        }
        mb_keep_first(&st, mb_ucx_wait(u, ucp_tag_send_nbx(u->ep, NULL, 0, MB_UCX_TAG_ACK, &p),
                                       "acknowledgement send"));
    }
    return st;
}

/* --validate: window by window, a fresh pattern each, acknowledged before
 * the sender refills its buffer and the receiver checks every slot. */
static cb_status_t tag_bw_windows(mb_ucx_t *u, const mb_run_t *run, void **reqs, double *samples)
{
    cb_status_t st = CB_OK, bad = CB_OK;
    ucp_request_param_t p = { 0 };
    int w = run->window;
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        if (run->initiator) {
            if (run->validate)
                mb_pattern_fill(u->sbuf, run->size, seed);
            double t0 = mb_now();
            void *ack = ucp_tag_recv_nbx(u->worker, NULL, 0, MB_UCX_TAG_ACK, (ucp_tag_t)-1, &p);
            for (int j = 0; j < w; j++)
                reqs[j] = ucp_tag_send_nbx(u->ep, u->sbuf, run->size, MB_UCX_TAG_DATA, &p);
            for (int j = 0; j < w; j++)
                mb_keep_first(&st, mb_ucx_wait(u, reqs[j], "tag send"));
            mb_keep_first(&st, mb_ucx_wait(u, ack, "acknowledgement receive"));
            samples[i] = mb_now() - t0;
        } else {
            for (int j = 0; j < w; j++)
                reqs[j] = ucp_tag_recv_nbx(u->worker, u->rbuf + (size_t)(j % run->slots) * run->size, run->size,
                                           MB_UCX_TAG_DATA, (ucp_tag_t)-1, &p);
            for (int j = 0; j < w; j++)
                mb_keep_first(&st, mb_ucx_wait(u, reqs[j], "tag receive"));
            if (st == CB_OK)
                st = mb_ucx_wait(u, ucp_tag_send_nbx(u->ep, NULL, 0, MB_UCX_TAG_ACK, &p), "acknowledgement send");
            if (run->validate && st == CB_OK)
                for (int j = 0; j < run->slots; j++)
                    mb_keep_first(&bad, mb_pattern_check(u->rbuf + (size_t)j * run->size, run->size, seed,
                                                         run->corrupt && i == 0 && j == run->slots - 1,
                                                         "ucx_tag_bw: received message"));
        }
    }
    return st != CB_OK ? st : bad;
}

/* ================================================================ active messages */

static cb_status_t am_send(mb_ucx_t *u, const void *buf, size_t size)
{
    ucp_request_param_t p = { 0 };
    return mb_ucx_wait(u, ucp_am_send_nbx(u->ep, MB_UCX_AM_ID, NULL, 0, buf, size, &p), "active message send");
}

/* Wait for the next active message and have its bytes in rbuf. */
static cb_status_t am_wait(mb_ucx_t *u)
{
    while (!u->am_arrived)
        ucp_worker_progress(u->worker);
    u->am_arrived = 0;
    if (!u->am_desc)
        return CB_OK;
    void *desc = u->am_desc;
    u->am_desc = NULL;
    if (u->am_length > u->rcap) {
        ucp_am_data_release(u->worker, desc);
        return CB_OK; /* the length check reports it */
    }
    ucp_request_param_t p = { 0 };
    return mb_ucx_wait(u, ucp_am_recv_data_nbx(u->worker, desc, u->rbuf, u->am_length, &p),
                       "active message rendezvous receive");
}

static cb_status_t am_pingpong(mb_ucx_t *u, const mb_run_t *run, double *samples)
{
    cb_status_t st = CB_OK, bad = CB_OK;
    double t0 = mb_now(); /* one clock read per iteration */
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        if (run->initiator) {
            if (run->validate) {
                mb_pattern_fill(u->sbuf, run->size, seed);
                t0 = mb_now();
            }
            st = am_send(u, u->sbuf, run->size);
            if (st == CB_OK)
                st = am_wait(u);
            double t1 = mb_now();
            samples[i] = (t1 - t0) / 2;
            t0 = t1;
            if (run->validate && st == CB_OK)
                mb_keep_first(&bad, mb_pattern_check(u->rbuf, run->size, seed, 0, "ucx_am_lat: echoed message"));
        } else {
            st = am_wait(u);
            if (st == CB_OK)
                st = am_send(u, u->rbuf, run->size);
            if (run->validate && st == CB_OK)
                mb_keep_first(&bad, mb_pattern_check(u->rbuf, run->size, seed, run->corrupt && i == 0,
                                            "ucx_am_lat: received message"));
        }
        if (st == CB_OK && u->am_length != run->size) {
            cb_error("ucx_am_lat: an active message of %zu bytes arrived, expected %zu", u->am_length, run->size);
            mb_keep_first(&bad, CB_ERR_CHECK);
        }
    }
    return st != CB_OK ? st : bad;
}

/* ================================================================ RMA and atomics */

/* --validate's handshakes between the pair: one untimed word over MPI (the
 * sender's status), the worker progressed while waiting (over tcp a put or
 * get lands only when the target progresses). Local to the pair. */
enum { TAG_WRITTEN = 7401, TAG_CHECKED, TAG_FILLED, TAG_FETCHED };

static cb_status_t pair_wait(mb_ucx_t *u, MPI_Request *req)
{
    int done = 0;
    cb_status_t st = CB_OK;
    while (st == CB_OK && !done) {
        ucp_worker_progress(u->worker);
        st = CB_MPI(MPI_Test(req, &done, MPI_STATUS_IGNORE));
    }
    return st;
}

static cb_status_t pair_send(mb_ucx_t *u, int tag, cb_status_t word)
{
    int w = (int)word;
    MPI_Request req;
    cb_status_t st = CB_MPI(MPI_Isend(&w, 1, MPI_INT, u->peer, tag, u->comm, &req));
    return st == CB_OK ? pair_wait(u, &req) : st;
}

/* The peer's word into *word_p. */
static cb_status_t pair_recv(mb_ucx_t *u, int tag, cb_status_t *word_p)
{
    int w = 0;
    MPI_Request req;
    cb_status_t st = CB_MPI(MPI_Irecv(&w, 1, MPI_INT, u->peer, tag, u->comm, &req));
    if (st == CB_OK)
        st = pair_wait(u, &req);
    *word_p = (cb_status_t)w;
    return st;
}

/* The origin (rank 0) writes, reads or adds into the target's registered
 * memory; the target progresses its worker. A window's operations go to
 * `slots` distinct messages (the window's, or one with --shared-recv, as
 * the peers'), the source or destination slot j at the same offset on the
 * origin. The memory is mapped once per size (the warm-up and the timed run
 * share it). --validate, untimed, every iteration: puts write fresh patterns
 * and the target checks every slot before the next iteration writes again;
 * for gets the target writes fresh patterns first and the origin checks
 * every fetched slot; --inject-corruption changes a byte on its way (the
 * put's source, or the target's slot a get fetches), so the receiving side
 * must see it. Collective (the memory's keys). */
static cb_status_t rma(mb_ucx_t *u, const mb_test_t *test, const mb_run_t *run, void **reqs, double *samples)
{
    cb_status_t st, bad = CB_OK, peer_st = CB_OK;
    int atomic = test->op == MB_OP_ATOMIC_LAT, put = test->op == MB_OP_PUT_LAT || test->op == MB_OP_PUT_BW;
    int bw = test->op == MB_OP_PUT_BW || test->op == MB_OP_GET_BW;
    int w = bw ? run->window : 1, slots = bw ? run->slots : 1, v = run->validate && !atomic;
    int origin = u->active && run->initiator, target = u->active && !run->initiator;
    size_t size = atomic ? sizeof(uint64_t) : run->size;
    mb_ucx_mem_t *mem;

    if ((st = mb_ucx_rma_mem(u, cb_mul_size(size, (size_t)slots), &mem)) != CB_OK)
        return st;
    uint8_t *buf = mem->addr; /* the origin's sources or destinations, the target's slots */
    if (target && !put && !atomic && !v)
        mb_slots_fill(buf, size, slots, run->seed, 0); /* what gets fetch; the counter starts at 0 */
    if ((st = mb_ucx_barrier(u)) != CB_OK)
        return st;
    if (origin) {
        ucp_request_param_t p = { .op_attr_mask = UCP_OP_ATTR_FIELD_MEMH, .memh = mem->local };
        ucp_request_param_t pf = { 0 };
        double t0 = mb_now(); /* one clock read per iteration */
        for (int i = 0; i < run->iters && st == CB_OK && peer_st == CB_OK; i++) {
            uint32_t seed = run->seed + (uint32_t)i;
            int corrupt = run->corrupt && i == 0;
            uint64_t one = 1, old = UINT64_MAX;
            if (v) {
                if (put)
                    mb_slots_fill(buf, size, slots, seed, corrupt);
                else if ((st = pair_recv(u, TAG_FILLED, &peer_st)) != CB_OK || peer_st != CB_OK)
                    break;
                t0 = mb_now();
            }
            if (atomic) {
                ucp_request_param_t pa = {
                    .op_attr_mask = UCP_OP_ATTR_FIELD_DATATYPE | UCP_OP_ATTR_FIELD_REPLY_BUFFER,
                    .datatype = ucp_dt_make_contig(sizeof(uint64_t)), .reply_buffer = &old,
                };
                st = mb_ucx_wait(u, ucp_atomic_op_nbx(u->ep, UCP_ATOMIC_OP_ADD, &one, 1, mem->remote_addr,
                                                      mem->rkey, &pa), "atomic fetch-and-add");
            } else {
                for (int j = 0; j < w; j++) {
                    size_t off = (size_t)(j % slots) * size;
                    reqs[j] = put ? ucp_put_nbx(u->ep, buf + off, size, mem->remote_addr + off, mem->rkey, &p)
                                  : ucp_get_nbx(u->ep, buf + off, size, mem->remote_addr + off, mem->rkey, &p);
                }
                st = mb_ucx_wait(u, ucp_ep_flush_nbx(u->ep, &pf), "flush");
                for (int j = 0; j < w; j++)
                    mb_keep_first(&st, mb_ucx_wait(u, reqs[j], put ? "put" : "get"));
            }
            double t1 = mb_now();
            samples[i] = t1 - t0;
            t0 = t1;
            if (atomic && run->validate && st == CB_OK) {
                if (run->corrupt && i == 0)
                    old ^= 0x40;
                if (old != (uint64_t)i) {
                    cb_error("validation failed: %s: fetched %llu before add %d, expected %d",
                             test->name, (unsigned long long)old, i + 1, i);
                    mb_keep_first(&bad, CB_ERR_CHECK);
                }
            } else if (v && put) {
                /* the flush completed the puts: the target checks, then this side may write again */
                cb_status_t s2 = pair_send(u, TAG_WRITTEN, st);
                if (s2 == CB_OK && st == CB_OK)
                    s2 = pair_recv(u, TAG_CHECKED, &peer_st);
                mb_keep_first(&st, s2);
            } else if (v) {
                mb_keep_first(&st, pair_send(u, TAG_FETCHED, st));
                if (st == CB_OK)
                    mb_keep_first(&bad, mb_slots_check(buf, size, slots, seed, "ucx get: fetched bytes"));
            }
        }
    } else if (target && v) {
        for (int i = 0; i < run->iters && st == CB_OK && peer_st == CB_OK; i++) {
            uint32_t seed = run->seed + (uint32_t)i;
            if (put) {
                if ((st = pair_recv(u, TAG_WRITTEN, &peer_st)) != CB_OK || peer_st != CB_OK)
                    break;
                mb_keep_first(&bad, mb_slots_check(buf, size, slots, seed, "ucx put: target slots"));
                st = pair_send(u, TAG_CHECKED, CB_OK);
            } else {
                mb_slots_fill(buf, size, slots, seed, run->corrupt && i == 0);
                if ((st = pair_send(u, TAG_FILLED, CB_OK)) == CB_OK)
                    st = pair_recv(u, TAG_FETCHED, &peer_st);
            }
        }
    }
    /* The origin's flushes completed every write before the target looks. */
    mb_keep_first(&st, mb_ucx_barrier(u));
    if (st == CB_OK && run->validate && target && atomic && *(volatile uint64_t *)buf != (uint64_t)run->iters) {
        cb_error("validation failed: %s: the counter is %llu after %d adds", test->name,
                 (unsigned long long)*(volatile uint64_t *)buf, run->iters);
        mb_keep_first(&bad, CB_ERR_CHECK);
    }
    return st != CB_OK ? st : bad;
}

/* ================================================================ put ping-pong */

/* Put `size` bytes of `out` into the peer's receive area; with --validate
 * then a flush and the 8-byte flag `mark` at offset `flag`. Local. */
static cb_status_t pp_put(mb_ucx_t *u, const mb_ucx_mem_t *mem, const ucp_request_param_t *p, const uint8_t *out,
                          size_t size, int validate, size_t flag, const uint64_t *mark)
{
    ucp_request_param_t pf = { 0 };
    cb_status_t st = mb_ucx_wait(u, ucp_put_nbx(u->ep, out, size, mem->remote_addr, mem->rkey, p), "put");
    if (st != CB_OK || !validate)
        return st;
    /* a flush, not a fence: over several TCP lanes a fenced flag still
     * overtook a 64 KiB message */
    st = mb_ucx_wait(u, ucp_ep_flush_nbx(u->ep, &pf), "flush");
    if (st == CB_OK)
        st = mb_ucx_wait(u, ucp_put_nbx(u->ep, mark, sizeof *mark, mem->remote_addr + flag, mem->rkey, &pf),
                         "flag put");
    return st;
}

/* Wait for the peer's message in `in`: its last byte becoming `seq`, or
 * with --validate the flag becoming `mark`; progress meanwhile (a put over
 * TCP lands only when this side progresses). Local. */
static void pp_wait(mb_ucx_t *u, const uint8_t *in, size_t size, int validate, size_t flag, uint64_t mark,
                    uint8_t seq)
{
    if (validate)
        while (*(const volatile uint64_t *)(in + flag) != mark)
            ucp_worker_progress(u->worker);
    else
        while (*(const volatile uint8_t *)(in + size - 1) != seq)
            ucp_worker_progress(u->worker);
}

/* Ping-pong by puts, as ucx_perftest's ucp_put_lat: rank 0 puts a message
 * into its peer's registered buffer and polls its own until the peer's put
 * comes back. The last byte of a message is its sequence number (1..255,
 * never the zeroed buffer's 0), so one put per way is all: arrival is seen
 * when the last byte changes. Whether the last byte lands last is up to the
 * transport, so --validate sends pattern bytes, echoed by the peer, then a
 * flush and an 8-byte flag, and the poller waits for the flag before it
 * checks the bytes. Each side's region: [0, len) receives, [len, 2 len) is
 * the source of its puts (separate cache lines: the peer writes one while
 * this side writes the other), the flag at `flag` of both. Collective. */
static cb_status_t put_pingpong(mb_ucx_t *u, const mb_run_t *run, double *samples)
{
    cb_status_t st, bad = CB_OK;
    size_t size = run->size, flag = (size + 7) / 8 * 8, len = (flag + 8 + 63) / 64 * 64;
    int v = run->validate;
    mb_ucx_mem_t *mem;
    if ((st = mb_ucx_rma_mem(u, 2 * len, &mem)) != CB_OK)
        return st;
    uint8_t *in = mem->addr, *out = in + len;
    if ((st = mb_ucx_barrier(u)) != CB_OK)
        return st;
    if (u->active) {
        ucp_request_param_t p = { .op_attr_mask = UCP_OP_ATTR_FIELD_MEMH, .memh = mem->local };
        double t0 = mb_now(); /* one clock read per iteration */
        for (int i = 0; i < run->iters && st == CB_OK; i++) {
            uint32_t seed = run->seed + (uint32_t)i;
            uint8_t seq = (uint8_t)(i % 255 + 1);
            uint64_t mark = (uint64_t)i + 1;
            if (run->initiator) {
                if (v) {
                    mb_pattern_fill(out, size, seed);
                    t0 = mb_now();
                } else {
                    out[size - 1] = seq;
                }
                st = pp_put(u, mem, &p, out, size, v, flag, &mark);
                if (st == CB_OK)
                    pp_wait(u, in, size, v, flag, mark, seq);
                double t1 = mb_now();
                samples[i] = (t1 - t0) / 2;
                t0 = t1;
                if (v && st == CB_OK)
                    mb_keep_first(&bad, mb_pattern_check(in, size, seed, 0, "ucx_put_pingpong: echoed message"));
            } else {
                pp_wait(u, in, size, v, flag, mark, seq);
                if (v) {
                    /* before the echo: rank 0 then overwrites it */
                    mb_keep_first(&bad, mb_pattern_check(in, size, seed, run->corrupt && i == 0,
                                                         "ucx_put_pingpong: received message"));
                    memcpy(out, in, size);
                } else {
                    out[size - 1] = seq;
                }
                st = pp_put(u, mem, &p, out, size, v, flag, &mark);
            }
        }
        /* the last put back must have landed before the buffers go */
        ucp_request_param_t pf = { 0 };
        mb_keep_first(&st, mb_ucx_wait(u, ucp_ep_flush_nbx(u->ep, &pf), "flush"));
    }
    mb_keep_first(&st, mb_ucx_barrier(u));
    return st != CB_OK ? st : bad;
}

/* ================================================================ dispatch */

cb_status_t mb_ucx_run(void *inst, const mb_test_t *test, const mb_run_t *run,
                       double *samples, double *msgs_p)
{
    mb_ucx_t *u = inst;
    cb_status_t st;
    int windowed = test->op == MB_OP_BW || test->op == MB_OP_PUT_BW || test->op == MB_OP_GET_BW;
    size_t w = windowed ? (size_t)run->window : 1;
    size_t size = test->op == MB_OP_ATOMIC_LAT ? sizeof(uint64_t) : run->size;
    void **reqs = NULL;

    int remote = test->op != MB_OP_PINGPONG && test->op != MB_OP_BW && test->op != MB_OP_AM_LAT;
    /* RMA tests use memory UCX allocates for them; the others these buffers. */
    if ((st = mb_ucx_reserve(u, remote ? 0 : size, remote ? 0 : test->op == MB_OP_BW ? cb_mul_size(size, (size_t)run->slots) : size)) != CB_OK)
        return st;
    reqs = calloc(w, sizeof *reqs);
    st = reqs ? CB_OK : CB_ERR_NOMEM;
    if (!reqs)
        cb_error("cannot allocate %zu requests", w);
    if ((st = cb_agree(st, u->comm)) != CB_OK)
        return st;
    *msgs_p = (double)w;
    if ((st = mb_ucx_barrier(u)) != CB_OK)
        goto out;
    switch (test->op) {
    case MB_OP_PINGPONG:
        st = u->active ? tag_pingpong(u, run, samples) : CB_OK;
        break;
    case MB_OP_BW:
        if (u->active)
            st = run->validate ? tag_bw_windows(u, run, reqs, samples) : tag_bw_stream(u, run, reqs, samples);
        break;
    case MB_OP_AM_LAT:
        st = u->active ? am_pingpong(u, run, samples) : CB_OK;
        break;
    case MB_OP_PUT_PINGPONG:
        st = put_pingpong(u, run, samples); /* collective: exchanges keys */
        break;
    case MB_OP_PUT_LAT: case MB_OP_GET_LAT: case MB_OP_PUT_BW: case MB_OP_GET_BW: case MB_OP_ATOMIC_LAT:
        st = rma(u, test, run, reqs, samples); /* collective: exchanges keys */
        break;
    default:
        cb_error("test %s: not a UCX operation", test->name);
        st = CB_ERR_INTERNAL;
    }
out:
    free(reqs);
    return st;
}
