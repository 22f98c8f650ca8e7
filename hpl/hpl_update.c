/* The trailing update of one panel over a range of local columns: row swaps
 * (hpl_swap.c), U = L11^-1 U with DTRSM, then one DGEMM A22 -= L21 U. */
#include <cblas.h>
#include <string.h>
#include "hpl.h"

cb_status_t hpl_update(const hpl_panel_t *pan, hpl_matrix_t *mat, const hpl_grid_t *grid,
                       const hpl_test_t *t, int64_t c0, int64_t c1, double *work, double *times)
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
    if (pan->m > 0) {
        int64_t lr0 = mat->mp - pan->m;
        cblas_dgemm(CblasColMajor, CblasNoTrans, u.trans ? CblasTrans : CblasNoTrans, (int)pan->m, (int)nc, jb, -1.0,
                    pan->l, (int)pan->m, u.u, (int)u.ldu, 1.0, mat->a + lr0 + c0 * lda, (int)lda);
    }
    times[HPL_T_UPDATE] += cb_now() - t1;
    return CB_OK;
}
