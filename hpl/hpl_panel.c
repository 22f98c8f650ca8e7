/* Panel factorization: recursive (left, Crout, right; NDIV pieces down to
 * NBMIN columns) over unblocked leaves (left, Crout, right), with the pivot
 * search and the row exchange of each column merged into one reduction over
 * the process column. The panel's top jb x jb block T is replicated on every
 * rank of the column, the rows below (L) stay local. */
#include <math.h>
#include <string.h>
#include <cblas.h>
#include "hpl.h"

/* ================================================================ panels */

cb_status_t hpl_panel_alloc(hpl_panel_t *pan, const hpl_matrix_t *mat, int q)
{
    memset(pan, 0, sizeof(*pan));
    cb_status_t st = hpl_bcast_init(&pan->bc, q);
    if (st != CB_OK) return st;
    size_t nb = (size_t)mat->nb;
    size_t doubles = nb + nb * nb + (size_t)mat->mp * nb + 8;
    pan->storage = cb_alloc(cb_mul_size(doubles, sizeof(double)), 0, "panel");
    if (pan->storage == NULL) return CB_ERR_NOMEM;
    hpl_advise_huge(pan->storage, doubles * sizeof(double));
    return CB_OK;
}

void hpl_panel_free(hpl_panel_t *pan)
{
    hpl_bcast_free(&pan->bc);
    cb_free(pan->storage);
    pan->storage = NULL;
}

void hpl_panel_setup(hpl_panel_t *pan, const hpl_matrix_t *mat, const hpl_grid_t *grid, int k)
{
    int nb = mat->nb;
    pan->k = k;
    pan->gk = (int64_t)k * nb;
    pan->jb = (int)(mat->n - pan->gk < nb ? mat->n - pan->gk : nb);
    pan->m = mat->mp - hpl_numroc(pan->gk + pan->jb, nb, grid->myrow, grid->p);
    pan->buf = pan->storage;
    pan->ipiv = pan->storage;
    pan->t = pan->ipiv + pan->jb;
    pan->l = pan->t + (int64_t)pan->jb * pan->jb;
    pan->count = pan->jb + (int64_t)pan->jb * pan->jb + pan->m * pan->jb;
    pan->singular = 0;
}

size_t hpl_panel_work_doubles(int nb) { return (size_t)nb + 8; }

/* ================================================================ context */

typedef struct {
    double *t;        /* (jb, jb) replicated top block */
    int jb;
    double *l;        /* (m, jb), ld ldl: local rows below */
    int64_t m, ldl;
    double *ipiv;
    int64_t gk;       /* global index of T's row 0 */
    int64_t lr0;      /* local index of L's row 0 */
    int nb, p, myrow;
    MPI_Comm col;
    double *red;      /* [|v|, global row, jb, row (jb)] */
    MPI_Datatype red_type;
    MPI_Op red_op;
    const hpl_test_t *test;
    int singular;
    cb_status_t status;
} pf_t;

#define T_(f, i, j) ((f)->t[(int64_t)(i) + (int64_t)(j) * (f)->jb])
#define L_(f, i, j) ((f)->l[(int64_t)(i) + (int64_t)(j) * (f)->ldl])

/* The reduction: largest |value|, ties to the lowest global row; carries the
 * candidate's whole panel row so that the exchange needs no second message. */
static void pf_maxloc(void *in, void *inout, int *len, MPI_Datatype *type)
{
    const double *a = in;
    double *b = inout;
    (void)type;
    for (int e = 0; e < *len; e++, a += (size_t)a[2] + 3, b += (size_t)b[2] + 3)
        if (a[0] > b[0] || (a[0] == b[0] && a[1] < b[1]))
            memcpy(b, a, ((size_t)a[2] + 3) * sizeof(double));
}

/* ================================================================ one column */

/* Choose the pivot of column j, exchange it with row j across the whole
 * panel width, record it and scale the column below the diagonal. */
