/* The scaled residual ||Ax-b||_oo / (eps (||A||_oo ||x||_oo + ||b||_oo) N),
 * with A and b regenerated from their seed (the factored matrix is gone). */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include "hpl.h"

cb_status_t hpl_verify(hpl_matrix_t *mat, const hpl_grid_t *grid, uint64_t seed,
                       const double *x, hpl_check_t *check)
{
    int nb = mat->nb, q = grid->q, mycol = grid->mycol;
    int64_t n = mat->n, lda = mat->lda, mp = mat->mp;
    int bcol = hpl_owner(n, nb, q);
    int64_t lcb = hpl_g2l(n, nb, q);
    int64_t nqa = hpl_numroc(n, nb, mycol, q);   /* local columns of A alone */
    double *xl = NULL, *rv = NULL;
    cb_status_t st = CB_OK;

    hpl_matrix_generate(mat, grid, seed);
    xl = cb_alloc((size_t)(nqa + 1) * sizeof(double), 0, "verification x");
    rv = cb_alloc((size_t)(2 * mp + 2) * sizeof(double), 1, "verification rows");
    if ((st = cb_agree(xl && rv ? CB_OK : CB_ERR_NOMEM, grid->all)) != CB_OK) goto out;
    double *ax = rv, *rowsum = rv + mp + 1;

    for (int64_t j = 0; j < nqa; j++) xl[j] = x[hpl_l2g(j, nb, mycol, q)];
    if (mp > 0 && nqa > 0)
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)mp, (int)nqa, 1.0, mat->a, (int)lda, xl, 1, 0.0, ax, 1);
    double bmax = 0.0;
    for (int64_t j = 0; j < nqa; j++) {
        const double *col = mat->a + j * lda;
        for (int64_t i = 0; i < mp; i++) rowsum[i] += fabs(col[i]);
    }
    if (mycol == bcol)
        for (int64_t i = 0; i < mp; i++) {
            double b = mat->a[i + lcb * lda];
            ax[i] -= b;
            if (fabs(b) > bmax || isnan(b)) bmax = isnan(b) ? INFINITY : fabs(b);
        }
    /* both row vectors summed along the process row in one reduction */
    if (q > 1 && mp > 0) st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, rv, (int)(2 * mp + 2), MPI_DOUBLE, MPI_SUM, grid->row));
    if (st != CB_OK) goto out;
    double m3[3] = { 0.0, 0.0, bmax };
    for (int64_t i = 0; i < mp; i++) {
        double a = fabs(ax[i]);
        if (a > m3[0] || isnan(a)) m3[0] = isnan(a) ? INFINITY : a;
        if (rowsum[i] > m3[1]) m3[1] = rowsum[i];
    }
    st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, m3, 3, MPI_DOUBLE, MPI_MAX, grid->all));
    if (st != CB_OK) goto out;
    double xmax = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double a = fabs(x[i]);
        if (a > xmax || isnan(a)) xmax = isnan(a) ? INFINITY : a;
    }
    check->eps = DBL_EPSILON / 2.0;
    check->rnorm = m3[0];
    check->anorm = m3[1];
    check->bnorm = m3[2];
    check->xnorm = xmax;
    check->resid = check->rnorm / (check->eps * (check->anorm * check->xnorm + check->bnorm) * (double)n);
    if (isnan(check->resid)) check->resid = INFINITY;
out:
    cb_free(rv);
    cb_free(xl);
    return st;
}
