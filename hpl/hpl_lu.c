/* The right-looking blocked LU of [A | b] on the grid, with look-ahead depth
 * 0 or 1: at depth 1 the column that owns the next panel updates those
 * columns first, factors and starts broadcasting it, and only then updates
 * the rest, while every other column progresses the broadcast between
 * chunks of its update. Then the back substitution. */
#include <string.h>
#include "hpl.h"

/* Update local columns [c0, c1) with `cur` in chunks, progressing `next`'s
 * broadcast between them (when `next` is given). */
static cb_status_t update_chunked(const hpl_panel_t *cur, hpl_panel_t *next, hpl_matrix_t *mat,
                                  const hpl_grid_t *grid, const hpl_test_t *t, int64_t c0, int64_t c1,
                                  int64_t chunk, double *work, double *times)
{
    cb_status_t st = CB_OK;
    for (int64_t c = c0; c < c1 && st == CB_OK; c += chunk) {
        int64_t e = c + chunk < c1 ? c + chunk : c1;
        st = hpl_update(cur, mat, grid, t, c, e, work, times);
        if (st == CB_OK && next != NULL) {
            int done;
            double t0 = cb_now();
            st = hpl_bcast_progress(&next->bc, &done);
            times[HPL_T_BCAST] += cb_now() - t0;
        }
    }
    return st;
}

static cb_status_t factor_timed(hpl_panel_t *pan, hpl_matrix_t *mat, const hpl_grid_t *grid,
                                const hpl_test_t *t, double *work, double *times, int *singular)
{
    double t0 = cb_now();
    cb_status_t st = hpl_panel_factor(pan, mat, grid, t, work);
    times[HPL_T_PFACT] += cb_now() - t0;
    *singular |= pan->singular;
    return st;
}

cb_status_t hpl_lu_solve(hpl_matrix_t *mat, const hpl_grid_t *grid, const hpl_test_t *t,
                         double *x, double *times, int *singular_p)
{
    int nb = mat->nb, q = grid->q, mycol = grid->mycol;
    int npan = (int)((mat->n + nb - 1) / nb);
    int64_t nq = mat->nq;
    hpl_panel_t pan[2];
    double *pwork = NULL, *uwork = NULL;
    int singular = 0;
    cb_status_t st;

    for (int i = 0; i < HPL_T_COUNT; i++) times[i] = 0.0;
    memset(pan, 0, sizeof(pan));
    /* workspace for the whole run, agreed on before any rank communicates */
    st = hpl_panel_alloc(&pan[0], mat);
    if (st == CB_OK) st = hpl_panel_alloc(&pan[1], mat);
    pwork = cb_alloc(hpl_panel_work_doubles(nb) * sizeof(double), 0, "panel work");
    uwork = cb_alloc(cb_mul_size(hpl_update_work_doubles(nb, nq, grid->p), sizeof(double)), 0, "update work");
    if (st == CB_OK && (pwork == NULL || uwork == NULL)) st = CB_ERR_NOMEM;
    if ((st = cb_agree(st, grid->all)) != CB_OK) goto out_work;

    /* chunks small enough to progress the broadcast, large enough for DGEMM */
    int64_t chunk = nq > 0 ? nq : 1;
    if (t->depth > 0 && q > 1) {
        chunk = (nq / 8 + nb - 1) / nb * nb;
        if (chunk < 2 * nb) chunk = 2 * nb;
    }

#define PCOL(k) ((int)((k) % q))
    if (t->depth == 0) {
        for (int k = 0; k < npan && st == CB_OK; k++) {
            hpl_panel_t *cur = &pan[0];
            hpl_panel_setup(cur, mat, grid, k);
            if (mycol == PCOL(k)) st = factor_timed(cur, mat, grid, t, pwork, times, &singular);
            if (st != CB_OK) break;
            double t0 = cb_now();
            st = hpl_bcast_start(&cur->bc, grid->row, PCOL(k), t->bcast, cur->buf, cur->count, k & 1);
            if (st == CB_OK) st = hpl_bcast_wait(&cur->bc);
            times[HPL_T_BCAST] += cb_now() - t0;
            if (st != CB_OK) break;
            int64_t c0 = hpl_numroc(cur->gk + cur->jb, nb, mycol, q);
            st = hpl_update(cur, mat, grid, t, c0, nq, uwork, times);
            if (mycol == PCOL(0) && grid->myrow == 0) cb_progress("LU %d%%", (int)(100.0 * (k + 1) / npan));
        }
    } else {
        hpl_panel_setup(&pan[0], mat, grid, 0);
        if (mycol == PCOL(0)) st = factor_timed(&pan[0], mat, grid, t, pwork, times, &singular);
        if (st == CB_OK) {
            double t0 = cb_now();
            st = hpl_bcast_start(&pan[0].bc, grid->row, PCOL(0), t->bcast, pan[0].buf, pan[0].count, 0);
            times[HPL_T_BCAST] += cb_now() - t0;
        }
        for (int k = 0; k < npan && st == CB_OK; k++) {
            hpl_panel_t *cur = &pan[k & 1], *nxt = &pan[(k + 1) & 1];
            double t0 = cb_now();
            st = hpl_bcast_wait(&cur->bc);
            times[HPL_T_BCAST] += cb_now() - t0;
            if (st != CB_OK) break;
            int64_t c0 = hpl_numroc(cur->gk + cur->jb, nb, mycol, q);
            if (k + 1 >= npan) {
                st = hpl_update(cur, mat, grid, t, c0, nq, uwork, times);
                break;
            }
            hpl_panel_setup(nxt, mat, grid, k + 1);
            if (mycol == PCOL(k + 1)) {
                int64_t c1 = hpl_numroc(nxt->gk + nxt->jb, nb, mycol, q);
                st = hpl_update(cur, mat, grid, t, c0, c1, uwork, times);
                if (st == CB_OK) st = factor_timed(nxt, mat, grid, t, pwork, times, &singular);
                if (st == CB_OK) {
                    t0 = cb_now();
                    st = hpl_bcast_start(&nxt->bc, grid->row, PCOL(k + 1), t->bcast, nxt->buf, nxt->count, (k + 1) & 1);
                    times[HPL_T_BCAST] += cb_now() - t0;
                }
                if (st == CB_OK) st = update_chunked(cur, nxt, mat, grid, t, c1, nq, chunk, uwork, times);
            } else {
                t0 = cb_now();
                st = hpl_bcast_start(&nxt->bc, grid->row, PCOL(k + 1), t->bcast, nxt->buf, nxt->count, (k + 1) & 1);
                times[HPL_T_BCAST] += cb_now() - t0;
                if (st == CB_OK) st = update_chunked(cur, nxt, mat, grid, t, c0, nq, chunk, uwork, times);
            }
            if (mycol == PCOL(0) && grid->myrow == 0) cb_progress("LU %d%%", (int)(100.0 * (k + 1) / npan));
        }
    }
#undef PCOL
    if (grid->iam == 0) cb_progress_done();
    /* a failed MPI call leaves the others waiting: agree before the solve */
    st = cb_agree(st, grid->all);
    if (st == CB_OK) {
        double t0 = cb_now();
        st = hpl_solve_upper(mat, grid, x);
        times[HPL_T_SOLVE] += cb_now() - t0;
    }
    if (st == CB_OK) st = CB_MPI(MPI_Allreduce(MPI_IN_PLACE, &singular, 1, MPI_INT, MPI_MAX, grid->all));
    *singular_p = singular;
out_work:
    cb_free(uwork);
    cb_free(pwork);
    hpl_panel_free(&pan[1]);
    hpl_panel_free(&pan[0]);
    return st;
}