static void pf_pivot(pf_t *f, int j)
{
    int jb = f->jb;
    double best = -1.0;
    int64_t bg = -1, bi = -1;
    int in_t = 0;

    for (int r = j; r < jb; r++) {
        double v = fabs(T_(f, r, j));
        if (v > best) { best = v; bg = f->gk + r; bi = r; in_t = 1; }
    }
    if (f->m > 0) {
        int64_t i = (int64_t)cblas_idamax((int)f->m, &L_(f, 0, j), 1);
        double v = fabs(L_(f, i, j));
        if (v > best) {
            best = v; bi = i; in_t = 0;
            bg = hpl_l2g(f->lr0 + i, f->nb, f->myrow, f->p);
        }
    }
    if (bg < 0) { best = 0.0; bg = f->gk + j; bi = j; in_t = 1; }  /* a NaN column */

    int64_t gp = bg;
    if (f->p > 1) {
        double *red = f->red;
        red[0] = best;
        red[1] = (double)bg;
        red[2] = jb;
        if (in_t) for (int c = 0; c < jb; c++) red[3 + c] = T_(f, bi, c);
        else for (int c = 0; c < jb; c++) red[3 + c] = L_(f, bi, c);
        if (f->status == CB_OK)
            f->status = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, red, 1, f->red_type, f->red_op, f->col));
        gp = (int64_t)red[1];
        if (gp >= f->gk && gp < f->gk + jb) {
            int64_t r = gp - f->gk;
            if (r != j) cblas_dswap(jb, &T_(f, j, 0), jb, &T_(f, r, 0), jb);
        } else {
            if (hpl_owner(gp, f->nb, f->p) == f->myrow) {
                int64_t i = hpl_g2l(gp, f->nb, f->p) - f->lr0;
                cblas_dcopy(jb, &T_(f, j, 0), jb, &L_(f, i, 0), f->ldl);
            }
            cblas_dcopy(jb, red + 3, 1, &T_(f, j, 0), jb);
        }
    } else if (in_t) {
        if (bi != j) cblas_dswap(jb, &T_(f, j, 0), jb, &T_(f, bi, 0), jb);
    } else {
        cblas_dswap(jb, &T_(f, j, 0), jb, &L_(f, bi, 0), f->ldl);
    }
    f->ipiv[j] = (double)gp;

    double piv = T_(f, j, j);
    if (piv == 0.0 || !isfinite(piv)) {
        f->singular = 1;
        if (piv == 0.0) return;
    }
    double s = 1.0 / piv;
    if (jb - j - 1 > 0) cblas_dscal(jb - j - 1, s, &T_(f, j + 1, j), 1);
    if (f->m > 0) cblas_dscal((int)f->m, s, &L_(f, 0, j), 1);
}

/* ================================================================ leaves */

/* Unblocked factorization of columns [c0, c0+n); columns before c0 are
 * already applied to them. */
static void pf_leaf(pf_t *f, int c0, int n)
{
    int jb = f->jb, m = (int)f->m, ldl = (int)f->ldl;
    for (int j = c0; j < c0 + n; j++) {
        int k = j - c0, nr = c0 + n - j - 1;
        switch (f->test->pfact) {
        case HPL_FACT_RIGHT:
            pf_pivot(f, j);
            if (nr > 0) {
                cblas_dger(CblasColMajor, jb - j - 1, nr, -1.0, &T_(f, j + 1, j), 1, &T_(f, j, j + 1), jb,
                           &T_(f, j + 1, j + 1), jb);
                if (m > 0)
                    cblas_dger(CblasColMajor, m, nr, -1.0, &L_(f, 0, j), 1, &T_(f, j, j + 1), jb,
                               &L_(f, 0, j + 1), ldl);
            }
            break;
        case HPL_FACT_LEFT:
            if (k > 0) {
                cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasUnit, k, &T_(f, c0, c0), jb,
                            &T_(f, c0, j), 1);
                cblas_dgemv(CblasColMajor, CblasNoTrans, jb - j, k, -1.0, &T_(f, j, c0), jb, &T_(f, c0, j), 1,
                            1.0, &T_(f, j, j), 1);
                if (m > 0)
                    cblas_dgemv(CblasColMajor, CblasNoTrans, m, k, -1.0, &L_(f, 0, c0), ldl, &T_(f, c0, j), 1,
                                1.0, &L_(f, 0, j), 1);
            }
            pf_pivot(f, j);
            break;
        case HPL_FACT_CROUT:
            if (k > 0) {
                cblas_dgemv(CblasColMajor, CblasNoTrans, jb - j, k, -1.0, &T_(f, j, c0), jb, &T_(f, c0, j), 1,
                            1.0, &T_(f, j, j), 1);
                if (m > 0)
                    cblas_dgemv(CblasColMajor, CblasNoTrans, m, k, -1.0, &L_(f, 0, c0), ldl, &T_(f, c0, j), 1,
                                1.0, &L_(f, 0, j), 1);
            }
            pf_pivot(f, j);
            if (nr > 0 && k > 0)
                cblas_dgemv(CblasColMajor, CblasTrans, k, nr, -1.0, &T_(f, c0, j + 1), jb, &T_(f, j, c0), jb,
                            1.0, &T_(f, j, j + 1), jb);
            break;
        }
    }
}

/* ================================================================ recursion */

/* rows [r, jb) of T and all of L, columns [c, c+w), minus their product with
 * columns [s, s+k) times T[s:s+k, c:c+w]. */
static void pf_gemm_below(pf_t *f, int r, int c, int w, int s, int k)
{
    int jb = f->jb;
    if (k <= 0 || w <= 0) return;
    if (jb - r > 0)
        hpl_gemm(0, jb - r, w, k, -1.0, &T_(f, r, s), jb, &T_(f, s, c), jb, &T_(f, r, c), jb);
    if (f->m > 0)
        hpl_gemm(0, f->m, w, k, -1.0, &L_(f, 0, s), f->ldl, &T_(f, s, c), jb, &L_(f, 0, c), f->ldl);
}

