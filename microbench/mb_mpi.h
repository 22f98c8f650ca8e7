/* The MPI backend's insides, shared by its three files: point to point
 * (mb_mpi.c), collectives (mb_mpi_coll.c) and one-sided (mb_mpi_rma.c). */
#ifndef MB_MPI_H
#define MB_MPI_H

#include "mb.h"

typedef struct {
    MPI_Comm comm;
    int rank, n_ranks;
    uint8_t *sbuf, *rbuf;    /* send and receive buffers, CB_ALIGN aligned */
    size_t scap, rcap;       /* their sizes in bytes */
    MPI_Request *reqs;       /* 2 * window requests */
    int n_reqs;
    size_t max_size;         /* largest size of the run (bytes): the window's */
    MPI_Win win;             /* one-sided tests' window, made at their first run */
    uint8_t *win_base;       /* its memory on this rank (max_size bytes on the target) */
    int overlap;             /* iallreduce: this instance computes between the call and its wait */
    const char *pml_lanes;   /* params->pml_lanes */
    int threads;             /* params->threads: latency_mt's receiving threads */
} mb_mpi_t;

/* Grow the buffers to at least `send` and `recv` bytes and the requests to
 * `reqs`. Collective over m->comm (agrees on failure). */
cb_status_t mb_mpi_reserve(mb_mpi_t *m, size_t send, size_t recv, int reqs);

/* The operations of each group: same contract as mb_backend_t.run. */
cb_status_t mb_mpi_coll_run(mb_mpi_t *m, const mb_test_t *test, const mb_run_t *run,
                            double *samples, double *msgs_p);
cb_status_t mb_mpi_rma_run(mb_mpi_t *m, const mb_test_t *test, const mb_run_t *run,
                           double *samples, double *msgs_p);

#endif
