/* microbench: the types every part shares. A benchmark is a row of the test
 * table (mb_tests.c); a layer (MPI, UCX, local memory) is a backend, a table
 * of functions; one engine (mb_engine.c) drives any test over its backend. */
#ifndef MB_H
#define MB_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>
#include "cb.h"

#define MB_MAX_SIZE ((size_t)1 << 30) /* largest message: 1 GiB */
#define MB_MAX_SETS 8                 /* transport sets in one --tls list */
#define MB_MAX_ALGS 8                 /* algorithms in one --alg list */
#define MB_NAME_LEN 64

/* ------------------------------------------------------------- tests */

typedef enum {
    MB_LAYER_MPI = 0,  /* through MPI: the PML's (or osc's) transport */
    MB_LAYER_UCX,      /* UCP directly, one context per --tls set */
    MB_LAYER_LOCAL,    /* no communication: memory copies */
    MB_LAYER_COLL,     /* allreduce algorithms side by side (--alg): MPI's, rd, and common's UCX ones per --tls set */
    MB_LAYER_COUNT
} mb_layer_t;

typedef enum {
    MB_METRIC_LAT = 0, /* samples are latencies: avg/min/p50/p99/max us */
    MB_METRIC_BW,      /* samples are times of a window: MB/s and messages/s */
} mb_metric_t;

/* What a test does; each backend implements the operations of its layer. */
typedef enum {
    MB_OP_PINGPONG = 0, MB_OP_BW, MB_OP_BIBW, MB_OP_MSGRATE,
    MB_OP_ALLREDUCE, MB_OP_BCAST, MB_OP_ALLGATHER, MB_OP_ALLTOALL,
    MB_OP_REDUCE_SCATTER, MB_OP_BARRIER,
    MB_OP_PUT_LAT, MB_OP_GET_LAT, MB_OP_PUT_BW, MB_OP_GET_BW, MB_OP_ATOMIC_LAT,
    MB_OP_AM_LAT, MB_OP_MEMCPY, MB_OP_PUT_PINGPONG,
    MB_OP_DECODE,      /* one token's allreduces for a model shape, back to back */
    MB_OP_IALLREDUCE,  /* MPI_Iallreduce + MPI_Wait, alone and around a computation (OSU's overlap) */
    MB_OP_INIT,        /* the time this rank spent in MPI_Init at start-up (osu_init): one sample */
    MB_OP_PINGPONG_MT, /* ping-pong to a peer whose threads take the messages in turn (osu_latency_mt) */
} mb_op_t;

enum {
    MB_TEST_PAIRS = 1 << 0, /* rank i talks to rank i + np/2: needs an even rank count */
    MB_TEST_ALL = 1 << 1,   /* every rank takes part (collectives, message rate) */
    MB_TEST_FIXED = 1 << 2, /* runs at min_size only, whatever the size range */
    MB_TEST_MEAN = 1 << 3,  /* each iteration's time is the mean over the ranks that measure (OSU's
                               multi-pair tests), not the slowest rank's */
    MB_TEST_NAMED = 1 << 4, /* runs only when named, not in `all` (it changes the run's MPI thread level) */
};

typedef struct {
    const char *name;        /* selects the test on the command line: "latency" */
    const char *description; /* one line, for --help and the HDF5 attribute */
    mb_layer_t layer;
    mb_op_t op;
    mb_metric_t metric;
    int flags;               /* MB_TEST_* */
    size_t min_size;         /* smaller sizes of the range are skipped (bytes) */
    size_t max_size;         /* larger sizes are skipped (bytes); 0: no limit */
    size_t granule;          /* sizes are rounded down to a multiple of this (element size) */
} mb_test_t;

/* The table of tests, in the order `all` runs them. */
extern const mb_test_t mb_tests[];
extern const int mb_n_tests;
/* The test called `name`, or NULL. Local. */
const mb_test_t *mb_test_find(const char *name);

/* ------------------------------------------------------------- parameters */