/* U rows [s, s+k) of columns [c, c+w): T[s:s+k, c:c+w] = L(s:s+k)^-1 T[s:s+k, c:c+w]. */
static void pf_trsm_u(pf_t *f, int s, int k, int c, int w)
{
    if (k <= 0 || w <= 0) return;
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasUnit, k, w, 1.0, &T_(f, s, s), f->jb,
                &T_(f, s, c), f->jb);
}

static void pf_rec(pf_t *f, int c0, int n)
{
    int ndiv = f->test->ndiv, w = n / ndiv;
    if (n <= f->test->nbmin || w < 1) {
        pf_leaf(f, c0, n);
        return;
    }
    for (int i = 0; i < ndiv; i++) {
        int c = c0 + i * w, wd = i == ndiv - 1 ? n - (ndiv - 1) * w : w;
        int k = c - c0, nr = c0 + n - c - wd;
        switch (f->test->rfact) {
        case HPL_FACT_RIGHT:
            pf_rec(f, c, wd);
            if (nr > 0) {
                pf_trsm_u(f, c, wd, c + wd, nr);
                pf_gemm_below(f, c + wd, c + wd, nr, c, wd);
            }
            break;
        case HPL_FACT_LEFT:
            if (k > 0) {
                pf_trsm_u(f, c0, k, c, wd);
                pf_gemm_below(f, c, c, wd, c0, k);
            }
            pf_rec(f, c, wd);
            break;
        case HPL_FACT_CROUT:
            if (k > 0) pf_gemm_below(f, c, c, wd, c0, k);
            pf_rec(f, c, wd);
            if (nr > 0) {
                if (k > 0)
                    hpl_gemm(0, wd, nr, k, -1.0, &T_(f, c, c0), f->jb, &T_(f, c0, c + wd), f->jb, &T_(f, c, c + wd),
                             f->jb);
                pf_trsm_u(f, c, wd, c + wd, nr);
            }
            break;
        }
    }
}

/* ================================================================ driver */

cb_status_t hpl_panel_factor(hpl_panel_t *pan, hpl_matrix_t *mat, const hpl_grid_t *grid,
                             const hpl_test_t *t, double *work)
{
    int nb = mat->nb, jb = pan->jb;
    int64_t lc = hpl_g2l(pan->gk, nb, grid->q);
    int64_t lr_top = hpl_numroc(pan->gk, nb, grid->myrow, grid->p);
    int64_t lr0 = hpl_numroc(pan->gk + jb, nb, grid->myrow, grid->p);
    int prow = hpl_owner(pan->gk, nb, grid->p);
    int64_t lda = mat->lda;
    cb_status_t st = CB_OK;

    pf_t f = {
        .t = pan->t, .jb = jb, .l = pan->l, .m = pan->m, .ldl = pan->m > 0 ? pan->m : 1,
        .ipiv = pan->ipiv, .gk = pan->gk, .lr0 = lr0, .nb = nb, .p = grid->p, .myrow = grid->myrow,
        .col = grid->col, .red = work, .red_type = MPI_DATATYPE_NULL, .red_op = MPI_OP_NULL,
        .test = t, .singular = 0, .status = CB_OK,
    };

    for (int c = 0; c < jb; c++) {
        if (pan->m > 0) memcpy(&L_(&f, 0, c), mat->a + lr0 + (lc + c) * lda, (size_t)pan->m * sizeof(double));
        if (grid->myrow == prow) memcpy(&T_(&f, 0, c), mat->a + lr_top + (lc + c) * lda, (size_t)jb * sizeof(double));
    }
    if (grid->p > 1) {
        st = CB_MPI(MPI_Bcast(pan->t, jb * jb, MPI_DOUBLE, prow, grid->col));
        if (st == CB_OK) st = CB_MPI(MPI_Type_contiguous(jb + 3, MPI_DOUBLE, &f.red_type));
        if (st == CB_OK) st = CB_MPI(MPI_Type_commit(&f.red_type));
        if (st == CB_OK) st = CB_MPI(MPI_Op_create(pf_maxloc, 1, &f.red_op));
        if (st != CB_OK) goto out_free;
    }

    pf_rec(&f, 0, jb);
    st = f.status;
    pan->singular = f.singular;

    if (grid->myrow == prow)
        for (int c = 0; c < jb; c++)
            memcpy(mat->a + lr_top + (lc + c) * lda, &T_(&f, 0, c), (size_t)jb * sizeof(double));
out_free:
    if (f.red_op != MPI_OP_NULL) MPI_Op_free(&f.red_op);
    if (f.red_type != MPI_DATATYPE_NULL) MPI_Type_free(&f.red_type);
    return st;
}
