/* MPI-3 one-sided tests, passive target: rank 0 opens an MPI_Win_lock_all
 * epoch on a window over every rank and puts, gets or adds atomically into
 * its pair peer's part, completing each iteration with MPI_Win_flush. A
 * window's operations go to `slots` distinct messages (the window's, or one
 * with --shared-recv, as OSU's). --validate, untimed, every iteration: puts
 * write fresh patterns and the target checks every slot before the origin
 * writes again; for gets the target writes fresh patterns first and the
 * origin checks every fetched slot; --inject-corruption changes a byte on its
 * way (the put's source, or the target's slot a get fetches). */
#include "mb_mpi.h"

#include <stdio.h>

enum { TAG_WRITTEN = 7501, TAG_CHECKED, TAG_FILLED, TAG_FETCHED };

/* An untimed word between origin and target: the sender's status. */
static cb_status_t say(mb_mpi_t *m, int to, int tag, cb_status_t word)
{
    int w = (int)word;
    return CB_MPI(MPI_Send(&w, 1, MPI_INT, to, tag, m->comm));
}

static cb_status_t hear(mb_mpi_t *m, int from, int tag, cb_status_t *word_p)
{
    int w = 0;
    cb_status_t st = CB_MPI(MPI_Recv(&w, 1, MPI_INT, from, tag, m->comm, MPI_STATUS_IGNORE));
    *word_p = (cb_status_t)w;
    return st;
}

/* The target's side of --validate: check the slots after each iteration's
 * puts, or write the slots each iteration's gets fetch. Its own accesses
 * are in a shared epoch of its own with MPI_Win_sync (public and private
 * copies agree), never an exclusive lock the origin's epoch would block. */
static cb_status_t target_side(mb_mpi_t *m, const mb_run_t *run, int put, int slots, cb_status_t *bad)
{
    cb_status_t st = CB_OK, peer_st = CB_OK;
    for (int i = 0; i < run->iters && st == CB_OK && peer_st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        if (put && ((st = hear(m, 0, TAG_WRITTEN, &peer_st)) != CB_OK || peer_st != CB_OK))
            break;
        st = CB_MPI(MPI_Win_lock_all(0, m->win));
        if (st == CB_OK)
            st = CB_MPI(MPI_Win_sync(m->win));
        if (st == CB_OK && put)
            mb_keep_first(bad, mb_slots_check(m->win_base, run->size, slots, seed, "put: target slots"));
        else if (st == CB_OK)
            mb_slots_fill(m->win_base, run->size, slots, seed, run->corrupt && i == 0);
        if (st == CB_OK)
            st = CB_MPI(MPI_Win_sync(m->win));
        mb_keep_first(&st, CB_MPI(MPI_Win_unlock_all(m->win)));
        if (put)
            mb_keep_first(&st, say(m, 0, TAG_CHECKED, st));
        else if ((st = say(m, 0, TAG_FILLED, st)) == CB_OK)
            st = hear(m, 0, TAG_FETCHED, &peer_st);
    }
    return st;
}