/* What the command line asked for: identical on every rank. */
typedef struct {
    size_t min_size, max_size; /* -m MIN:MAX, bytes */
    int iters;                 /* --iters: timed iterations per size; 0: scale with size */
    int warmup;                /* --warmup: untimed iterations per size; -1: scale with size */
    double time_per_size;      /* --time-per-size: seconds; 0: use iteration counts */
    int window;                /* --window: messages in flight for bandwidth tests */
    int validate;              /* --validate: fill with a pattern, check every received byte */
    int corrupt;               /* --inject-corruption: flip one received byte (tests the check) */
    int shared_recv;           /* --shared-recv: a window's receives share one buffer (as OSU) */
    int osu_counts;            /* --osu-counts: iterations and warm-up per size as OSU's defaults */
    int threads;               /* --threads: receiving threads of latency_mt's peer */
    int n_sets;                /* --tls: UCX transport sets */
    char sets[MB_MAX_SETS][MB_NAME_LEN]; /* each "tcp", "posix+cma": '+' becomes ',' for UCX_TLS */
    int n_algs;                /* --alg: allreduce algorithms of MB_LAYER_COLL tests */
    char algs[MB_MAX_ALGS][MB_NAME_LEN]; /* each "mpi", "rd", or a cb_ucoll_alg_names entry */
    char shape[MB_NAME_LEN];   /* --shape: the model of decode */
    int decode_dim;            /* floats per allreduce of decode (the model's dim) */
    int decode_calls;          /* allreduces per token (1 + 2 per layer, as llm) */
    MPI_Comm comm;             /* the ranks of the run */
    int rank, n_ranks;
    int local_size;            /* ranks on this rank's host (for the memory check) */
    char pml_lanes[1024];      /* the lanes of the MPI PML's own endpoints, seen before microbench
                                  opens any UCX context of its own (rank 0; "" if none seen) */
} mb_params_t;

/* One call of a backend's run(): a test at one size, for `iters` iterations. */
typedef struct {
    size_t size;       /* bytes per message (per rank block for collectives) */
    int iters;         /* iterations to time */
    int window;        /* messages per iteration for windowed tests */
    int validate;      /* check received bytes */
    int corrupt;       /* flip one received byte before checking */
    int slots;         /* receive buffers of a window: `window`, or 1 with --shared-recv */
    uint32_t seed;     /* pattern seed of this call: differs between calls */
    int peer;          /* this rank's partner for pair tests, -1 if it has none */
    int initiator;     /* 1 on the rank that starts and times a pair's exchange */
} mb_run_t;

/* ------------------------------------------------------------- backends */

typedef struct {
    const char *name;  /* "mpi", "ucx", "local" */
    /* Open one instance: for UCX one context over transport set `set` (NULL
     * elsewhere). Collective over params->comm; agrees on failure. */
    cb_status_t (*open)(const mb_params_t *params, const char *set, void **inst_p);
    /* What the instance runs over, as selected (not only as asked), into
     * buf. Collective (may exchange with the peer). */
    cb_status_t (*describe)(void *inst, char *buf, size_t len);
    /* Run `test` at run->size for run->iters iterations, storing in
     * samples[i] the seconds of iteration i on the ranks that measure and 0
     * elsewhere, and in *msgs_p the messages one iteration moves (over all
     * ranks). A failed --validate returns CB_ERR_CHECK. Collective over
     * params->comm; every argument but samples matches on all ranks; the
     * status is not agreed (the engine agrees). */
    cb_status_t (*run)(void *inst, const mb_test_t *test, const mb_run_t *run,
                       double *samples, double *msgs_p);
    /* Release the instance. Collective. NULL is accepted. */
    void (*close)(void *inst);
} mb_backend_t;

extern const mb_backend_t mb_backend_mpi;
extern const mb_backend_t mb_backend_ucx;
extern const mb_backend_t mb_backend_local;
extern const mb_backend_t mb_backend_coll;

/* ------------------------------------------------------------- decode shapes */

/* --shape NAME[:key=value,...] and --layers N into the allreduces of one
 * decoded token (dim floats each, 1 + 2 per layer). Local; deterministic. */
cb_status_t mb_shape_parse(const char *text, int layers, mb_params_t *params);
/* The known shapes, one line each, on `out` (a FILE *). Local. */
void mb_shape_list(void *out);

/* --alg "mpi,oneshot" into params->algs (checked). Local; deterministic. */
cb_status_t mb_alg_parse(const char *text, mb_params_t *params);
/* 1 if `alg` runs over MPI (one block), 0 if over UCX (a block per set). */
int mb_alg_is_mpi(const char *alg);

