/* Back substitution U x = y after the factorization (y is column N of the
 * factored [A | b]): block by block from the last, the diagonal owner gets
 * its block of y reduced along its process row, solves with DTRSV and
 * broadcasts x down its column, whose ranks fold it into their partial sums.
 * x ends replicated on every rank. */
#include <cblas.h>
#include <string.h>
#include "hpl.h"

cb_status_t hpl_solve_upper(const hpl_matrix_t *mat, const hpl_grid_t *grid, double *x)
{
    int nb = mat->nb, p = grid->p, q = grid->q, myrow = grid->myrow, mycol = grid->mycol;
    int64_t n = mat->n, lda = mat->lda;
    int npan = (int)((n + nb - 1) / nb);
    int bcol = hpl_owner(n, nb, q);
    int64_t lcb = hpl_g2l(n, nb, q);
    double *acc = NULL, *r = NULL;
    cb_status_t st = CB_OK;

    acc = cb_alloc((size_t)(mat->mp + 1) * sizeof(double), 1, "solve partial sums");
    r = cb_alloc((size_t)(nb + 1) * sizeof(double), 0, "solve block");
    if ((st = cb_agree(acc && r ? CB_OK : CB_ERR_NOMEM, grid->all)) != CB_OK) goto out;
    memset(x, 0, (size_t)n * sizeof(double));

    for (int k = npan - 1; k >= 0 && st == CB_OK; k--) {
        int64_t gk = (int64_t)k * nb;
        int jb = (int)(n - gk < nb ? n - gk : nb);
        int prow = hpl_owner(gk, nb, p), pcol = hpl_owner(gk, nb, q);
        if (myrow == prow) {
            int64_t lr = hpl_g2l(gk, nb, p);
            for (int i = 0; i < jb; i++)
                r[i] = (mycol == bcol ? mat->a[lr + i + lcb * lda] : 0.0) - acc[lr + i];
            if (q > 1) {
                if (mycol == pcol) st = CB_MPI(MPI_Reduce(MPI_IN_PLACE, r, jb, MPI_DOUBLE, MPI_SUM, pcol, grid->row));
                else st = CB_MPI(MPI_Reduce(r, NULL, jb, MPI_DOUBLE, MPI_SUM, pcol, grid->row));
            }
            if (st == CB_OK && mycol == pcol) {
                int64_t lc = hpl_g2l(gk, nb, q);
                cblas_dtrsv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit, jb, mat->a + lr + lc * lda,
                            (int)lda, r, 1);
            }
        }
        if (st == CB_OK && mycol == pcol) {
            if (p > 1) st = CB_MPI(MPI_Bcast(r, jb, MPI_DOUBLE, prow, grid->col));
            if (st != CB_OK) break;
            /* the copy of row 0 alone is summed into the replicated x below */
            if (myrow == 0) memcpy(x + gk, r, (size_t)jb * sizeof(double));
            int64_t nr = hpl_numroc(gk, nb, myrow, p);
            int64_t lc = hpl_g2l(gk, nb, q);
            if (nr > 0)
                cblas_dgemv(CblasColMajor, CblasNoTrans, (int)nr, jb, 1.0, mat->a + lc * lda, (int)lda, r, 1, 1.0,
                            acc, 1);
        }
    }
    if (st == CB_OK && (p > 1 || q > 1)) {
        if (n > 0x7fffffff) { cb_error("N too large for one reduction"); st = CB_ERR_UNSUPPORTED; }
        else st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, grid->all));
    }
out:
    cb_free(r);
    cb_free(acc);
    return st;
}
