/* hpl: the HPL FP64 benchmark. Types shared by the hpl_ layer (input, grid,
 * generator, panel factorization, broadcast, swap, LU, solve, verification)
 * and the prototypes of each file. Every prototype states its parallel
 * contract. */
#ifndef HPL_H
#define HPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <mpi.h>
#include "cb.h"

#define HPL_MAX_LIST 20  /* netlib's HPL_MAX_PARAM: values per HPL.dat line */
#define HPL_MAX_TESTS 100000 /* combinations of the lists in one HPL.dat */
#define HPL_MAX_DEPTH 2       /* look-ahead depths implemented: 0 to this */

/* ================================================================ variants */

typedef enum { HPL_FACT_LEFT = 0, HPL_FACT_CROUT = 1, HPL_FACT_RIGHT = 2 } hpl_fact_t;
typedef enum {
    HPL_BCAST_1RING = 0, HPL_BCAST_1RINGM, HPL_BCAST_2RING, HPL_BCAST_2RINGM,
    HPL_BCAST_LONG, HPL_BCAST_LONGM, HPL_BCAST_COUNT
} hpl_bcast_algo_t;
typedef enum { HPL_SWAP_BINEXCH = 0, HPL_SWAP_LONG = 1, HPL_SWAP_MIX = 2 } hpl_swap_algo_t;
typedef enum { HPL_PMAP_ROW = 0, HPL_PMAP_COL = 1 } hpl_pmap_t;
typedef enum { HPL_SOLVER_HPL = 0, HPL_SOLVER_SCALAPACK = 1 } hpl_solver_t;

extern const char *const hpl_fact_names[];   /* "left", "crout", "right" */
extern const char *const hpl_bcast_names[];  /* "1ring" ... "sprollM" (HPL.dat 0-5) */
extern const char *const hpl_swap_names[];   /* "binexch", "long", "mix" */
extern const char *const hpl_pmap_names[];   /* "row", "col" */

/* One test: a point of the HPL.dat cross product. Identical on all ranks. */
typedef struct {
    int64_t n;            /* order of A */
    int nb;               /* blocking factor */
    hpl_pmap_t pmap;      /* rank -> (row, col) mapping */
    int p, q;             /* process grid */
    double threshold;     /* residual threshold (<= 0: check skipped, as netlib) */
    hpl_fact_t pfact;     /* leaf (unblocked) panel factorization */
    int nbmin;            /* recursion stops at this many columns */
    int ndiv;             /* pieces per recursion level */
    hpl_fact_t rfact;     /* recursive panel factorization */
    hpl_bcast_algo_t bcast;
    int depth;            /* look-ahead depth: 0 to HPL_MAX_DEPTH */
    hpl_swap_algo_t swap;
    int swap_threshold;   /* mix: binary exchange up to this many columns */
    int l1_notrans;       /* L1 form (0 transposed, 1 not): recorded */
    int u_notrans;        /* U form: layout of the gathered U when P > 1 */
    int equil;            /* equilibration (long swap): recorded */
    int align;            /* local leading dimension rounded to this many doubles */
    uint64_t seed;        /* generator seed */
    hpl_solver_t solver;
} hpl_test_t;

/* The whole input: HPL.dat (or the options), lists of values whose cross
 * product netlib runs. Identical on all ranks. */
typedef struct {
    char out_name[256];   /* line 3: output file name */
    int device;           /* line 4: 6 stdout, 7 stderr, else the file */
    int n_ns;   int64_t ns[HPL_MAX_LIST];
    int n_nbs;  int nbs[HPL_MAX_LIST];
    hpl_pmap_t pmap;
    int n_grids; int ps[HPL_MAX_LIST]; int qs[HPL_MAX_LIST];
    double threshold;
    int n_pfacts; hpl_fact_t pfacts[HPL_MAX_LIST];
    int n_nbmins; int nbmins[HPL_MAX_LIST];
    int n_ndivs;  int ndivs[HPL_MAX_LIST];
    int n_rfacts; hpl_fact_t rfacts[HPL_MAX_LIST];
    int n_bcasts; hpl_bcast_algo_t bcasts[HPL_MAX_LIST];
    int n_depths; int depths[HPL_MAX_LIST];
    hpl_swap_algo_t swap;
    int swap_threshold;
    int l1_notrans, u_notrans, equil, align;
    int grid_line;        /* line of the Ps (for errors about the grid); 0 for options */
    char name[256];       /* the file's name, for messages */
} hpl_input_t;

