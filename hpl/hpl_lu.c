/* The right-looking blocked LU of [A | b] on the grid, with look-ahead depth
 * 0 to HPL_MAX_DEPTH, then the back substitution.
 *
 * Depth d >= 1 keeps d + 1 panels (netlib's order, HPL_pdgesvK2): for each
 * new panel k, the process column that owns it first applies panels
 * k-d .. k-1 to its columns and factors it; then every rank starts k's
 * broadcast and, while it is in flight, applies panel k-d to all the columns
 * after panel k (the rest of the trailing update), progressing the broadcast
 * between DGEMM tiles of a bounded length; only then does it wait for it.
 * Every column receives the panels' updates in the panels' order, so the
 * factorization (and x) is the same, bit for bit, at any depth. Depth 0 is
 * the plain loop: factor, broadcast, update. */
#include <string.h>
#include "hpl.h"

typedef struct {
    hpl_matrix_t *mat;
    const hpl_grid_t *grid;
    const hpl_test_t *t;
    double *pwork, *uwork, *times;
    int singular;
} lu_t;

static cb_status_t factor_timed(lu_t *lu, hpl_panel_t *pan)
{
    double t0 = cb_now();
    cb_status_t st = hpl_panel_factor(pan, lu->mat, lu->grid, lu->t, lu->pwork);
    lu->times[HPL_T_PFACT] += cb_now() - t0;
    lu->singular |= pan->singular;
    return st;
}

static cb_status_t bcast_start(lu_t *lu, hpl_panel_t *pan)
{
    int q = lu->grid->q;
    double t0 = cb_now();
    pan->bc_start_at = t0;
    pan->bc_done_at = 0.0;
    cb_status_t st = hpl_bcast_start(&pan->bc, lu->grid->row, (int)(pan->k % q), lu->t->bcast, pan->buf,
                                     pan->count, pan->k & 1);
    double t1 = cb_now();
    pan->bc_exposed = t1 - t0;
    if (st == CB_OK && !pan->bc.active) pan->bc_done_at = t1;
    return st;
}

static cb_status_t bcast_wait(lu_t *lu, hpl_panel_t *pan)
{
    double t0 = cb_now();
    cb_status_t st = hpl_bcast_wait(&pan->bc);
    double t1 = cb_now();
    if (pan->bc_done_at == 0.0) pan->bc_done_at = t1;
    pan->bc_exposed += t1 - t0;
    double inflight = pan->bc_done_at - pan->bc_start_at;
    lu->times[HPL_T_BCAST] += pan->bc_exposed;
    lu->times[HPL_T_INFLIGHT] += inflight;
    if (inflight > pan->bc_exposed) lu->times[HPL_T_HIDDEN] += inflight - pan->bc_exposed;
    return st;
}

/* first local column at or after global column g */
static int64_t lcol(const lu_t *lu, int64_t g)
{
    return hpl_numroc(g, lu->mat->nb, lu->grid->mycol, lu->grid->q);
}

static cb_status_t update(lu_t *lu, const hpl_panel_t *pan, int64_t c0, int64_t c1, hpl_overlap_t *ov)
{
    return hpl_update(pan, lu->mat, lu->grid, lu->t, c0, c1, lu->uwork, lu->times, ov);
}