cb_status_t mb_mpi_rma_run(mb_mpi_t *m, const mb_test_t *test, const mb_run_t *run,
                           double *samples, double *msgs_p)
{
    cb_status_t st, bad = CB_OK, peer_st = CB_OK;
    int target = m->n_ranks / 2, origin = m->rank == 0;
    int bw = test->op == MB_OP_PUT_BW || test->op == MB_OP_GET_BW;
    int n = (int)run->size, w = bw ? run->window : 1, slots = bw ? run->slots : 1;
    int atomic = test->op == MB_OP_ATOMIC_LAT, put = test->op == MB_OP_PUT_LAT || test->op == MB_OP_PUT_BW;
    int v = run->validate && !atomic;
    size_t region = cb_mul_size(run->size, (size_t)slots);

    if ((st = mb_mpi_reserve(m, region, region, 0)) != CB_OK)
        return st;
    /* One window for every size of the test (creating one per size costs
     * more than the sizes' measurements over some transports), the largest
     * size's slots. */
    if (m->win == MPI_WIN_NULL) {
        size_t cap = cb_mul_size(m->max_size > sizeof(int64_t) ? m->max_size : sizeof(int64_t), (size_t)slots);
        MPI_Aint win_size = m->rank == target ? (MPI_Aint)cap : 0;
        st = CB_MPI(MPI_Win_allocate(win_size, 1, MPI_INFO_NULL, m->comm, &m->win_base, &m->win));
        if (st != CB_OK)
            m->win = MPI_WIN_NULL;
        if ((st = cb_agree(st, m->comm)) != CB_OK)
            return st;
    }
    MPI_Win win = m->win;
    if (m->rank == target && (atomic || (!put && !v))) {
        /* the atomic counts from 0; gets without --validate read a pattern */
        st = CB_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, target, 0, win));
        if (atomic)
            *(int64_t *)m->win_base = 0;
        else
            mb_slots_fill(m->win_base, run->size, slots, run->seed, 0);
        mb_keep_first(&st, CB_MPI(MPI_Win_unlock(target, win)));
    }
    *msgs_p = w;
    mb_keep_first(&st, CB_MPI(MPI_Barrier(m->comm)));
    if (st != CB_OK)
        return st;
    if (m->rank == target && v)
        st = target_side(m, run, put, slots, &bad);
    if (!origin)
        goto out;

    uint8_t *src = m->sbuf, *dst = m->rbuf;
    if ((st = CB_MPI(MPI_Win_lock_all(0, win))) != CB_OK)
        goto out;
    for (int i = 0; i < run->iters && st == CB_OK && peer_st == CB_OK; i++) {
        uint32_t seed = run->seed + (uint32_t)i;
        int64_t one = 1, old = -1;
        if (v && put)
            mb_slots_fill(src, run->size, slots, seed, run->corrupt && i == 0);
        else if (v && ((st = hear(m, target, TAG_FILLED, &peer_st)) != CB_OK || peer_st != CB_OK))
            break;
        double t0 = mb_now();
        for (int j = 0; j < w && st == CB_OK; j++) {
            size_t off = (size_t)(j % slots) * run->size;
            if (atomic)
                st = CB_MPI(MPI_Fetch_and_op(&one, &old, MPI_INT64_T, target, 0, MPI_SUM, win));
            else if (put)
                st = CB_MPI(MPI_Put(src + off, n, MPI_BYTE, target, (MPI_Aint)off, n, MPI_BYTE, win));
            else
                st = CB_MPI(MPI_Get(dst + off, n, MPI_BYTE, target, (MPI_Aint)off, n, MPI_BYTE, win));
        }
        if (st == CB_OK)
            st = CB_MPI(MPI_Win_flush(target, win));
        samples[i] = mb_now() - t0;
        if (atomic && run->validate && st == CB_OK) {
            if (run->corrupt && i == 0)
                old ^= 0x40;
            if (old != i) {
                cb_error("validation failed: %s: fetched %lld before add %d, expected %d",
                         test->name, (long long)old, i + 1, i);
                mb_keep_first(&bad, CB_ERR_CHECK);
            }
        } else if (v && put) {
            /* the flush completed the puts: the target checks, then this side writes again */
            cb_status_t s2 = say(m, target, TAG_WRITTEN, st);
            if (s2 == CB_OK && st == CB_OK)
                s2 = hear(m, target, TAG_CHECKED, &peer_st);
            mb_keep_first(&st, s2);
        } else if (v) {
            mb_keep_first(&st, say(m, target, TAG_FETCHED, st));
            if (st == CB_OK)
                mb_keep_first(&bad, mb_slots_check(dst, run->size, slots, seed, "get: fetched bytes"));
        }
    }
    mb_keep_first(&st, CB_MPI(MPI_Win_unlock_all(win)));
out:
    mb_keep_first(&st, CB_MPI(MPI_Barrier(m->comm)));
    return st != CB_OK ? st : bad;
}