/* ============================================================ hpl_input.c */

/* Defaults of netlib's sample HPL.dat (one of each), for the options. Local. */
void hpl_input_defaults(hpl_input_t *in);

/* Parse the text of an HPL.dat (`text`, NUL-terminated, `len` bytes; the
 * 31 netlib lines, extra lines such as hpcc's ignored). On error holds
 * "NAME:LINE: what: why" with cb_error and returns CB_ERR_INPUT. Local and
 * deterministic: call it on every rank with the same text. */
cb_status_t hpl_input_parse(const char *text, size_t len, const char *name, hpl_input_t *in);

/* Read `path` on rank 0, broadcast it and parse it on every rank. A missing
 * file returns CB_ERR_IO (with `*missing_p` set) so the caller may fall back
 * to options. Collective over `comm`; agrees. */
cb_status_t hpl_input_read(const char *path, MPI_Comm comm, hpl_input_t *in, int *missing_p);

/* Expand the cross product into tests (netlib's loop order). Local. */
cb_status_t hpl_input_tests(const hpl_input_t *in, uint64_t seed, hpl_solver_t solver,
                            hpl_test_t **tests_p, int *n_tests_p);

/* netlib's variant code "WR11C2R4". Local. */
void hpl_test_code(const hpl_test_t *t, char code[16]);

/* ============================================================= hpl_grid.c */

typedef struct {
    MPI_Comm all;      /* the P*Q ranks of the grid (MPI_COMM_NULL when idle) */
    MPI_Comm row;      /* my process row: Q ranks, rank = mycol */
    MPI_Comm col;      /* my process column: P ranks, rank = myrow */
    int p, q;
    int myrow, mycol;
    int iam;           /* rank in `all` */
    hpl_pmap_t pmap;
} hpl_grid_t;

/* Build the P x Q grid over the first P*Q ranks of `world` (the others get
 * grid->all == MPI_COMM_NULL and sit out, as netlib's do). Collective over
 * `world`; p, q, pmap must match on all ranks. */
cb_status_t hpl_grid_init(MPI_Comm world, int p, int q, hpl_pmap_t pmap, hpl_grid_t *grid);
/* Free the communicators. Local. */
void hpl_grid_free(hpl_grid_t *grid);

/* ---- block-cyclic index arithmetic (source process 0), all local ---- */

/* How many of the indices [0, n) process `iproc` of `nprocs` owns; also the
 * local index of its first index >= n. */
static inline int64_t hpl_numroc(int64_t n, int nb, int iproc, int nprocs)
{
    int64_t nblocks = n / nb, rem = n % nb;
    int64_t count = (nblocks / nprocs) * nb;
    int64_t extra = nblocks % nprocs;
    if (iproc < extra) count += nb;
    else if (iproc == extra) count += rem;
    return count;
}
static inline int hpl_owner(int64_t g, int nb, int nprocs) { return (int)((g / nb) % nprocs); }
static inline int64_t hpl_g2l(int64_t g, int nb, int nprocs) { return (g / nb / nprocs) * nb + g % nb; }
static inline int64_t hpl_l2g(int64_t l, int nb, int iproc, int nprocs)
{
    return ((l / nb) * nprocs + iproc) * nb + l % nb;
}

/* ========================================================== hpl_matrix.c */

/* This rank's part of the N x (N+1) augmented matrix [A | b]: b is global
 * column N, so the factorization carries it along (netlib's layout). */
typedef struct {
    int64_t n;     /* order of A */
    int nb;
    int64_t mp;    /* local rows */
    int64_t nq;    /* local columns of [A | b] */
    int64_t lda;   /* >= mp, rounded to the alignment */
    double *a;     /* (lda, nq) column-major */
} hpl_matrix_t;

/* Local storage for N, NB on `grid` (no allocation). Local. */
void hpl_matrix_shape(int64_t n, int nb, int align, const hpl_grid_t *grid, hpl_matrix_t *mat);

/* Ask the kernel for transparent huge pages over the 2 MiB-aligned part of
 * [ptr, ptr+bytes), before it is first touched: the DGEMM packing and the
 * row swaps stride across columns, one TLB entry per column with 4 KiB
 * pages. Local; a no-op where unsupported. */