cb_status_t hpl_lu_solve(hpl_matrix_t *mat, const hpl_grid_t *grid, const hpl_test_t *t,
                         double progress_s, double *x, double *times, int *singular_p)
{
    int nb = mat->nb, q = grid->q, mycol = grid->mycol, d = t->depth;
    int npan = (int)((mat->n + nb - 1) / nb);
    int64_t nq = mat->nq;
    hpl_panel_t pan[HPL_MAX_DEPTH + 1];
    lu_t lu = { .mat = mat, .grid = grid, .t = t, .times = times };
    cb_status_t st = CB_OK;

    for (int i = 0; i < HPL_T_COUNT; i++) times[i] = 0.0;
    memset(pan, 0, sizeof(pan));
    if (d < 0 || d > HPL_MAX_DEPTH) {
        cb_error("look-ahead depth %d: this solver implements 0 to %d", d, HPL_MAX_DEPTH);
        return cb_agree(CB_ERR_UNSUPPORTED, grid->all);
    }
    /* workspace for the whole run, agreed on before any rank communicates */
    for (int i = 0; i <= d && st == CB_OK; i++) st = hpl_panel_alloc(&pan[i], mat, grid->q);
    lu.pwork = cb_alloc(hpl_panel_work_doubles(nb) * sizeof(double), 0, "panel work");
    lu.uwork = cb_alloc(cb_mul_size(hpl_update_work_doubles(nb, nq, grid->p), sizeof(double)), 0, "update work");
    if (st == CB_OK && (lu.pwork == NULL || lu.uwork == NULL)) st = CB_ERR_NOMEM;
    if ((st = cb_agree(st, grid->all)) != CB_OK) goto out_work;

#define PAN(k) (&pan[(k) % (d + 1)])
#define OWNS(k) (mycol == (int)((k) % q))
    if (d == 0) {
        for (int k = 0; k < npan && st == CB_OK; k++) {
            hpl_panel_t *cur = PAN(k);
            hpl_panel_setup(cur, mat, grid, k);
            if (OWNS(k)) st = factor_timed(&lu, cur);
            if (st == CB_OK) st = bcast_start(&lu, cur);
            if (st == CB_OK) st = bcast_wait(&lu, cur);
            if (st == CB_OK) st = update(&lu, cur, lcol(&lu, cur->gk + cur->jb), nq, NULL);
            if (mycol == 0 && grid->myrow == 0) cb_progress("LU %d%%", (int)(100.0 * (k + 1) / npan));
        }
    } else {
        hpl_overlap_t ov = { .pan = NULL, .interval = progress_s, .rate = 0.0, .active = 0 };
        for (int k = 0; k < npan && st == CB_OK; k++) {
            hpl_panel_t *cur = PAN(k);
            hpl_panel_setup(cur, mat, grid, k);
            int first = k - d > 0 ? k - d : 0;
            if (OWNS(k)) {
                /* bring the new panel's columns up to date, then factor it */
                int64_t p0 = lcol(&lu, cur->gk), p1 = lcol(&lu, cur->gk + cur->jb);
                for (int i = first; i < k && st == CB_OK; i++) st = update(&lu, PAN(i), p0, p1, NULL);
                if (st == CB_OK) st = factor_timed(&lu, cur);
            }
            if (st == CB_OK) st = bcast_start(&lu, cur);
            if (st == CB_OK && k >= d) {
                /* the rest of panel k-d's update, while k is in flight */
                ov.pan = cur;
                ov.active = cur->bc.active;
                st = update(&lu, PAN(k - d), lcol(&lu, cur->gk + cur->jb), nq, &ov);
            }
            if (st == CB_OK) st = bcast_wait(&lu, cur);
            if (mycol == 0 && grid->myrow == 0) cb_progress("LU %d%%", (int)(100.0 * (k + 1) / npan));
        }
        /* the last d panels still owe their update to the columns after them (b) */
        for (int i = npan - d > 0 ? npan - d : 0; i < npan && st == CB_OK; i++)
            st = update(&lu, PAN(i), lcol(&lu, mat->n), nq, NULL);
    }
#undef OWNS
#undef PAN
    if (grid->iam == 0) cb_progress_done();
    /* a failed MPI call leaves the others waiting: agree before the solve */
    st = cb_agree(st, grid->all);
    if (st == CB_OK) {
        double t0 = cb_now();
        st = hpl_solve_upper(mat, grid, x);
        times[HPL_T_SOLVE] += cb_now() - t0;
    }
    if (st == CB_OK) st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, &lu.singular, 1, MPI_INT, MPI_MAX, grid->all));
    *singular_p = lu.singular;
out_work:
    cb_free(lu.uwork);
    cb_free(lu.pwork);
    for (int i = 0; i <= HPL_MAX_DEPTH; i++)
        hpl_panel_free(&pan[i]);
    return st;
}
