/* Panel broadcast along a process row: netlib's four rings (1ring, 1ringM,
 * 2ring, 2ringM) and, for HPL.dat's codes 4 and 5 (netlib's long and
 * longM), our spread-roll (sproll, sprollM): the root cuts the panel into
 * Q pieces and sends piece i straight to process i (the spread), then the
 * pieces move down the chain of processes, each forwarding what it has
 * to the next (the roll). netlib's long spreads along a tree and rolls in
 * both directions; ours is not that, hence the other name. Each is a list of
 * point-to-point operations per rank, posted without blocking and advanced
 * by hpl_bcast_progress so that the trailing update can overlap it. A send
 * may wait for a receive (forwarding); receives target disjoint pieces and
 * are posted at once. */
#include <limits.h>
#include <string.h>
#include "hpl.h"

/* ================================================================ building */

typedef struct {
    hpl_bcast_t *b;
    int root, np;
    int overflow;     /* more operations than the tables hold (a bug) */
} ops_ctx_t;

cb_status_t hpl_bcast_init(hpl_bcast_t *b, int nprocs)
{
    memset(b, 0, sizeof(*b));
    /* the most any algorithm needs: spread-roll, 2 (np - 1) + 2 per rank */
    b->max_ops = 3 * (nprocs > 0 ? nprocs : 1) + 8;
    b->nprocs = nprocs;
    b->ops = cb_alloc(cb_mul_size((size_t)b->max_ops, sizeof(*b->ops)), 1, "broadcast operations");
    b->req = cb_alloc(cb_mul_size((size_t)b->max_ops, sizeof(*b->req)), 0, "broadcast requests");
    b->scratch = cb_alloc(cb_mul_size((size_t)4 * (nprocs > 0 ? nprocs : 1), sizeof(int)), 0, "broadcast tables");
    if (b->ops == NULL || b->req == NULL || b->scratch == NULL) {
        hpl_bcast_free(b);
        return CB_ERR_NOMEM;
    }
    return CB_OK;
}

void hpl_bcast_free(hpl_bcast_t *b)
{
    cb_free(b->ops);
    cb_free(b->req);
    cb_free(b->scratch);
    b->ops = NULL;
    b->req = NULL;
    b->scratch = NULL;
    b->max_ops = 0;
}

static int add_op(ops_ctx_t *c, int is_send, int peer_rel, int64_t off, int64_t len, int tag, int dep)
{
    hpl_bcast_t *b = c->b;
    if (b->n_ops >= b->max_ops) { c->overflow = 1; return -1; }
    int i = b->n_ops++;
    b->ops[i].is_send = is_send;
    b->ops[i].peer = (peer_rel + c->root) % c->np;
    b->ops[i].off = off;
    b->ops[i].len = len;
    b->ops[i].tag = tag;
    b->ops[i].dep = dep;
    b->ops[i].posted = b->ops[i].done = 0;
    b->req[i] = MPI_REQUEST_NULL;
    return i;
}

/* A ring through relative ranks first..last-1, fed by `from`. */
static void ring(ops_ctx_t *c, int me, int from, int first, int last, int tag)
{
    if (first >= last) return;
    if (me == from) {
        add_op(c, 1, first, 0, c->b->count, tag, -1);
        return;
    }
    if (me < first || me >= last) return;
    int r = add_op(c, 0, me == first ? from : me - 1, 0, c->b->count, tag, -1);
    if (me + 1 < last) add_op(c, 1, me + 1, 0, c->b->count, tag, r);
}

/* Spread-and-roll over the relative ranks mem[0..nm) (mem[0] holds the data):
 * piece i goes to mem[i], then the pieces roll down the chain. */
static void spread_roll(ops_ctx_t *c, int me, const int *mem, int nm, int tag)
{
    int pos = -1;
    for (int i = 0; i < nm; i++)
        if (mem[i] == me) pos = i;
    if (pos < 0 || nm < 2) return;
    int64_t count = c->b->count, ps = (count + nm - 1) / nm;
#define OFF(i) ((int64_t)(i) * ps < count ? (int64_t)(i) * ps : count)
#define LEN(i) ((int64_t)((i) + 1) * ps < count ? ps : count - OFF(i))
    int *got = c->b->scratch + c->b->nprocs;  /* op receiving each piece, -1 if had */
    for (int i = 0; i < nm; i++) got[i] = -1;
    if (pos == 0) {
        for (int i = 1; i < nm; i++) add_op(c, 1, mem[i], OFF(i), LEN(i), tag + 2 * i, -1);
    } else {
        got[pos] = add_op(c, 0, mem[0], OFF(pos), LEN(pos), tag + 2 * pos, -1);
    }
    for (int s = 1; s < nm; s++) {
        if (pos >= 1) {
            int pc = ((pos - s) % nm + nm) % nm;
            got[pc] = add_op(c, 0, mem[pos - 1], OFF(pc), LEN(pc), tag + 2 * pc, -1);
        }
    }
    for (int s = 1; s < nm; s++) {
        if (pos + 1 < nm) {
            int pc = ((pos - s + 1) % nm + nm) % nm;
            add_op(c, 1, mem[pos + 1], OFF(pc), LEN(pc), tag + 2 * pc, pos == 0 ? -1 : got[pc]);
        }
    }
#undef LEN
#undef OFF
}