void hpl_advise_huge(void *ptr, size_t bytes);

/* Bytes this rank needs for a run of the given test (matrix, panels, work). Local. */
size_t hpl_matrix_bytes(const hpl_test_t *t, int myrow, int mycol);

/* Fill the local part of [A | b] from `seed`: entry (i, j) is number j*N + i
 * of one 64-bit LCG stream (jumped to, so independent of the grid), uniform
 * in [-0.5, 0.5). Local. */
void hpl_matrix_generate(hpl_matrix_t *mat, const hpl_grid_t *grid, uint64_t seed);

/* ========================================================== hpl_timers */

/* Seconds per phase on one rank. BCAST is the time in broadcast calls outside
 * the overlap window (start and wait: exposed); PROGRESS the time in the
 * progress calls between update tiles; INFLIGHT the broadcasts' time from
 * start to completion (as seen by this rank) and HIDDEN the part of it not
 * exposed. SWAP is never overlapped. */
enum {
    HPL_T_PFACT = 0, HPL_T_BCAST, HPL_T_SWAP, HPL_T_UPDATE, HPL_T_SOLVE,
    HPL_T_PROGRESS, HPL_T_INFLIGHT, HPL_T_HIDDEN, HPL_T_COUNT
};

/* ============================================================ hpl_bcast.c */

/* A panel broadcast along a process row, driven without blocking so that the
 * update can progress it (look-ahead). Its tables are sized for the row's
 * process count once (hpl_bcast_init), so any Q runs the asked algorithm. */
typedef struct {
    int is_send, peer, tag, dep;  /* dep: index of the receive it waits on, or -1 */
    int64_t off, len;
    int posted, done;
} hpl_bcast_op_t;

typedef struct {
    MPI_Comm comm;
    double *buf;
    int64_t count;     /* doubles */
    int n_ops, max_ops;
    hpl_bcast_op_t *ops;   /* (max_ops) */
    MPI_Request *req;      /* (max_ops) */
    int *scratch;          /* (4 * nprocs) */
    int nprocs;
    int active;        /* started and not finished */
} hpl_bcast_t;

/* Size b's tables for a row of `nprocs` processes; hpl_bcast_free frees them.
 * Local. */
cb_status_t hpl_bcast_init(hpl_bcast_t *b, int nprocs);
void hpl_bcast_free(hpl_bcast_t *b);

/* Start broadcasting buf[0..count) from row rank `root` with `algo`; `tag`
 * distinguishes concurrent broadcasts (panel parity). Collective over `comm`
 * (root, count, algo, tag match on all ranks); completes in hpl_bcast_wait. */
cb_status_t hpl_bcast_start(hpl_bcast_t *b, MPI_Comm comm, int root, hpl_bcast_algo_t algo,
                            double *buf, int64_t count, int tag);
/* Advance without blocking; sets *done_p. Local. */
cb_status_t hpl_bcast_progress(hpl_bcast_t *b, int *done_p);
/* Block until this rank's part is finished. Local. */
cb_status_t hpl_bcast_wait(hpl_bcast_t *b);

/* ============================================================ hpl_panel.c */

/* One panel: columns [gk, gk+jb) of the matrix, factored, as broadcast along
 * the process rows. The buffer is contiguous so that it is one message:
 * [ipiv (jb doubles) | T (jb x jb) | L (m x jb, ld m)]. */
typedef struct {
    int k;            /* panel number */
    int64_t gk;       /* first global row and column */
    int jb;           /* width */
    int64_t m;        /* this process row's local rows below the top block */
    double *buf;      /* start of the message */
    int64_t count;    /* doubles in the message */
    double *ipiv;     /* (jb): global pivot row of each column, as doubles */
    double *t;        /* (jb, jb): the top block, L11 (unit) below U11, replicated */
    double *l;        /* (m, jb), ld m: L21 of this process row */
    double *storage;  /* allocation (size for the largest panel) */
    int singular;     /* a zero pivot was met */
    hpl_bcast_t bc;
    double bc_start_at;   /* cb_now() when its broadcast started */
    double bc_done_at;    /* when this rank saw it finish (0: not yet) */
    double bc_exposed;    /* seconds in its start and wait calls */
} hpl_panel_t;

/* Allocate a panel for the largest local row count, with a broadcast for a
 * row of q processes. Local. */
