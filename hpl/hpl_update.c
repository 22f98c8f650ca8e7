/* The trailing update of one panel over a range of local columns: row swaps
 * (hpl_swap.c), U = L11^-1 U with DTRSM, then A22 -= L21 U with DGEMM (hpl_gemm: the BLAS's or
 * hpl_dgemm.c's, as --dgemm chose). While
 * a look-ahead broadcast is in flight the DGEMM runs in tiles of about
 * `interval` seconds each, and the broadcast is progressed between them: MPI
 * over TCP moves a large message only inside MPI calls, so the interval
 * bounds how long the link may sit idle. Once it is done, the rest is one
 * DGEMM. Every entry gets the same operations in the same order either way. */
#include <cblas.h>
#include <string.h>
#include "hpl.h"

/* Progress the overlapped broadcast; the time inside counts as progress. */
static cb_status_t overlap_progress(hpl_overlap_t *ov, double *times)
{
    int done = 1;
    double t0 = cb_now();
    cb_status_t st = hpl_bcast_progress(&ov->pan->bc, &done);
    double t1 = cb_now();
    times[HPL_T_PROGRESS] += t1 - t0;
    if (done && ov->pan->bc_done_at == 0.0) ov->pan->bc_done_at = t1;
    ov->active = !done;
    return st;
}

static void gemm(const hpl_panel_t *pan, const hpl_urows_t *u, int64_t r0, int64_t nr, int64_t j0, int64_t nc,
                 double *c, int64_t ldc)
{
    const double *b = u->trans ? u->u + j0 : u->u + j0 * u->ldu;
    hpl_gemm(u->trans, nr, nc, pan->jb, -1.0, pan->l + r0, pan->m, b, u->ldu, c + r0 + j0 * ldc, ldc);
}

cb_status_t hpl_update(const hpl_panel_t *pan, hpl_matrix_t *mat, const hpl_grid_t *grid,
                       const hpl_test_t *t, int64_t c0, int64_t c1, double *work, double *times,
                       hpl_overlap_t *ov)
{
    int nb = mat->nb, jb = pan->jb;
    int64_t lda = mat->lda, nc = c1 - c0;
    hpl_urows_t u;

    double t0 = cb_now();
    cb_status_t st = hpl_swap_rows(pan, mat, grid, t, c0, c1, work, &u);
    double t1 = cb_now();
    times[HPL_T_SWAP] += t1 - t0;
    if (st != CB_OK || nc <= 0) return st;

    if (u.trans)
        cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasUnit, (int)nc, jb, 1.0, pan->t, jb,
                    u.u, (int)u.ldu);
    else
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasUnit, jb, (int)nc, 1.0, pan->t, jb,
                    u.u, (int)u.ldu);
    if (!u.in_place && grid->myrow == hpl_owner(pan->gk, nb, grid->p)) {
        /* the owner of the top rows keeps U for the back substitution */
        int64_t lr = hpl_g2l(pan->gk, nb, grid->p);
        for (int64_t c = 0; c < nc; c++) {
            double *dst = mat->a + lr + (c0 + c) * lda;
            if (u.trans) for (int j = 0; j < jb; j++) dst[j] = u.u[c + j * u.ldu];
            else memcpy(dst, u.u + c * u.ldu, (size_t)jb * sizeof(double));
        }
    }
    int64_t m = pan->m;
    double *c = mat->a + (mat->mp - m) + c0 * lda;
    double prog0 = times[HPL_T_PROGRESS];
    if (m > 0 && ov != NULL && ov->active && ov->interval > 0.0) {
        /* tiles of about interval seconds: whole columns if they are tall
         * enough to be worth a DGEMM, else blocks of rows as well */
        double rate = ov->rate > 1e9 ? ov->rate : 1e10;
        double flops = rate * ov->interval, colf = 2.0 * (double)m * jb;
        int64_t cw, mr = m;
        if (colf * 256 <= flops) {
            cw = (int64_t)(flops / colf) / 64 * 64;
        } else {
            cw = 256;
            mr = (int64_t)(flops / (2.0 * cw * jb)) / 64 * 64;
            if (mr < 256) mr = 256;
            if (mr > m) mr = m;
        }
        int64_t j = 0;
        while (j < nc && ov->active && st == CB_OK) {
            int64_t w = nc - j < cw ? nc - j : cw, r = 0;
            while (r < m && ov->active && st == CB_OK) {
                int64_t h = m - r < mr ? m - r : mr;
                double g0 = cb_now();
                gemm(pan, &u, r, h, j, w, c, lda);
                double g1 = cb_now();
                if (g1 > g0) ov->rate = 0.5 * ov->rate + 0.5 * (2.0 * h * w * jb / (g1 - g0));
                r += h;
                st = overlap_progress(ov, times);
            }
            if (r < m) gemm(pan, &u, r, m - r, j, w, c, lda);   /* the broadcast is done */
            j += w;
        }
        if (j < nc) gemm(pan, &u, 0, m, j, nc - j, c, lda);
    } else if (m > 0) {
        double g0 = cb_now();
        gemm(pan, &u, 0, m, 0, nc, c, lda);
        double g1 = cb_now(), r = g1 > g0 ? 2.0 * (double)m * nc * jb / (g1 - g0) : 0.0;
        if (ov != NULL && r > 0.0) ov->rate = ov->rate > 0.0 ? 0.5 * ov->rate + 0.5 * r : r;
    }
    times[HPL_T_UPDATE] += cb_now() - t1 - (times[HPL_T_PROGRESS] - prog0);
    return st;
}
