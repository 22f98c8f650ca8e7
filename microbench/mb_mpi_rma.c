/* MPI-3 one-sided tests, passive target: rank 0 opens an MPI_Win_lock_all
 * epoch on a window over every rank and puts, gets or adds atomically into
 * its pair peer's part, completing each iteration with MPI_Win_flush. */
#include "mb_mpi.h"

#include <stdio.h>

/* Check the target's window after the origin's last put. Collective: the
 * barrier orders the origin's completed epoch before the target reads. */
static cb_status_t check_target(mb_mpi_t *m, MPI_Win win, const uint8_t *base,
                                const mb_run_t *run, int target)
{
    cb_status_t st = CB_MPI(MPI_Barrier(m->comm));
    if (st != CB_OK || m->rank != target || run->iters == 0)
        return st;
    /* Synchronise the public and private copies of the window. */
    st = CB_MPI(MPI_Win_lock_all(0, win));
    if (st == CB_OK)
        st = CB_MPI(MPI_Win_sync(win));
    if (st == CB_OK)
        st = CB_MPI(MPI_Win_unlock_all(win));
    if (st == CB_OK)
        st = mb_pattern_check((void *)base, run->size, run->seed + (uint32_t)(run->iters - 1),
                              run->corrupt, "put: target window");
    return st;
}

cb_status_t mb_mpi_rma_run(mb_mpi_t *m, const mb_test_t *test, const mb_run_t *run,
                           double *samples, double *msgs_p)
{
    cb_status_t st, bad = CB_OK;
    int target = m->n_ranks / 2, origin = m->rank == 0;
    int n = (int)run->size, w = test->op == MB_OP_PUT_BW || test->op == MB_OP_GET_BW ? run->window : 1;
    int atomic = test->op == MB_OP_ATOMIC_LAT, put = test->op == MB_OP_PUT_LAT || test->op == MB_OP_PUT_BW;

    if ((st = mb_mpi_reserve(m, run->size, run->size, 0)) != CB_OK)
        return st;
    /* One window for every size of the test (creating one per size costs
     * more than the sizes' measurements over some transports). */
    if (m->win == MPI_WIN_NULL) {
        size_t cap = m->max_size > sizeof(int64_t) ? m->max_size : sizeof(int64_t);
        MPI_Aint win_size = m->rank == target ? (MPI_Aint)cap : 0;
        st = CB_MPI(MPI_Win_allocate(win_size, 1, MPI_INFO_NULL, m->comm, &m->win_base, &m->win));
        if (st != CB_OK)
            m->win = MPI_WIN_NULL;
        if ((st = cb_agree(st, m->comm)) != CB_OK)
            return st;
    }
    MPI_Win win = m->win;
    uint8_t *base = m->win_base;
    if (m->rank == target) {
        /* gets read a known pattern; the atomic counts from 0 */
        st = CB_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, win));
        if (atomic)
            *(int64_t *)base = 0;
        else if (!put)
            mb_pattern_fill(base, run->size, run->seed);
        mb_keep_first(&st, CB_MPI(MPI_Win_unlock(target, win)));
    }
    *msgs_p = w;
    mb_keep_first(&st, CB_MPI(MPI_Barrier(m->comm)));
    if (st != CB_OK)
        return st;
    if (!origin)
        goto out_check;

    if ((st = CB_MPI(MPI_Win_lock_all(0, win))) != CB_OK)
        goto out_check;
    for (int i = 0; i < run->iters && st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        int64_t one = 1, old = -1;
        if (run->validate && put)
            mb_pattern_fill(m->sbuf, run->size, seed);
        double t0 = mb_now();
        for (int j = 0; j < w && st == CB_OK; j++) {
            if (atomic)
                st = CB_MPI(MPI_Fetch_and_op(&one, &old, MPI_INT64_T, target, 0, MPI_SUM, win));
            else if (put)
                st = CB_MPI(MPI_Put(m->sbuf, n, MPI_BYTE, target, 0, n, MPI_BYTE, win));
            else
                st = CB_MPI(MPI_Get(m->rbuf, n, MPI_BYTE, target, 0, n, MPI_BYTE, win));
        }
        if (st == CB_OK)
            st = CB_MPI(MPI_Win_flush(target, win));
        samples[i] = mb_now() - t0;
        if (!run->validate || st != CB_OK)
            continue;
        if (atomic) {
            if (run->corrupt && i == 0)
                old ^= 0x40;
            if (old != i) {
                cb_error("validation failed: %s: fetched %lld before add %d, expected %d",
                         test->name, (long long)old, i + 1, i);
                mb_keep_first(&bad, CB_ERR_CHECK);
            }
        } else if (!put) {
            mb_keep_first(&bad, mb_pattern_check(m->rbuf, run->size, run->seed, run->corrupt && i == 0,
                                           "get: fetched bytes"));
        }
    }
    mb_keep_first(&st, CB_MPI(MPI_Win_unlock_all(win)));

out_check:
    if (run->validate && put)
        mb_keep_first(&bad, check_target(m, win, base, run, target));
    return st != CB_OK ? st : bad;
}