cb_status_t hpl_panel_alloc(hpl_panel_t *pan, const hpl_matrix_t *mat, int q);
void hpl_panel_free(hpl_panel_t *pan);
/* Set k, gk, jb, m and the pointers for panel k. Local. */
void hpl_panel_setup(hpl_panel_t *pan, const hpl_matrix_t *mat, const hpl_grid_t *grid, int k);

/* Factor panel `pan->k` (whose columns are up to date): copy it out of the
 * matrix, recursive factorization with one pivot reduction per column, write
 * U11 back. Collective over grid->col of the owning process column only;
 * test fields match. `work` holds at least hpl_panel_work_doubles(nb). */
cb_status_t hpl_panel_factor(hpl_panel_t *pan, hpl_matrix_t *mat, const hpl_grid_t *grid,
                             const hpl_test_t *t, double *work);
size_t hpl_panel_work_doubles(int nb);

/* ============================================================= hpl_swap.c */

/* Where the row-swapped U block of a column range ended up. */
typedef struct {
    double *u;       /* U rows of the panel for the columns [c0, c1) */
    int64_t ldu;
    int trans;       /* 1: u holds U^T (nc x jb, ld nc); 0: U (jb x nc, ld ldu) */
    int in_place;    /* u points into the matrix (P == 1) */
} hpl_urows_t;

/* Apply panel `pan`'s row interchanges to local columns [c0, c1): with P == 1
 * in place; with P > 1 the rows involved are gathered over the process
 * column by binary exchange or spread-roll (mix: binary exchange up to the
 * threshold's column count), the displaced rows written back, and U left in
 * `work`. Collective over grid->col (c0, c1 match along the column). */
cb_status_t hpl_swap_rows(const hpl_panel_t *pan, hpl_matrix_t *mat, const hpl_grid_t *grid,
                          const hpl_test_t *t, int64_t c0, int64_t c1, double *work, hpl_urows_t *u);

/* =========================================================== hpl_update.c */

/* A broadcast to progress during an update: the panel whose broadcast is in
 * flight, the longest stretch of DGEMM between two progress calls, and the
 * DGEMM rate measured so far (flops/s, for the tile size). */
typedef struct {
    hpl_panel_t *pan;
    double interval;  /* seconds; 0: no tiles */
    double rate;
    int active;       /* the broadcast is not finished on this rank */
} hpl_overlap_t;

/* Apply panel `pan`'s row interchanges to local columns [c0, c1) of the
 * matrix, form U = L11^-1 U and update the trailing rows with L21 U,
 * progressing ov's broadcast (if given and active) at least every
 * ov->interval seconds of DGEMM. Collective over grid->col (c0, c1 match
 * along the column). `work` holds hpl_update_work_doubles(). */
cb_status_t hpl_update(const hpl_panel_t *pan, hpl_matrix_t *mat, const hpl_grid_t *grid,
                       const hpl_test_t *t, int64_t c0, int64_t c1, double *work, double *times,
                       hpl_overlap_t *ov);
size_t hpl_update_work_doubles(int nb, int64_t nq, int p);

/* =============================================================== hpl_lu.c */

/* Factor [A | b] in place (b becomes L^-1 P b), then back-substitute: x
 * (N doubles, replicated on every rank of the grid). times[HPL_T_COUNT]
 * receive this rank's seconds per phase. `progress_s` bounds the DGEMM
 * between two progress calls of a look-ahead broadcast (0: one DGEMM per
 * update). Collective over grid->all. */
cb_status_t hpl_lu_solve(hpl_matrix_t *mat, const hpl_grid_t *grid, const hpl_test_t *t,
                         double progress_s, double *x, double *times, int *singular_p);

/* Back substitution with the U left in mat; x replicated. Collective over grid->all. */
cb_status_t hpl_solve_upper(const hpl_matrix_t *mat, const hpl_grid_t *grid, double *x);

/* ============================================================ hpl_verify.c */

typedef struct {
    double resid;     /* the scaled residual */
    double rnorm, anorm, xnorm, bnorm;  /* ||Ax-b||, ||A||, ||x||, ||b|| (inf norms) */
    double eps;
} hpl_check_t;

/* Regenerate [A | b] into mat from `seed` and compute the scaled residual of
 * x. Collective over grid->all. */
