/* The UCX collective layer: a UCP context and worker per rank, endpoints to
 * every peer, receive buffers registered once (remote keys exchanged once)
 * and the float32 sum-allreduce algorithms built on them, shared by llm and
 * microbench. Every algorithm sums the contributions in rank order, so every
 * rank (and every algorithm of this layer) ends with the same bits. */
#ifndef CB_UCOLL_H
#define CB_UCOLL_H

#include <stddef.h>
#include <mpi.h>
#include "cb_status.h"

/* Where every peer is mapped (shared memory: ucp_rkey_ptr gives a pointer),
 * the put-based algorithms store straight into the peers' memory instead of
 * calling ucp_put, and oneshot does so in chunks with a flag each (the
 * reading of one chunk overlaps the writing of the next). Sums are cb_fsum's
 * (vector instructions, the bits of the plain loop). A wait spins, then
 * leaves the core: it blocks on the worker's wake-up descriptor when it
 * waits for the network, sleeps when it waits for a peer's stores.
 * Environment: CB_UCOLL_SPIN_US (how long a wait spins; default 20 for the
 * network and 5000 for shared memory, or 0 and 50 where the ranks on one
 * machine, emulated cluster hosts included, outnumber its cores),
 * CB_UCOLL_CALIBRATE=0 (auto by the fixed thresholds below instead of the
 * algorithms timed at start-up), CB_UCOLL_WAKEUP=0 (no wake-up descriptor:
 * waits sleep), CB_UCOLL_NT=1 (streaming stores into mapped peers),
 * CB_UCOLL_PREFETCH=1 (pull prefetches the peers' vectors). */
typedef enum {
    CB_UCOLL_ONESHOT = 0, /* np-1 puts (or stores) of n floats + a flag each, 1 step */
    CB_UCOLL_TWOSHOT,     /* reduce-scatter then allgather by puts: 2(np-1) puts of n/np, 2 steps */
    CB_UCOLL_AM,          /* oneshot over active messages: np-1 messages of n floats, 1 step */
    CB_UCOLL_AM_TWOSHOT,  /* twoshot over active messages: 2(np-1) messages of n/np, 2 steps */
    CB_UCOLL_PULL,        /* oneshot by loads: each rank copies n floats into its own mapped slot
                           * and raises its flag, each sums the np slots read in place through
                           * ucp_rkey_ptr (shared memory); 0 messages, 1 step; oneshot elsewhere */
    CB_UCOLL_AUTO,        /* the fastest at each size as timed at start-up, among what the
                           * transports do natively (cb_ucoll_pick) */
    CB_UCOLL_COUNT
} cb_ucoll_alg_t;

/* "oneshot", "twoshot", "am", "am-twoshot", "pull", "auto", NULL */
extern const char *const cb_ucoll_alg_names[];

/* auto without calibration (CB_UCOLL_CALIBRATE=0) or beyond the sizes it
 * timed: one step up to this message size, two steps above it. */
#define CB_UCOLL_ONESHOT_MAX_BYTES ((size_t)64 << 10)

typedef struct cb_ucoll cb_ucoll_t;

/* Open UCX over the transports `tls` ("posix,cma" or "posix+cma"; NULL or
 * "any": the environment's UCX_TLS), connect every pair of ranks of `comm`
 * (worker addresses exchanged over MPI), register the receive buffers for
 * messages of up to `max_count` floats and exchange their keys. Whether
 * every endpoint has native RMA (put lanes, as ucp_ep_print_info reports
 * them) is agreed by all ranks; auto's choices are timed (a few calls of each
 * candidate at each power-of-two size up to max_count, at most 1 MiB).
 * Collective over comm; max_count must match; agrees on failure (every rank
 * returns the same status). */
cb_status_t cb_ucoll_create(MPI_Comm comm, const char *tls, size_t max_count, cb_ucoll_t **c_p);

/* In-place sum of buf[0..count) over the ranks with algorithm `alg`
 * (cb_ucoll_alg_t); every rank ends with the same bits: for each element
 * ((v_0 + v_1) + v_2) + ... in rank order. Consecutive calls may differ in
 * algorithm and count. Collective over the communicator; alg and count
 * (<= max_count) must match; the status is local (a failed transport). */
cb_status_t cb_ucoll_allreduce(cb_ucoll_t *c, int alg, float *buf, size_t count);

/* The algorithm `alg` runs as for `count` floats: auto resolved by size
 * and by cb_ucoll_rma_native. Local, the same on every rank. */
int cb_ucoll_pick(const cb_ucoll_t *c, int alg, size_t count);

/* 1 if every rank maps every peer's region (ucp_rkey_ptr): pull runs. */
int cb_ucoll_mapped(const cb_ucoll_t *c);

/* 1 if every endpoint of every rank puts natively (not emulated over active
 * messages, as UCX does over tcp). The same on every rank. */
int cb_ucoll_rma_native(const cb_ucoll_t *c);

/* What the endpoints run over ("posix/memory cma/memory; rma native"), the
 * same text on every rank (rank 0's endpoint to rank 1). Local. */
const char *cb_ucoll_describe(const cb_ucoll_t *c);

size_t cb_ucoll_max_count(const cb_ucoll_t *c);

/* Release everything. Collective (every rank closes its endpoints after a
 * barrier). NULL is accepted on every rank. */
void cb_ucoll_free(cb_ucoll_t *c);

#endif
