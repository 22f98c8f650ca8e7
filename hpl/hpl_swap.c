/* Row interchanges of a panel applied to the trailing columns. With one
 * process row they are local swaps. Otherwise each row goes only where it is
 * needed: the rows displaced from the panel's top block go from the top
 * block's owner to the owners of their pivot rows (the spread), and the jb
 * rows of U (the top block after the interchanges) are gathered by every
 * process row, each row from its owner (the roll): by binary exchange
 * (recursive doubling) or a ring (SWAP binexch, long; mix: binary exchange
 * up to the threshold's column count). Every process row receives U once
 * (jb rows) and the displaced rows it owns, no more. */
#include <limits.h>
#include <string.h>
#include "hpl.h"

/* work: [gathered U rows nb x nc][U nb x nc][spread rows nb x nc][tables] */
static size_t swap_table_doubles(int nb, int p)
{
    /* set (int64) 2 nb; content, slot, owner 2 nb ints each; displ, fill,
     * spread counts and offsets 4 (p + 1) ints */
    return (size_t)2 * nb + ((size_t)6 * nb + (size_t)4 * (p + 1) + 1) / 2 + 8;
}

size_t hpl_update_work_doubles(int nb, int64_t nq, int p)
{
    if (p <= 1) return 16;
    return (size_t)3 * nb * (size_t)(nq > 0 ? nq : 1) + swap_table_doubles(nb, p);
}

/* ================================================================ local */

/* Each pivot row of a column lies anywhere below the panel, so each swap is a
 * cache miss on a column the last update left in memory. Columns go in groups,
 * row by row, so that the misses of a group's columns overlap, and the next
 * group's row is prefetched beside each row: a miss then costs a fraction of
 * its latency. Every column still gets its swaps in order (the same bits). */
#define SWAP_GROUP 8
static void swap_local(const hpl_panel_t *pan, hpl_matrix_t *mat, int64_t c0, int64_t c1)
{
    int64_t gk = pan->gk, lda = mat->lda;
    int jb = pan->jb;
    for (int64_t c = c0; c < c1; c += SWAP_GROUP) {
        int64_t g = c1 - c < SWAP_GROUP ? c1 - c : SWAP_GROUP;
        int64_t gn = c1 - c - g < SWAP_GROUP ? c1 - c - g : SWAP_GROUP;
        double *col = mat->a + c * lda, *next = col + g * lda;
        for (int j = 0; j < jb; j++) {
            int64_t ip = (int64_t)pan->ipiv[j];
            if (ip == gk + j) continue;
            for (int64_t i = 0; i < gn; i++) __builtin_prefetch(next + i * lda + ip, 1, 0);
            for (int64_t i = 0; i < g; i++) {
                double *ci = col + i * lda, tmp = ci[gk + j];
                ci[gk + j] = ci[ip];
                ci[ip] = tmp;
            }
        }
    }
}
/* ================================================================ gathers */

/* Gather blocks of rows over `comm`: owner o's rows are g[displ[o]..displ[o+1])
 * (each `nc` doubles); on return every rank has every block. */
static cb_status_t gather_ring(double *g, const int *displ, int64_t nc, int me, int np, MPI_Comm comm)
{
    int next = (me + 1) % np, prev = (me - 1 + np) % np;
    for (int s = 0; s < np - 1; s++) {
        int sb = ((me - s) % np + np) % np, rb = ((me - s - 1) % np + np) % np;
        cb_status_t st = CB_MPI(MPI_Sendrecv(g + displ[sb] * nc, (int)((displ[sb + 1] - displ[sb]) * nc), MPI_DOUBLE,
                                             next, 77, g + displ[rb] * nc, (int)((displ[rb + 1] - displ[rb]) * nc),
                                             MPI_DOUBLE, prev, 77, comm, MPI_STATUS_IGNORE));
        if (st != CB_OK) return st;
    }
    return CB_OK;
}

/* rows of owners [o0, o1) */
static cb_status_t xchg_range(double *g, const int *displ, int64_t nc, int np, int o0, int o1, int p0, int p1,
                              int partner, MPI_Comm comm)
{
    if (o1 > np) o1 = np;
    if (p1 > np) p1 = np;
    int scount = o0 < o1 ? (int)((displ[o1] - displ[o0]) * nc) : 0;
    int rcount = p0 < p1 ? (int)((displ[p1] - displ[p0]) * nc) : 0;
    double *sb = g + (o0 < np ? displ[o0] : displ[np]) * nc;
    double *rb = g + (p0 < np ? displ[p0] : displ[np]) * nc;
    return CB_MPI(MPI_Sendrecv(sb, scount, MPI_DOUBLE, partner, 78, rb, rcount, MPI_DOUBLE, partner, 78, comm,
                               MPI_STATUS_IGNORE));
}