/* ------------------------------------------------------------- clock */

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define MB_HAVE_TSC 1
#else
#define MB_HAVE_TSC 0
#endif

/* The clock every iteration is timed with (--timer). */
typedef enum {
    MB_TIMER_AUTO = 0, /* the invariant TSC where there is one, else CLOCK_MONOTONIC */
    MB_TIMER_CLOCK,    /* CLOCK_MONOTONIC (cb_now) */
    MB_TIMER_WTIME,    /* MPI_Wtime, as OSU times */
} mb_timer_t;

extern uint64_t mb_tsc_start;
extern double mb_tsc_seconds_per_tick; /* 0: not the TSC */
extern int mb_timer_wtime;             /* 1: MPI_Wtime */

/* Choose and calibrate the clock `timer` asks for (about 20 ms for the
 * TSC); describe it into desc. Local; call once before any measurement. */
void mb_clock_init(mb_timer_t timer, char *desc, size_t len);

/* Seconds from an arbitrary origin, by the clock mb_clock_init chose. Local. */
static inline double mb_now(void)
{
#if MB_HAVE_TSC
    if (mb_tsc_seconds_per_tick > 0)
        return (double)(__rdtsc() - mb_tsc_start) * mb_tsc_seconds_per_tick;
#endif
    if (mb_timer_wtime)
        return MPI_Wtime();
    return cb_now();
}

/* ------------------------------------------------------------- engine */

/* Run `test` over every size of the range (and every transport set for UCX
 * tests), appending one row per size to the table /microbench/<test> of
 * `results`. Collective over params->comm; returns an agreed status. */
cb_status_t mb_engine_run(const mb_params_t *params, const mb_test_t *test,
                          cb_results_t *results);

/* Check up front that `test` can run with `params` (rank count, sizes,
 * memory). Local but deterministic: every rank reaches the same verdict. */
cb_status_t mb_engine_check(const mb_params_t *params, const mb_test_t *test);

/* A barrier; with `idle` this rank sleeps between polls instead of spinning,
 * leaving the cores of an oversubscribed host to the ranks being measured.
 * Collective over comm (every rank calls it, idle or not). */
cb_status_t mb_barrier(MPI_Comm comm, int idle);

/* The pair partner of `rank` among n ranks (i <-> i + n/2), or -1 when n is
 * odd or 1. Local. */
int mb_pair_peer(int rank, int n);

/* Keep the first failure: a check that fails does not stop an exchange
 * (the peer would hang); it is reported when the exchange ends. Local. */
static inline void mb_keep_first(cb_status_t *first, cb_status_t st)
{
    if (*first == CB_OK && st != CB_OK)
        *first = st;
}

/* ------------------------------------------------------------- patterns */

/* Fill buf[0..size) with the pattern of (seed, offset). Local. */
void mb_pattern_fill(void *buf, size_t size, uint32_t seed);
/* Check buf[0..size) against the pattern of `seed`: CB_OK, or CB_ERR_CHECK
 * with an error naming `what` and the first wrong byte. With `corrupt`, one
 * byte is flipped first, so the check must fail (size > 0). Local. */
cb_status_t mb_pattern_check(void *buf, size_t size, uint32_t seed, int corrupt, const char *what);
/* A window of `slots` messages of `size` bytes, slot j at j * size, each with
 * its own pattern in the iteration of `seed` (none repeats an earlier
 * iteration's): fill them (with `corrupt`, the last byte of the last slot is
 * changed, as if on its way), or check them all. Local. */
void mb_slots_fill(uint8_t *buf, size_t size, int slots, uint32_t seed, int corrupt);
cb_status_t mb_slots_check(const uint8_t *buf, size_t size, int slots, uint32_t seed, const char *what);
/* The pattern byte at `offset` for `seed`. Local. */
static inline uint8_t mb_pattern_byte(uint32_t seed, size_t offset)
{
    uint32_t x = seed * 2654435761u + (uint32_t)offset * 40503u + (uint32_t)(offset >> 16);
    return (uint8_t)(x ^ (x >> 13) ^ (x >> 24));
}

/* ------------------------------------------------------------- UCX helpers */


#endif
