/* ScaLAPACK beside hpl: PDGESV on the same generated system and the same
 * grid, a cross-check of the solver and a baseline for its speed. */
#include <string.h>
#include "config.h"
#include "hpl.h"

#ifdef HAVE_SCALAPACK
void Cblacs_get(int ctxt, int what, int *val);
void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
void Cblacs_gridexit(int ctxt);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
               const int *icsrc, const int *ictxt, const int *lld, int *info);
void pdgesv_(const int *n, const int *nrhs, double *a, const int *ia, const int *ja, const int *desca, int *ipiv,
             double *b, const int *ib, const int *jb, const int *descb, int *info);

cb_status_t hpl_scalapack_solve(hpl_matrix_t *mat, const hpl_grid_t *grid, double *x, int *info_p)
{
    int nb = mat->nb, q = grid->q;
    int64_t n64 = mat->n;
    cb_status_t st = CB_OK;
    if (n64 > 0x7fffffff || mat->lda > 0x7fffffff) {
        cb_error("N %lld is too large for ScaLAPACK's 32-bit indices", (long long)n64);
        return CB_ERR_UNSUPPORTED;
    }
    int n = (int)n64, one = 1, zero = 0, lld = (int)mat->lda, info = 0, ctxt;
    int bcol = hpl_owner(n64, nb, q);
    int64_t lcb = hpl_g2l(n64, nb, q);
    int desca[9], descb[9];
    int *ipiv = cb_alloc((size_t)(mat->mp + nb) * sizeof(int), 0, "ScaLAPACK pivots");
    if ((st = cb_agree(ipiv ? CB_OK : CB_ERR_NOMEM, grid->all)) != CB_OK) {
        cb_free(ipiv);
        return st;
    }

    /* BLACS numbers the grid as MPI_COMM_WORLD's first P*Q ranks, as hpl_grid does */
    Cblacs_get(0, 0, &ctxt);
    Cblacs_gridinit(&ctxt, grid->pmap == HPL_PMAP_ROW ? "Row" : "Col", grid->p, grid->q);
    descinit_(desca, &n, &n, &nb, &nb, &zero, &zero, &ctxt, &lld, &info);
    if (info == 0) descinit_(descb, &n, &one, &nb, &nb, &zero, &bcol, &ctxt, &lld, &info);
    if (info != 0) {
        cb_error("ScaLAPACK descinit failed (info %d)", info);
        st = CB_ERR_INTERNAL;
        goto out;
    }
    /* b lives in column N of the local array; its descriptor starts there */
    double *b = mat->a + (grid->mycol == bcol ? lcb * mat->lda : 0);
    pdgesv_(&n, &one, mat->a, &one, &one, desca, ipiv, b, &one, &one, descb, &info);
    *info_p = info;

    memset(x, 0, (size_t)n * sizeof(double));
    if (grid->mycol == bcol)
        for (int64_t il = 0; il < mat->mp; il++) {
            int64_t gi = hpl_l2g(il, nb, grid->myrow, grid->p);
            x[gi] = b[il];
        }
    st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, grid->all));
out:
    Cblacs_gridexit(ctxt);
    cb_free(ipiv);
    return st;
}
#else
cb_status_t hpl_scalapack_solve(hpl_matrix_t *mat, const hpl_grid_t *grid, double *x, int *info_p)
{
    (void)mat; (void)grid; (void)x; (void)info_p;
    cb_error("--solver scalapack: this build has no ScaLAPACK (configure --with-scalapack)");
    return CB_ERR_UNSUPPORTED;
}
#endif