static cb_status_t gather_binexch(double *g, const int *displ, int64_t nc, int me, int np, MPI_Comm comm)
{
    int pow2 = 1;
    cb_status_t st = CB_OK;
    while (pow2 * 2 <= np) pow2 *= 2;
    int total = (int)(displ[np] * nc);
    if (me >= pow2) {
        /* fold into the power-of-two part, then get everything back */
        int partner = me - pow2;
        st = CB_MPI(MPI_Send(g + displ[me] * nc, (int)((displ[me + 1] - displ[me]) * nc), MPI_DOUBLE, partner, 79,
                             comm));
        if (st == CB_OK) st = CB_MPI(MPI_Recv(g, total, MPI_DOUBLE, partner, 80, comm, MPI_STATUS_IGNORE));
        return st;
    }
    if (me + pow2 < np) {
        int ex = me + pow2;
        st = CB_MPI(MPI_Recv(g + displ[ex] * nc, (int)((displ[ex + 1] - displ[ex]) * nc), MPI_DOUBLE, ex, 79, comm,
                             MPI_STATUS_IGNORE));
        if (st != CB_OK) return st;
    }
    for (int d = 1; d < pow2; d *= 2) {
        int partner = me ^ d;
        int g0 = me / d * d, p0 = partner / d * d;
        st = xchg_range(g, displ, nc, np, g0, g0 + d, p0, p0 + d, partner, comm);
        if (st == CB_OK)
            st = xchg_range(g, displ, nc, np, g0 + pow2, g0 + d + pow2, p0 + pow2, p0 + d + pow2, partner, comm);
        if (st != CB_OK) return st;
    }
    if (me + pow2 < np) st = CB_MPI(MPI_Send(g, total, MPI_DOUBLE, me + pow2, 80, comm));
    return st;
}

/* ================================================================ swap */

