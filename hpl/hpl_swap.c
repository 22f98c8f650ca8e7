/* Row interchanges of a panel applied to the trailing columns. With one
 * process row they are local swaps; otherwise the rows involved (the panel's
 * top rows and its pivot rows) are gathered over the process column, which
 * both performs the swaps and hands every process row the U block it needs
 * for its update: binary exchange (recursive doubling) or spread-roll (a
 * ring), chosen per call by SWAP and its threshold. */
#include <limits.h>
#include <string.h>
#include "hpl.h"

size_t hpl_update_work_doubles(int nb, int64_t nq, int p)
{
    if (p <= 1) return 16;
    /* gathered rows (<= 2 nb) and U (nb), each as wide as the local columns,
     * plus the index tables */
    return (size_t)3 * nb * (size_t)(nq > 0 ? nq : 1) + (size_t)16 * nb + 64;
}

/* ================================================================ local */

static void swap_local(const hpl_panel_t *pan, hpl_matrix_t *mat, int64_t c0, int64_t c1)
{
    int64_t gk = pan->gk, lda = mat->lda;
    int jb = pan->jb;
    int64_t piv[8192];
    for (int j = 0; j < jb; j++) piv[j] = (int64_t)pan->ipiv[j];
    for (int64_t c = c0; c < c1; c++) {
        double *col = mat->a + c * lda;
        for (int j = 0; j < jb; j++) {
            int64_t ip = piv[j];
            if (ip != gk + j) {
                double tmp = col[gk + j];
                col[gk + j] = col[ip];
                col[ip] = tmp;
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

    /* work: [gathered rows 2 nb x nc][U nb x nc][index tables] */
    double *g = work;
    double *ubuf = work + (size_t)2 * nb * nc;
    int64_t *set = (int64_t *)(ubuf + (size_t)nb * nc);   /* global row of each set entry */
    int *content = (int *)(set + 2 * nb);                   /* entry whose original row ends here */
    int *slot = content + 2 * nb;                            /* row of each entry in g */
    int *owner = slot + 2 * nb;
    int displ[4096 + 1];
    if (np > 4096) { cb_error("more than 4096 process rows"); return CB_ERR_UNSUPPORTED; }
    if ((int64_t)2 * jb * nc > INT_MAX) { cb_error("row block too large for one message"); return CB_ERR_UNSUPPORTED; }

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
    /* order the gathered rows by owner so that each owner's are contiguous */
    for (int o = 0; o <= np; o++) displ[o] = 0;
    for (int s = 0; s < nset; s++) { owner[s] = hpl_owner(set[s], nb, np); displ[owner[s] + 1]++; }
    for (int o = 0; o < np; o++) displ[o + 1] += displ[o];
    {
        int fill[4096];
        for (int o = 0; o < np; o++) fill[o] = displ[o];
        for (int s = 0; s < nset; s++) slot[s] = fill[owner[s]]++;
    }
    for (int s = 0; s < nset; s++) {
        if (owner[s] != me) continue;
        const double *src = mat->a + hpl_g2l(set[s], nb, np) + c0 * lda;
        double *dst = g + (int64_t)slot[s] * nc;
        for (int64_t c = 0; c < nc; c++) dst[c] = src[c * lda];
    }

    int binexch = t->swap == HPL_SWAP_BINEXCH || (t->swap == HPL_SWAP_MIX && nc <= t->swap_threshold);
    cb_status_t st = binexch ? gather_binexch(g, displ, nc, me, np, grid->col)
                             : gather_ring(g, displ, nc, me, np, grid->col);
    if (st != CB_OK) return st;

    /* rows that left the top block land where their pivots were */
    for (int s = jb; s < nset; s++) {
        if (owner[s] != me) continue;
        const double *src = g + (int64_t)slot[content[s]] * nc;
        double *dst = mat->a + hpl_g2l(set[s], nb, np) + c0 * lda;
        for (int64_t c = 0; c < nc; c++) dst[c * lda] = src[c];
    }
    /* U in the form asked for */
    if (t->u_notrans) {
        for (int j = 0; j < jb; j++) {
            const double *src = g + (int64_t)slot[content[j]] * nc;
            for (int64_t c = 0; c < nc; c++) ubuf[j + c * jb] = src[c];
        }
        u->ldu = jb;
        u->trans = 0;
    } else {
        for (int j = 0; j < jb; j++)
            memcpy(ubuf + (int64_t)j * nc, g + (int64_t)slot[content[j]] * nc, (size_t)nc * sizeof(double));
        u->ldu = nc;
        u->trans = 1;
    }
    u->u = ubuf;
    return CB_OK;
}
