/* The UCX backend's insides, shared by its two files: set-up (contexts,
 * endpoints, registered memory: mb_ucx.c) and the tests (mb_ucx_run.c). */
#ifndef MB_UCX_H
#define MB_UCX_H

#include <ucp/api/ucp.h>
#include "mb.h"

#define MB_UCX_AM_ID 7     /* active message handler of ucx_am_lat */
#define MB_UCX_TAG_DATA 1
#define MB_UCX_TAG_ACK 2

/* Registered memory of one run: a buffer UCX allocated and registered (so
 * that shared-memory transports can map it) and, with it, the peer's
 * buffer address and remote key. */
typedef struct {
    ucp_mem_h local;          /* the registration of `addr` */
    void *addr;               /* this rank's buffer, zeroed */
    ucp_rkey_h rkey;          /* the peer's key */
    uint64_t remote_addr;     /* the peer's buffer */
} mb_ucx_mem_t;

/* One UCP context over one transport set, connected to this rank's pair
 * peer. Only the ranks of pair 0 (0 and np/2) open UCX; the others hold an
 * instance with no context and only take part in the MPI exchanges. */
typedef struct {
    MPI_Comm comm;
    int rank, n_ranks;
    int active;               /* this rank is in pair 0 */
    int peer;                 /* the other rank of pair 0 */
    char set[MB_NAME_LEN];    /* as given to --tls: "posix+cma" */
    ucp_context_h context;
    ucp_worker_h worker;
    ucp_ep_h ep;
    uint8_t *sbuf, *rbuf;     /* local buffers, registered for each run */
    size_t scap, rcap;        /* bytes */
    volatile int am_arrived;  /* set by the active message handler */
    size_t am_length;         /* bytes of the last active message */
    void *am_desc;            /* its rendezvous descriptor, or NULL (eager) */
    mb_ucx_mem_t rma;         /* the RMA tests' registered memory, kept from run to run */
    size_t rma_len;           /* its length in bytes; 0: none */
} mb_ucx_t;

/* Wait for a request of a non-blocking call (NULL: done at once), progress
 * the worker meanwhile and free it. Local. */
cb_status_t mb_ucx_wait(mb_ucx_t *u, void *req, const char *what);

/* Grow the local buffers. Collective (agrees). */
cb_status_t mb_ucx_reserve(mb_ucx_t *u, size_t send, size_t recv);

/* Allocate and register `len` bytes and swap keys with the peer.
 * Collective over u->comm (agrees); inactive ranks get zeros. */
cb_status_t mb_ucx_mem_exchange(mb_ucx_t *u, size_t len, mb_ucx_mem_t *mem);
/* Release them. Local. */
void mb_ucx_mem_release(mb_ucx_t *u, mb_ucx_mem_t *mem);
/* The RMA tests' memory of `len` bytes, zeroed: mapped and keys swapped
 * only when the length changes, so that the warm-up and the timed run of a
 * size use the same buffers and registrations. Collective (agrees). */
cb_status_t mb_ucx_rma_mem(mb_ucx_t *u, size_t len, mb_ucx_mem_t **mem_p);

/* An MPI barrier that keeps progressing the worker while it waits, so that
 * a peer's operations needing this side's progress complete. Collective. */
cb_status_t mb_ucx_barrier(mb_ucx_t *u);

/* The tests: same contract as mb_backend_t.run. */
cb_status_t mb_ucx_run(void *inst, const mb_test_t *test, const mb_run_t *run,
                       double *samples, double *msgs_p);

#endif