cb_status_t hpl_verify(hpl_matrix_t *mat, const hpl_grid_t *grid, uint64_t seed,
                       const double *x, hpl_check_t *check);

/* ============================================================= hpl_blas.c */

typedef struct {
    double gflops_rank;   /* this rank's DGEMM rate, all ranks running at once */
    double gflops_node;   /* sum over the ranks of the busiest host */
    double gflops_total;  /* sum over all ranks */
    double peak_core;     /* estimated peak per core from the vector units (0 if unknown) */
    char coretype[64];
} hpl_blas_info_t;

/* Short, bounded DGEMM self-test on every rank at once; warns (rank 0) when
 * the rate is far under what the vector units allow, with the fix.
 * Collective over `comm`. */
cb_status_t hpl_blas_selftest(MPI_Comm comm, double seconds, hpl_blas_info_t *info);

/* ============================================================ hpl_dgemm.c */

/* hpl's own DGEMM: C += alpha A op(B), column-major, A m x k (not
 * transposed), op(B) k x n (transb: B^T, B stored n x k), beta 1. Paths by
 * ISA, chosen at run time from the CPU (HPL_DGEMM_ISA=c|avx2|avx512 in the
 * environment, or hpl_dgemm_set_isa, forces one). Single-threaded: one
 * thread per rank, as hpl runs. */
typedef enum { HPL_ISA_AUTO = 0, HPL_ISA_C, HPL_ISA_AVX2, HPL_ISA_AVX512 } hpl_isa_t;
extern const char *const hpl_dgemm_isa_names[];   /* "auto", "c", "avx2", "avx512", NULL */

/* Does this CPU (and build) have the path? Local. */
int hpl_dgemm_cpu_has(hpl_isa_t isa);
/* Select the path (HPL_ISA_AUTO: the widest the CPU has, unless
 * HPL_DGEMM_ISA names another); CB_ERR_UNSUPPORTED if the CPU lacks it. Local. */
cb_status_t hpl_dgemm_set_isa(hpl_isa_t isa);
/* The selected path's name ("avx512"). Local. */
const char *hpl_dgemm_isa_name(void);
/* The product; CB_ERR_NOMEM (before touching C) if its packing buffers
 * cannot be had. Local; each thread has its own buffers. */
cb_status_t hpl_dgemm(int transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                      const double *b, int64_t ldb, double *c, int64_t ldc);
/* Free this thread's packing buffers. Local. */
void hpl_dgemm_release(void);

/* Which DGEMM the solver's calls run on: --dgemm auto|own|blas. */
typedef enum { HPL_DGEMM_AUTO = 0, HPL_DGEMM_OWN, HPL_DGEMM_BLAS } hpl_dgemm_mode_t;
extern const char *const hpl_dgemm_mode_names[];  /* "auto", "own", "blas", NULL */

typedef struct {
    hpl_dgemm_mode_t mode;  /* as asked */
    int own;                /* 1: hpl_dgemm, 0: the BLAS */
    double gflops_own;      /* start-up block update, summed over the ranks */
    double gflops_blas;
    char kernel[16];        /* "avx512", "avx2", "c" (own) or "blas" */
} hpl_dgemm_choice_t;

/* Time both on an NB-wide block update (a few ms, every rank at once), sum
 * the rates over `comm` and pick (auto: the faster; own, blas: as told), so
 * every rank runs the same. Collective over `comm`; mode and nb match. */
cb_status_t hpl_dgemm_choose(MPI_Comm comm, hpl_dgemm_mode_t mode, int nb, hpl_dgemm_choice_t *choice);
/* Route hpl_gemm to hpl_dgemm (1) or the BLAS (0); and which it is. Local. */
void hpl_dgemm_use_own(int own);
int hpl_dgemm_own_in_use(void);
/* C += alpha A op(B) on the chosen DGEMM: every DGEMM of the solver. Local. */
void hpl_gemm(int transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
              const double *b, int64_t ldb, double *c, int64_t ldc);

/* ======================================================== hpl_scalapack.c */

/* Solve the system of `mat` (already generated) with ScaLAPACK's PDGESV on
 * the same grid; x replicated. Collective over grid->all. CB_ERR_UNSUPPORTED
 * when built without ScaLAPACK. */
cb_status_t hpl_scalapack_solve(hpl_matrix_t *mat, const hpl_grid_t *grid, double *x, int *info_p);

#endif