cb_status_t hpl_swap_rows(const hpl_panel_t *pan, hpl_matrix_t *mat, const hpl_grid_t *grid,
                          const hpl_test_t *t, int64_t c0, int64_t c1, double *work, hpl_urows_t *u)
{
    int nb = mat->nb, jb = pan->jb, np = grid->p, me = grid->myrow;
    int64_t gk = pan->gk, lda = mat->lda, nc = c1 - c0;

    if (np == 1) {
        swap_local(pan, mat, c0, c1);
        u->u = mat->a + gk + c0 * lda;
        u->ldu = lda;
        u->trans = 0;
        u->in_place = 1;
        return CB_OK;
    }
    u->in_place = 0;
    if (nc <= 0) { u->u = work; u->ldu = jb; u->trans = 0; return CB_OK; }
    if ((int64_t)jb * nc > INT_MAX) { cb_error("row block too large for one message"); return CB_ERR_UNSUPPORTED; }

    double *g = work;                                        /* U rows, by owner */
    double *ubuf = work + (size_t)nb * nc;
    double *sp = ubuf + (size_t)nb * nc;                     /* spread rows */
    int64_t *set = (int64_t *)(sp + (size_t)nb * nc);       /* global row of each set entry */
    int *content = (int *)(set + 2 * nb);                   /* entry whose original row ends here */
    int *slot = content + 2 * nb;                            /* row of U row j in g */
    int *owner = slot + 2 * nb;                              /* owner of each set entry */
    int *displ = owner + 2 * nb;                             /* (np + 1) U rows per owner in g */
    int *fill = displ + (np + 1);
    int *scount = fill + (np + 1);                           /* spread rows per process */
    int *soff = scount + (np + 1);

    /* the set of rows: top rows first, then the distinct pivot rows below */
    int nset = jb;
    for (int j = 0; j < jb; j++) set[j] = gk + j;
    for (int j = 0; j < jb; j++) {
        int64_t ip = (int64_t)pan->ipiv[j];
        if (ip < gk + jb) continue;
        int found = 0;
        for (int s = jb; s < nset; s++)
            if (set[s] == ip) { found = 1; break; }
        if (!found) set[nset++] = ip;
    }
    /* apply the interchanges to the entries: content[s] is the entry whose
     * original row ends at set[s] (a top row for every s >= jb) */
    for (int s = 0; s < nset; s++) content[s] = s;
    for (int j = 0; j < jb; j++) {
        int64_t ip = (int64_t)pan->ipiv[j];
        int b = j;
        if (ip >= gk + jb) {
            for (int s = jb; s < nset; s++)
                if (set[s] == ip) { b = s; break; }
        } else b = (int)(ip - gk);
        int tmp = content[j]; content[j] = content[b]; content[b] = tmp;
    }
    for (int s = 0; s < nset; s++) owner[s] = hpl_owner(set[s], nb, np);
    int root = owner[0];  /* the top block lies in one block row */

    /* U row j comes from the owner of its source row: order g by owner */
    for (int o = 0; o <= np; o++) displ[o] = 0;
    for (int j = 0; j < jb; j++) displ[owner[content[j]] + 1]++;
    for (int o = 0; o < np; o++) displ[o + 1] += displ[o];
    for (int o = 0; o < np; o++) fill[o] = displ[o];
    for (int j = 0; j < jb; j++) slot[j] = fill[owner[content[j]]]++;
    for (int j = 0; j < jb; j++) {
        int e = content[j];
        if (owner[e] != me) continue;
        const double *src = mat->a + hpl_g2l(set[e], nb, np) + c0 * lda;
        double *dst = g + (int64_t)slot[j] * nc;
        for (int64_t c = 0; c < nc; c++) dst[c] = src[c * lda];
    }

    /* the spread: top rows displaced below go from the root to their rows' owners */
    for (int o = 0; o <= np; o++) scount[o] = 0;
    for (int s = jb; s < nset; s++) scount[owner[s]]++;
    soff[0] = 0;
    for (int o = 0; o < np; o++) soff[o + 1] = soff[o] + scount[o];
    cb_status_t st = CB_OK;
    if (me == root) {
        for (int o = 0; o < np; o++) fill[o] = soff[o];
        for (int s = jb; s < nset; s++) {
            const double *src = mat->a + hpl_g2l(set[content[s]], nb, np) + c0 * lda;
            double *dst = sp + (int64_t)fill[owner[s]]++ * nc;
            for (int64_t c = 0; c < nc; c++) dst[c] = src[c * lda];
        }
        for (int o = 0; o < np && st == CB_OK; o++)
            if (o != me && scount[o] > 0)
                st = CB_MPI(MPI_Send(sp + (int64_t)soff[o] * nc, (int)(scount[o] * nc), MPI_DOUBLE, o, 81, grid->col));
    } else if (scount[me] > 0) {
        st = CB_MPI(MPI_Recv(sp + (int64_t)soff[me] * nc, (int)(scount[me] * nc), MPI_DOUBLE, root, 81, grid->col,
                             MPI_STATUS_IGNORE));
    }
    if (st != CB_OK) return st;
    /* every U row this rank owns is packed: the displaced rows may land */
    {
        int r = soff[me];
        for (int s = jb; s < nset; s++) {
            if (owner[s] != me) continue;
            const double *src = sp + (int64_t)r++ * nc;
            double *dst = mat->a + hpl_g2l(set[s], nb, np) + c0 * lda;
            for (int64_t c = 0; c < nc; c++) dst[c * lda] = src[c];
        }
    }

    /* the roll: every process row gathers U */
    int binexch = t->swap == HPL_SWAP_BINEXCH || (t->swap == HPL_SWAP_MIX && nc <= t->swap_threshold);
    st = binexch ? gather_binexch(g, displ, nc, me, np, grid->col) : gather_ring(g, displ, nc, me, np, grid->col);
    if (st != CB_OK) return st;

    /* U in the form asked for */
    if (t->u_notrans) {
        for (int j = 0; j < jb; j++) {
            const double *src = g + (int64_t)slot[j] * nc;
            for (int64_t c = 0; c < nc; c++) ubuf[j + c * jb] = src[c];
        }
        u->ldu = jb;
        u->trans = 0;
    } else {
        for (int j = 0; j < jb; j++)
            memcpy(ubuf + (int64_t)j * nc, g + (int64_t)slot[j] * nc, (size_t)nc * sizeof(double));
        u->ldu = nc;
        u->trans = 1;
    }
    u->u = ubuf;
    return CB_OK;
}
