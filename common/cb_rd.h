/* Recursive-doubling float32 sum-allreduce over MPI point-to-point, on
 * persistent requests and pre-allocated buffers for one message size (no
 * per-call set-up, no algorithm selection): log2(p2) exchange steps, plus a
 * fold in and out for the ranks beyond the largest power of two p2 <= np.
 * Shared by llm (--allreduce rd) and microbench (--alg rd). */
#ifndef CB_RD_H
#define CB_RD_H

#include <mpi.h>
#include "cb_status.h"

typedef struct cb_rd cb_rd_t;

/* Requests and buffers for messages of `count` floats. Collective over comm
 * (count must match); the status is local: agree on it. */
cb_status_t cb_rd_create(MPI_Comm comm, int count, cb_rd_t **rd_p);
/* In-place sum of buf[0..count) of the create's count; every rank gets the
 * same bits (partners add the same two vectors). Collective. */
cb_status_t cb_rd_allreduce(cb_rd_t *rd, float *buf);
int cb_rd_count(const cb_rd_t *rd);
/* Local. NULL is accepted. */
void cb_rd_free(cb_rd_t *rd);

#endif