cb_status_t hpl_bcast_start(hpl_bcast_t *b, MPI_Comm comm, int root, hpl_bcast_algo_t algo,
                            double *buf, int64_t count, int tag)
{
    int me, np;
    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &np);
    b->comm = comm;
    b->buf = buf;
    b->count = count;
    b->n_ops = 0;
    b->active = 1;
    if (np == 1) return CB_OK;
    if (count > INT_MAX) {
        cb_error("panel of %lld doubles is too large for one message", (long long)count);
        return CB_ERR_UNSUPPORTED;
    }
    if (np > b->nprocs) {
        cb_error("broadcast over %d processes with tables for %d", np, b->nprocs);
        return CB_ERR_INTERNAL;
    }
    ops_ctx_t c = { b, root, np, 0 };
    int rel = (me - root + np) % np;
    int base = 1000 + (tag & 1);
    int *mem = b->scratch;
    switch (algo) {
    case HPL_BCAST_1RING:
        ring(&c, rel, 0, 1, np, base);
        break;
    case HPL_BCAST_1RINGM:
        /* the next panel's owner is served first and forwards nothing */
        ring(&c, rel, 0, 1, 2, base);
        ring(&c, rel, 0, 2, np, base);
        break;
    case HPL_BCAST_2RING: {
        int mid = 1 + (np - 1 + 1) / 2;
        ring(&c, rel, 0, 1, mid, base);
        ring(&c, rel, 0, mid, np, base);
        break;
    }
    case HPL_BCAST_2RINGM: {
        int mid = 2 + (np - 2 + 1) / 2;
        ring(&c, rel, 0, 1, 2, base);
        ring(&c, rel, 0, 2, mid, base);
        ring(&c, rel, 0, mid, np, base);
        break;
    }
    case HPL_BCAST_LONG:
        for (int i = 0; i < np; i++) mem[i] = i;
        spread_roll(&c, rel, mem, np, base + 2);
        break;
    case HPL_BCAST_LONGM: {
        ring(&c, rel, 0, 1, 2, base);
        int nm = 0;
        for (int i = 0; i < np; i++)
            if (i != 1) mem[nm++] = i;
        spread_roll(&c, rel, mem, nm, base + 2);
        break;
    }
    default:
        cb_error("unknown broadcast %d", (int)algo);
        return CB_ERR_INTERNAL;
    }
    if (c.overflow) {
        cb_error("broadcast %d over %d processes needs more than %d operations", (int)algo, np, b->max_ops);
        return CB_ERR_INTERNAL;
    }
    /* receives go to disjoint pieces: post them all now */
    for (int i = 0; i < b->n_ops; i++) {
        if (b->ops[i].is_send) continue;
        cb_status_t st = CB_MPI(MPI_Irecv(buf + b->ops[i].off, (int)b->ops[i].len, MPI_DOUBLE,
                                          b->ops[i].peer, b->ops[i].tag, comm, &b->req[i]));
        if (st != CB_OK) return st;
        b->ops[i].posted = 1;
    }
    int done;
    return hpl_bcast_progress(b, &done);
}

/* ================================================================ driving */

cb_status_t hpl_bcast_progress(hpl_bcast_t *b, int *done_p)
{
    int all = 1;
    *done_p = 1;
    if (!b->active) return CB_OK;
    for (int changed = 1; changed;) {
        changed = 0;
        all = 1;
        for (int i = 0; i < b->n_ops; i++) {
            if (b->ops[i].done) continue;
            if (!b->ops[i].posted) {
                int dep = b->ops[i].dep;
                if (dep >= 0 && !b->ops[dep].done) { all = 0; continue; }
                cb_status_t st = CB_MPI(MPI_Isend(b->buf + b->ops[i].off, (int)b->ops[i].len, MPI_DOUBLE,
                                                  b->ops[i].peer, b->ops[i].tag, b->comm, &b->req[i]));
                if (st != CB_OK) return st;
                b->ops[i].posted = 1;
            }
            int flag = 0;
            cb_status_t st = CB_MPI(MPI_Test(&b->req[i], &flag, MPI_STATUS_IGNORE));
            if (st != CB_OK) return st;
            if (flag) { b->ops[i].done = 1; changed = 1; }
            else all = 0;
        }
    }
    if (all) b->active = 0;
    *done_p = all;
    return CB_OK;
}

cb_status_t hpl_bcast_wait(hpl_bcast_t *b)
{
    for (;;) {
        int done, idx;
        cb_status_t st = hpl_bcast_progress(b, &done);
        if (st != CB_OK || done) return st;
        st = CB_MPI(MPI_Waitany(b->n_ops, b->req, &idx, MPI_STATUS_IGNORE));
        if (st != CB_OK) return st;
        if (idx != MPI_UNDEFINED) b->ops[idx].done = 1;
    }
}
