/* hpl: the driver. Reads HPL.dat (or the options), checks every test before
 * any heavy work (grid against ranks, memory against the hosts), measures
 * the BLAS, runs each test with netlib's output and the residual check, and
 * writes one row per test to HDF5 /hpl/runs. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "config.h"
#include "hpl.h"

/* ================================================================ options */

typedef struct {
    const char *n_text;   /* -N: an order or "auto" */
    int nb, p, q, pmap;
    int pfact, rfact, nbmin, ndiv, bcast, depth, swap, swap_threshold;
    double threshold, mem_fraction, dgemm_seconds;
    int64_t seed;
    int solver;
    const char *dat;
    int inject_error;
    int progress_us;
    int dgemm;            /* hpl_dgemm_mode_t */
} hpl_opts_t;

/* An integer option given as text, read in base 10 (as netlib reads HPL.dat:
 * -N 010 is ten, not octal eight; 0x10 is refused). */
typedef struct {
    const char *name;     /* for messages: "--nb" */
    const char **text;    /* the option's text, NULL when not given */
    long long min, max;
    int *i32;             /* where it goes (one of the two) */
    int64_t *i64;
} int_opt_t;

static cb_status_t parse_base10(const char *text, const char *what, long long min, long long max, long long *v_p)
{
    const char *p = text;
    if (*p == '+' || *p == '-') p++;
    if (*p < '0' || *p > '9') {
        cb_error("%s: '%s' is not an integer", what, text);
        return CB_ERR_USAGE;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0') {
        cb_error("%s: '%s' is not an integer (base 10)", what, text);
        return CB_ERR_USAGE;
    }
    if (errno == ERANGE || v < min || v > max) {
        cb_error("%s: %s is out of range [%lld, %lld]", what, text, min, max);
        return CB_ERR_USAGE;
    }
    *v_p = v;
    return CB_OK;
}

static const char *const solver_names[] = { "hpl", "scalapack", NULL };

/* ================================================================ results row */

typedef struct {
    char tv[16];
    char solver[12];
    int64_t n;
    int32_t nb, p, q;
    char pmap[4];
    char pfact[8];
    int32_t nbmin, ndiv;
    char rfact[8];
    char bcast[8];        /* 1ring ... sprollM */
    int32_t depth;
    char swap[8];
    int32_t swap_threshold;
    int32_t l1_notrans, u_notrans, equil, align;  /* HPL.dat lines 28-31 */
    int64_t seed;
    double time_s;
    double gflops;
    double resid;         /* scaled residual */
    double threshold;
    char check[8];        /* PASSED, FAILED, SKIPPED */
    double pfact_s, bcast_s, swap_s, update_s, solve_s;  /* max over ranks */
    double inflight_s, hidden_s, progress_s;  /* broadcasts in flight, of which hidden; progress calls */
    double dgemm_gflops;  /* self-test, summed over the ranks */
    double dgemm_fraction;
    char blas_coretype[24];
    char dgemm[16];       /* the DGEMM the solver ran on: own path (avx512, avx2, c) or blas */
    double x_sum;         /* sum of x: the same system solved on another grid agrees */
    double x_norm;        /* ||x||_oo */
    int64_t x_hash;       /* FNV-1a of x's bytes: the same bits, the same hash */
} hpl_row_t;

static const cb_column_t hpl_columns[] = {
    CB_COLUMN(hpl_row_t, tv, CB_COL_STRING, "T/V", NULL),
    CB_COLUMN(hpl_row_t, solver, CB_COL_STRING, "Solver", NULL),
    CB_COLUMN(hpl_row_t, n, CB_COL_INT64, "N", NULL),
    CB_COLUMN(hpl_row_t, nb, CB_COL_INT32, "NB", NULL),
    CB_COLUMN(hpl_row_t, p, CB_COL_INT32, "P", NULL),
    CB_COLUMN(hpl_row_t, q, CB_COL_INT32, "Q", NULL),
    CB_COLUMN(hpl_row_t, pmap, CB_COL_STRING, "PMAP", NULL),
    CB_COLUMN(hpl_row_t, pfact, CB_COL_STRING, "PFACT", NULL),
    CB_COLUMN(hpl_row_t, nbmin, CB_COL_INT32, "NBMIN", NULL),
    CB_COLUMN(hpl_row_t, ndiv, CB_COL_INT32, "NDIV", NULL),
    CB_COLUMN(hpl_row_t, rfact, CB_COL_STRING, "RFACT", NULL),
    CB_COLUMN(hpl_row_t, bcast, CB_COL_STRING, "BCAST", NULL),
    CB_COLUMN(hpl_row_t, depth, CB_COL_INT32, "DEPTH", NULL),
    CB_COLUMN(hpl_row_t, swap, CB_COL_STRING, "SWAP", NULL),
    CB_COLUMN(hpl_row_t, swap_threshold, CB_COL_INT32, "SwapThr", NULL),
    CB_COLUMN(hpl_row_t, l1_notrans, CB_COL_INT32, "L1", NULL),
    CB_COLUMN(hpl_row_t, u_notrans, CB_COL_INT32, "U", NULL),
    CB_COLUMN(hpl_row_t, equil, CB_COL_INT32, "EQUIL", NULL),
    CB_COLUMN(hpl_row_t, align, CB_COL_INT32, "ALIGN", NULL),
    CB_COLUMN(hpl_row_t, seed, CB_COL_INT64, "Seed", NULL),
    CB_COLUMN(hpl_row_t, time_s, CB_COL_DOUBLE, "Time(s)", "%.2f"),
    CB_COLUMN(hpl_row_t, gflops, CB_COL_DOUBLE, "Gflops", "%.4e"),
    CB_COLUMN(hpl_row_t, resid, CB_COL_DOUBLE, "Resid", "%.8e"),
    CB_COLUMN(hpl_row_t, threshold, CB_COL_DOUBLE, "Thresh", "%.1f"),
    CB_COLUMN(hpl_row_t, check, CB_COL_STRING, "Check", NULL),
    CB_COLUMN(hpl_row_t, pfact_s, CB_COL_DOUBLE, "Pfact(s)", "%.3f"),
    CB_COLUMN(hpl_row_t, bcast_s, CB_COL_DOUBLE, "Bcast(s)", "%.3f"),
    CB_COLUMN(hpl_row_t, swap_s, CB_COL_DOUBLE, "Swap(s)", "%.3f"),
    CB_COLUMN(hpl_row_t, update_s, CB_COL_DOUBLE, "Update(s)", "%.3f"),
    CB_COLUMN(hpl_row_t, solve_s, CB_COL_DOUBLE, "Solve(s)", "%.3f"),
    CB_COLUMN(hpl_row_t, inflight_s, CB_COL_DOUBLE, "BcastInFlight(s)", "%.3f"),
    CB_COLUMN(hpl_row_t, hidden_s, CB_COL_DOUBLE, "BcastHidden(s)", "%.3f"),
    CB_COLUMN(hpl_row_t, progress_s, CB_COL_DOUBLE, "Progress(s)", "%.3f"),
    CB_COLUMN(hpl_row_t, dgemm_gflops, CB_COL_DOUBLE, "DGEMM(Gflops)", "%.1f"),
    CB_COLUMN(hpl_row_t, dgemm_fraction, CB_COL_DOUBLE, "OfDGEMM", "%.3f"),
    CB_COLUMN(hpl_row_t, blas_coretype, CB_COL_STRING, "BLAS", NULL),
    CB_COLUMN(hpl_row_t, dgemm, CB_COL_STRING, "DGEMM", NULL),
    CB_COLUMN(hpl_row_t, x_sum, CB_COL_DOUBLE, "SumX", "%.10e"),
    CB_COLUMN(hpl_row_t, x_norm, CB_COL_DOUBLE, "NormX", "%.10e"),
    CB_COLUMN(hpl_row_t, x_hash, CB_COL_INT64, "HashX", NULL),
};

/* ================================================================ netlib text */

static const char *const fact_title[] = { "    Left", "   Crout", "   Right" };
static const char *const bcast_title[] = { "   1ring", "  1ringM", "   2ring", "  2ringM", "  SpRoll", " SpRollM" };

#define RULE "================================================================================"
#define DASH "--------------------------------------------------------------------------------"

static void print_header(FILE *out, const hpl_input_t *in)
{
    fprintf(out, "%s\n", RULE);
    fprintf(out, "clusterbench hpl %s  --  High-Performance Linpack benchmark (HPL 2.3 conventions)\n", CB_VERSION);
    fprintf(out, "Input, output and residual check as netlib HPL 2.3 by A. Petitet, R. C. Whaley,\n"
                 "J. Dongarra, A. Cleary, P. Luszczek and J. Langou; solver written for clusterbench\n");
    fprintf(out, "%s\n\n", RULE);
    fprintf(out, "An explanation of the input/output parameters follows:\n"
                 "T/V    : Wall time / encoded variant.\n"
                 "N      : The order of the coefficient matrix A.\n"
                 "NB     : The partitioning blocking factor.\n"
                 "P      : The number of process rows.\n"
                 "Q      : The number of process columns.\n"
                 "Time   : Time in seconds to solve the linear system.\n"
                 "Gflops : Rate of execution for solving the linear system.\n\n"
                 "The following parameter values will be used:\n\n");
    fprintf(out, "N      :");
    for (int i = 0; i < in->n_ns; i++) fprintf(out, "%8lld ", (long long)in->ns[i]);
    fprintf(out, "\nNB     :");
    for (int i = 0; i < in->n_nbs; i++) fprintf(out, "%8d ", in->nbs[i]);
    fprintf(out, "\nPMAP   : %s-major process mapping\nP      :", in->pmap == HPL_PMAP_ROW ? "Row" : "Column");
    for (int i = 0; i < in->n_grids; i++) fprintf(out, "%8d ", in->ps[i]);
    fprintf(out, "\nQ      :");
    for (int i = 0; i < in->n_grids; i++) fprintf(out, "%8d ", in->qs[i]);
    fprintf(out, "\nPFACT  :");
    for (int i = 0; i < in->n_pfacts; i++) fprintf(out, "%s ", fact_title[in->pfacts[i]]);
    fprintf(out, "\nNBMIN  :");
    for (int i = 0; i < in->n_nbmins; i++) fprintf(out, "%8d ", in->nbmins[i]);
    fprintf(out, "\nNDIV   :");
    for (int i = 0; i < in->n_ndivs; i++) fprintf(out, "%8d ", in->ndivs[i]);
    fprintf(out, "\nRFACT  :");
    for (int i = 0; i < in->n_rfacts; i++) fprintf(out, "%s ", fact_title[in->rfacts[i]]);
    fprintf(out, "\nBCAST  :");
    for (int i = 0; i < in->n_bcasts; i++) fprintf(out, "%s ", bcast_title[in->bcasts[i]]);
    fprintf(out, "\nDEPTH  :");
    for (int i = 0; i < in->n_depths; i++) fprintf(out, "%8d ", in->depths[i]);
    if (in->swap == HPL_SWAP_BINEXCH) fprintf(out, "\nSWAP   : Binary-exchange\n");
    else if (in->swap == HPL_SWAP_LONG) fprintf(out, "\nSWAP   : Spread-roll (long)\n");
    else fprintf(out, "\nSWAP   : Mix (threshold = %d)\n", in->swap_threshold);
    fprintf(out, "L1     : %s form\n", in->l1_notrans ? "no-transposed" : "transposed");
    fprintf(out, "U      : %s form\n", in->u_notrans ? "no-transposed" : "transposed");
    fprintf(out, "EQUIL  : %s\n", in->equil ? "yes" : "no");
    fprintf(out, "ALIGN  : %d double precision words\n\n%s\n\n", in->align, DASH);
    fprintf(out, "- The matrix A is randomly generated for each test.\n"
                 "- The following scaled residual check will be computed:\n"
                 "      ||Ax-b||_oo / ( eps * ( || x ||_oo * || A ||_oo + || b ||_oo ) * N )\n"
                 "- The relative machine precision (eps) is taken to be     %16e\n"
                 "- Computational tests pass if scaled residuals are less than %20.1f\n\n",
            1.1102230246251565e-16, in->threshold);
    fflush(out);
}

/* ================================================================ sizing */

static void rank_coords(const hpl_test_t *t, int rank, int *row, int *col)
{
    if (t->pmap == HPL_PMAP_ROW) { *row = rank / t->q; *col = rank % t->q; }
    else { *row = rank % t->p; *col = rank / t->p; }
}

static double rank_need(const hpl_test_t *t, int rank)
{
    if (rank >= t->p * t->q) return 0.0;
    int row, col;
    rank_coords(t, rank, &row, &col);
    return (double)hpl_matrix_bytes(t, row, col);
}

/* Does the test fit in `budget` bytes per host? Collective over world. */
static cb_status_t fits(const hpl_test_t *t, double budget, MPI_Comm world, MPI_Comm host, int *ok_p)
{
    double need = rank_need(t, cb_rank()), host_need = 0.0;
    cb_status_t st = CB_MPI(MPI_Allreduce(&need, &host_need, 1, MPI_DOUBLE, MPI_SUM, host));
    if (st != CB_OK) return st;
    int ok = budget <= 0.0 || host_need <= budget;
    return CB_MPI(MPI_Allreduce(&ok, ok_p, 1, MPI_INT, MPI_MIN, world));
}

/* Largest N in [1, hi] that fits (0 if none). Collective over world. */
static cb_status_t largest_n(const hpl_test_t *t0, int64_t hi, double budget, MPI_Comm world, MPI_Comm host,
                             int64_t *n_p)
{
    hpl_test_t t = *t0;
    int64_t lo = 0;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        int ok;
        t.n = mid;
        cb_status_t st = fits(&t, budget, world, host, &ok);
        if (st != CB_OK) return st;
        if (ok) lo = mid;
        else hi = mid - 1;
    }
    *n_p = lo;
    return CB_OK;
}

static double host_budget(double fraction)
{
    double total = (double)cb_mem_total_bytes(), avail = (double)cb_mem_available_bytes();
    if (fraction > 0.0) {
        double b = total * fraction;
        return avail > 0.0 && avail < b ? avail : b;
    }
    return avail > 0.0 ? avail : total;
}

/* ================================================================ one test */

typedef struct {
    cb_results_t *res;
    cb_table_t *table;
    FILE *out;            /* netlib text (rank 0), or NULL */
    const hpl_blas_info_t *blas;
    const hpl_dgemm_choice_t *dgemm;
    int inject_error;
    double progress_s;    /* look-ahead: longest DGEMM between two progress calls */
    int passed, failed, skipped;
} run_ctx_t;

static cb_status_t run_test(run_ctx_t *rc, const hpl_test_t *t, MPI_Comm world)
{
    hpl_grid_t grid;
    hpl_matrix_t mat;
    double *x = NULL;
    double times[HPL_T_COUNT] = { 0 }, tmax[HPL_T_COUNT] = { 0 };
    hpl_check_t check = { 0 };
    double wall = 0.0;
    int singular = 0, info = 0;
    time_t start_time = 0, end_time = 0;
    cb_status_t st;

    if ((st = cb_agree(hpl_grid_init(world, t->p, t->q, t->pmap, &grid), world)) != CB_OK) return st;
    if (grid.all == MPI_COMM_NULL) goto out_grid;   /* not in this grid: sit out */

    hpl_matrix_shape(t->n, t->nb, t->align, &grid, &mat);
    mat.a = cb_alloc(cb_mul_size(cb_mul_size((size_t)mat.lda, (size_t)mat.nq), sizeof(double)), 0, "matrix");
    x = cb_alloc((size_t)t->n * sizeof(double), 0, "solution");
    if ((st = cb_agree(mat.a && x ? CB_OK : CB_ERR_NOMEM, grid.all)) != CB_OK) goto out_free;
    hpl_advise_huge(mat.a, (size_t)mat.lda * (size_t)mat.nq * sizeof(double));
    hpl_matrix_generate(&mat, &grid, t->seed);

    if ((st = CB_MPI(MPI_Barrier(grid.all))) != CB_OK) goto out_free;
    start_time = time(NULL);
    double t0 = MPI_Wtime();
    if (t->solver == HPL_SOLVER_SCALAPACK) {
        double s0 = cb_now();
        st = hpl_scalapack_solve(&mat, &grid, x, &info);
        times[HPL_T_UPDATE] = cb_now() - s0;
        singular = info > 0;
    } else {
        st = hpl_lu_solve(&mat, &grid, t, rc->progress_s, x, times, &singular);
    }
    double el = MPI_Wtime() - t0;
    end_time = time(NULL);
    if ((st = cb_agree(st, grid.all)) != CB_OK) goto out_free;
    if ((st = CB_MPI(MPI_Allreduce(&el, &wall, 1, MPI_DOUBLE, MPI_MAX, grid.all))) != CB_OK) goto out_free;
    if ((st = CB_MPI(MPI_Allreduce(times, tmax, HPL_T_COUNT, MPI_DOUBLE, MPI_MAX, grid.all))) != CB_OK) goto out_free;

    /* a threshold <= 0 skips the check, as netlib's does (HPL_pdtest) */
    int skip_check = !(t->threshold > 0.0);
    /* the test's own proof that the check can fail */
    if (rc->inject_error) x[t->n / 2] += 1e-3 * (fabs(x[t->n / 2]) + 1.0);
    if (skip_check) {
        check.resid = check.rnorm = check.anorm = check.bnorm = NAN;
        for (int64_t i = 0; i < t->n; i++) check.xnorm = fmax(check.xnorm, fabs(x[i]));
    } else if ((st = hpl_verify(&mat, &grid, t->seed, x, &check)) != CB_OK) {
        goto out_free;
    }

    if (grid.iam == 0) {
        double n = (double)t->n;
        double gflops = wall > 0.0 ? (2.0 / 3.0 * n * n * n + 1.5 * n * n) / wall * 1e-9 : 0.0;
        int pass = !skip_check && !singular && check.resid < t->threshold;
        hpl_row_t row;
        memset(&row, 0, sizeof(row));
        hpl_test_code(t, row.tv);
        snprintf(row.solver, sizeof(row.solver), "%s", solver_names[t->solver]);
        row.n = t->n; row.nb = t->nb; row.p = t->p; row.q = t->q;
        snprintf(row.pmap, sizeof(row.pmap), "%s", hpl_pmap_names[t->pmap]);
        snprintf(row.pfact, sizeof(row.pfact), "%s", hpl_fact_names[t->pfact]);
        snprintf(row.rfact, sizeof(row.rfact), "%s", hpl_fact_names[t->rfact]);
        snprintf(row.bcast, sizeof(row.bcast), "%s", hpl_bcast_names[t->bcast]);
        snprintf(row.swap, sizeof(row.swap), "%s", hpl_swap_names[t->swap]);
        row.nbmin = t->nbmin; row.ndiv = t->ndiv; row.depth = t->depth;
        row.swap_threshold = t->swap_threshold;
        row.l1_notrans = t->l1_notrans; row.u_notrans = t->u_notrans;
        row.equil = t->equil; row.align = t->align;
        row.seed = (int64_t)t->seed;
        row.time_s = wall;
        row.gflops = gflops;
        row.resid = check.resid;
        row.threshold = t->threshold;
        snprintf(row.check, sizeof(row.check), "%s", skip_check ? "SKIPPED" : pass ? "PASSED" : "FAILED");
        row.pfact_s = tmax[HPL_T_PFACT];
        row.bcast_s = tmax[HPL_T_BCAST];
        row.swap_s = tmax[HPL_T_SWAP];
        row.update_s = tmax[HPL_T_UPDATE];
        row.solve_s = tmax[HPL_T_SOLVE];
        row.inflight_s = tmax[HPL_T_INFLIGHT];
        row.hidden_s = tmax[HPL_T_HIDDEN];
        row.progress_s = tmax[HPL_T_PROGRESS];
        row.dgemm_gflops = rc->blas->gflops_total;
        row.dgemm_fraction = rc->blas->gflops_total > 0.0 ? gflops / rc->blas->gflops_total : 0.0;
        snprintf(row.blas_coretype, sizeof(row.blas_coretype), "%.23s", rc->blas->coretype);
        snprintf(row.dgemm, sizeof(row.dgemm), "%s", t->solver == HPL_SOLVER_SCALAPACK ? "blas" : rc->dgemm->kernel);
        uint64_t h = 0xcbf29ce484222325ULL;
        for (int64_t i = 0; i < t->n; i++) {
            row.x_sum += x[i];
            uint64_t bits;
            memcpy(&bits, &x[i], sizeof(bits));
            for (int b = 0; b < 8; b++) h = (h ^ ((bits >> (8 * b)) & 0xff)) * 0x100000001b3ULL;
        }
        row.x_hash = (int64_t)(h >> 1);
        row.x_norm = check.xnorm;

        if (skip_check) rc->skipped++;
        else if (pass) rc->passed++;
        else rc->failed++;

        FILE *out = rc->out;
        if (out) {
            fprintf(out, "%s\nT/V                N    NB     P     Q               Time                 Gflops\n%s\n",
                    RULE, DASH);
            fprintf(out, "%s%12lld %5d %5d %5d %18.2f    %19.4e\n", row.tv, (long long)t->n, t->nb, t->p, t->q,
                    wall, gflops);
            fprintf(out, "HPL_pdgesv() start time %s\n", ctime(&start_time));
            fprintf(out, "HPL_pdgesv() end time   %s\n", ctime(&end_time));
            if (t->solver == HPL_SOLVER_SCALAPACK)
                fprintf(out, "Solver: ScaLAPACK PDGESV (info %d)\n", info);
            else
            {
                fprintf(out, "Time breakdown (s, max over ranks): pfact %.2f  bcast %.2f  swap %.2f  update %.2f  solve %.2f\n",
                        row.pfact_s, row.bcast_s, row.swap_s, row.update_s, row.solve_s);
                fprintf(out, "Communication: broadcasts in flight %.2f s, exposed %.2f s (in calls outside the overlap "
                             "window), hidden %.2f s (%.0f%%); progress calls %.2f s; swaps %.2f s (not overlapped)\n",
                        row.inflight_s, row.bcast_s, row.hidden_s,
                        row.inflight_s > 0.0 ? 100.0 * row.hidden_s / row.inflight_s : 0.0, row.progress_s, row.swap_s);
            }
            if (rc->blas->gflops_total > 0.0)
                fprintf(out, "DGEMM self-test %.1f Gflops (%d ranks, DGEMM %s%s, BLAS core %s): this run reached %.1f%% "
                             "of it\n", rc->blas->gflops_total, cb_nranks(), rc->dgemm->own ? "own " : "",
                        rc->dgemm->kernel, rc->blas->coretype, 100.0 * row.dgemm_fraction);
            if (singular) fprintf(out, "The matrix is singular to working precision: a zero pivot was met\n");
            if (skip_check)
                fprintf(out, "%s\nResidual check skipped (threshold %g <= 0)\n", DASH, t->threshold);
            else
                fprintf(out, "%s\n||Ax-b||_oo/(eps*(||A||_oo*||x||_oo+||b||_oo)*N)= %16.8e ...... %s\n", DASH,
                        check.resid, pass ? "PASSED" : "FAILED");
            if (!skip_check && !pass)
                fprintf(out, "||Ax-b||_oo  . . . . . . . . . . . . . . . . . = %18.6e\n"
                             "||A||_oo . . . . . . . . . . . . . . . . . . . = %18.6e\n"
                             "||x||_oo . . . . . . . . . . . . . . . . . . . = %18.6e\n"
                             "||b||_oo . . . . . . . . . . . . . . . . . . . = %18.6e\n",
                        check.rnorm, check.anorm, check.xnorm, check.bnorm);
            fflush(out);
        }
        st = cb_table_append(rc->table, &row);
    }
out_free:
    cb_free(x);
    cb_free(mat.a);
out_grid:
    hpl_grid_free(&grid);
    return cb_agree(st, world);
}

/* ================================================================ main */

static int square_p(int n)
{
    int p = 1;
    for (int i = 1; (int64_t)i * i <= n; i++)
        if (n % i == 0) p = i;
    return p;
}

int main(int argc, char **argv)
{
    hpl_opts_t o = {
        .n_text = NULL, .nb = 192, .p = 0, .q = 0, .pmap = HPL_PMAP_ROW,
        .pfact = HPL_FACT_RIGHT, .rfact = HPL_FACT_CROUT, .nbmin = 4, .ndiv = 2,
        .bcast = HPL_BCAST_1RINGM, .depth = 1, .swap = HPL_SWAP_MIX, .swap_threshold = 64,
        .threshold = 16.0, .mem_fraction = 0.8, .dgemm_seconds = 0.3, .seed = 42,
        .solver = HPL_SOLVER_HPL, .dat = NULL, .inject_error = 0, .progress_us = 2000, .dgemm = HPL_DGEMM_AUTO,
    };
    /* HPL.dat has no line for it: HPL_DGEMM in the environment sets the default */
    const char *env_dgemm = getenv("HPL_DGEMM");
    for (int i = 0; env_dgemm && hpl_dgemm_mode_names[i]; i++)
        if (strcmp(env_dgemm, hpl_dgemm_mode_names[i]) == 0) o.dgemm = i;
    const char *t_nb = NULL, *t_p = NULL, *t_q = NULL, *t_nbmin = NULL, *t_ndiv = NULL, *t_depth = NULL,
               *t_swth = NULL, *t_seed = NULL, *t_prog = NULL;
    const int_opt_t int_opts[] = {
        { "--nb", &t_nb, 1, 8192, &o.nb, NULL },
        { "-P", &t_p, 0, 1 << 20, &o.p, NULL },
        { "-Q", &t_q, 0, 1 << 20, &o.q, NULL },
        { "--nbmin", &t_nbmin, 1, 8192, &o.nbmin, NULL },
        { "--ndiv", &t_ndiv, 2, 64, &o.ndiv, NULL },
        { "--depth", &t_depth, 0, HPL_MAX_DEPTH, &o.depth, NULL },
        { "--swap-threshold", &t_swth, 0, 1 << 30, &o.swap_threshold, NULL },
        { "--seed", &t_seed, 0, INT64_MAX, NULL, &o.seed },
        { "--progress-us", &t_prog, 0, 1000000, &o.progress_us, NULL },
    };
    const cb_opt_t opts[] = {
        { "N", 'N', CB_OPT_STRING, &o.n_text, "N|auto", "order of A (options instead of HPL.dat); auto: fits --mem-fraction of memory", 0, -1, NULL },
        { "nb", 0, CB_OPT_STRING, &t_nb, "NB", "blocking factor, 1 to 8192 (default 192)", 0, -1, NULL },
        { "P", 'P', CB_OPT_STRING, &t_p, "P", "process rows (0, the default: from the rank count)", 0, -1, NULL },
        { "Q", 'Q', CB_OPT_STRING, &t_q, "Q", "process columns (0, the default: from the rank count)", 0, -1, NULL },
        { "pmap", 0, CB_OPT_CHOICE, &o.pmap, "MAP", "process mapping", 0, -1, hpl_pmap_names },
        { "pfact", 0, CB_OPT_CHOICE, &o.pfact, "F", "leaf panel factorization", 0, -1, hpl_fact_names },
        { "rfact", 0, CB_OPT_CHOICE, &o.rfact, "F", "recursive panel factorization", 0, -1, hpl_fact_names },
        { "nbmin", 0, CB_OPT_STRING, &t_nbmin, "N", "recursion stops at this many columns (default 4)", 0, -1, NULL },
        { "ndiv", 0, CB_OPT_STRING, &t_ndiv, "N", "panels per recursion level, 2 to 64 (default 2)", 0, -1, NULL },
        { "bcast", 0, CB_OPT_CHOICE, &o.bcast, "B", "panel broadcast", 0, -1, hpl_bcast_names },
        { "depth", 0, CB_OPT_STRING, &t_depth, "D", "look-ahead depth, 0 to 2 (default 1)", 0, -1, NULL },
        { "swap", 0, CB_OPT_CHOICE, &o.swap, "S", "row swap algorithm", 0, -1, hpl_swap_names },
        { "swap-threshold", 0, CB_OPT_STRING, &t_swth, "N", "mix: binary exchange up to this many columns (default 64)", 0, -1, NULL },
        { "threshold", 0, CB_OPT_DOUBLE, &o.threshold, "T", "residual threshold (<= 0: no check, as netlib)", -1e300, 1e300, NULL },
        { "seed", 0, CB_OPT_STRING, &t_seed, "S", "generator seed (default 42)", 0, -1, NULL },
        { "progress-us", 0, CB_OPT_STRING, &t_prog, "U", "look-ahead: at most U us of DGEMM between two progress calls of the broadcast in flight (default 2000; 0: one DGEMM per update)", 0, -1, NULL },
        { "mem-fraction", 0, CB_OPT_DOUBLE, &o.mem_fraction, "F", "-N auto: fraction of each host's memory", 0.01, 0.98, NULL },
        { "solver", 0, CB_OPT_CHOICE, &o.solver, "S", "hpl, or ScaLAPACK's PDGESV on the same system", 0, -1, solver_names },
        { "dat", 0, CB_OPT_STRING, &o.dat, "FILE", "read this HPL.dat instead of ./HPL.dat", 0, -1, NULL },
        { "dgemm", 0, CB_OPT_CHOICE, &o.dgemm, "D", "DGEMM of the solver: own (hpl's, on the CPU's widest vectors whatever OPENBLAS_CORETYPE says), blas, or auto: the faster on a start-up block update (env HPL_DGEMM)", 0, -1, hpl_dgemm_mode_names },
        { "dgemm-seconds", 0, CB_OPT_DOUBLE, &o.dgemm_seconds, "S", "length of the DGEMM self-test (0: skip)", 0, 10, NULL },
        { "inject-error", 0, CB_OPT_FLAG, &o.inject_error, NULL, "perturb x before the check (tests that it can fail)", 0, -1, NULL },
        { NULL, 0, CB_OPT_END, NULL, NULL, NULL, 0, 0, NULL },
    };
    const cb_cli_t cli = {
        "hpl", "[options]",
        "HPL FP64: LU with partial pivoting of a random N x N system on a P x Q grid, netlib HPL 2.3's\n"
        "input (HPL.dat in the working directory), output and scaled residual check.",
        opts,
        "examples:\n  cd hpl && mpirun -np 4 ./hpl                 (reads ./HPL.dat)\n"
        "  mpirun -np 4 hpl/hpl -N 20000 --nb 192 -P 2 -Q 2\n"
        "  mpirun -np 2 hpl/hpl -N auto --mem-fraction 0.5\n"
        "  mpirun -np 2 hpl/hpl -N 4000 --solver scalapack",
    };
    cb_common_opts_t common = { 0 };
    cb_results_t *res = NULL;
    cb_table_t *table = NULL;
    hpl_input_t in;
    hpl_test_t *tests = NULL;
    int n_tests = 0, first_arg = 0;
    MPI_Comm world = MPI_COMM_WORLD, host = MPI_COMM_NULL;
    FILE *out = NULL;
    hpl_blas_info_t blas;
    hpl_dgemm_choice_t dgemm;
    cb_status_t st;

    if (cb_mpi_init(&argc, &argv, "hpl") != CB_OK) return 1;
    memset(&blas, 0, sizeof(blas));
    memset(&dgemm, 0, sizeof(dgemm));
    st = cb_agree(cb_options_parse(&cli, argc, argv, &common, &first_arg), world);
    if (st != CB_OK) goto out;
    if (first_arg < argc) {
        cb_error("unexpected argument '%s' (see --help)", argv[first_arg]);
        st = cb_agree(CB_ERR_USAGE, world);
        goto out;
    }
    for (size_t i = 0; i < sizeof(int_opts) / sizeof(int_opts[0]) && st == CB_OK; i++) {
        long long v;
        if (*int_opts[i].text == NULL) continue;
        st = parse_base10(*int_opts[i].text, int_opts[i].name, int_opts[i].min, int_opts[i].max, &v);
        if (st != CB_OK) break;
        if (int_opts[i].i32) *int_opts[i].i32 = (int)v;
        else *int_opts[i].i64 = v;
    }
    if ((st = cb_agree(st, world)) != CB_OK) goto out;
    int nranks = cb_nranks();

    /* ---- the input: options or HPL.dat */
    hpl_input_defaults(&in);
    if (o.n_text != NULL) {
        if (o.dat != NULL) {
            cb_error("-N and --dat: give the problem by options or by an HPL.dat, not both");
            st = cb_agree(CB_ERR_USAGE, world);
            goto out;
        }
        if (o.p == 0 && o.q == 0) { o.p = square_p(nranks); o.q = nranks / o.p; }
        else if (o.p == 0) o.p = nranks % o.q == 0 ? nranks / o.q : 0;
        else if (o.q == 0) o.q = nranks % o.p == 0 ? nranks / o.p : 0;
        if (o.p == 0 || o.q == 0 || (int64_t)o.p * o.q != nranks) {
            cb_error("grid: -P x -Q must use the %d ranks of the run exactly", nranks);
            st = cb_agree(CB_ERR_USAGE, world);
            goto out;
        }
        in.ns[0] = 0;
        if (strcmp(o.n_text, "auto") != 0) {
            long long v;
            if ((st = cb_agree(parse_base10(o.n_text, "-N", 1, 100000000LL, &v), world)) != CB_OK) goto out;
            in.ns[0] = v;
        }
        in.nbs[0] = o.nb;
        in.pmap = (hpl_pmap_t)o.pmap;
        in.ps[0] = o.p; in.qs[0] = o.q;
        in.threshold = o.threshold;
        in.pfacts[0] = (hpl_fact_t)o.pfact; in.rfacts[0] = (hpl_fact_t)o.rfact;
        in.nbmins[0] = o.nbmin; in.ndivs[0] = o.ndiv;
        in.bcasts[0] = (hpl_bcast_algo_t)o.bcast; in.depths[0] = o.depth;
        in.swap = (hpl_swap_algo_t)o.swap; in.swap_threshold = o.swap_threshold;
    } else {
        int missing = 0;
        const char *path = o.dat ? o.dat : "HPL.dat";
        st = hpl_input_read(path, world, &in, &missing);
        if (missing) {
            if (cb_rank() == 0) {
                cb_error_clear();
                cb_error("%s: cannot open: no such file (run where an HPL.dat is, or give -N N)", path);
            }
            st = cb_agree(CB_ERR_INPUT, world);
        }
        if (st != CB_OK) goto out;
    }
    /* the same verdict on every rank: one message, from rank 0 */
    st = hpl_input_tests(&in, (uint64_t)o.seed, (hpl_solver_t)o.solver, &tests, &n_tests);
    if (cb_rank() != 0) cb_error_clear();
    if ((st = cb_agree(st, world)) != CB_OK) goto out;

    /* ---- every test checked before any heavy work */
    if ((st = CB_MPI(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &host))) != CB_OK) goto out;
    for (int i = 0; i < n_tests && st == CB_OK; i++) {
        hpl_test_t *t = &tests[i];
        cb_status_t e = CB_OK;
        if ((int64_t)t->p * t->q > nranks) {
            if (in.grid_line) cb_error("%s:%d: grid %d x %d needs %d ranks, the run has %d", in.name, in.grid_line, t->p, t->q, t->p * t->q, nranks);
            else cb_error("grid %d x %d needs %d ranks, the run has %d", t->p, t->q, t->p * t->q, nranks);
            e = CB_ERR_INPUT;
        } else if (t->solver == HPL_SOLVER_SCALAPACK && t->p * t->q != nranks) {
            cb_error("--solver scalapack needs P x Q = the %d ranks of the run, not %d x %d", nranks, t->p, t->q);
            e = CB_ERR_USAGE;
        }
        if (cb_rank() != 0) cb_error_clear();
        if ((st = cb_agree(e, world)) != CB_OK) break;
        if (t->n == 0) {
            /* -N auto */
            int64_t n;
            if ((st = largest_n(t, 100000000LL, host_budget(o.mem_fraction), world, host, &n)) != CB_OK) break;
            n = n / t->nb * t->nb;
            if (n < t->nb) {
                cb_error("-N auto: not even N = NB = %d fits in %.0f%% of memory", t->nb, 100.0 * o.mem_fraction);
                st = cb_agree(CB_ERR_NOMEM, world);
                break;
            }
            for (int j = i; j < n_tests; j++) if (tests[j].n == 0) tests[j].n = n;
            cb_info("-N auto: N = %lld", (long long)n);
        }
        int ok;
        double budget = host_budget(0.0);
        if ((st = fits(t, budget, world, host, &ok)) != CB_OK) break;
        if (!ok) {
            int64_t n;
            if ((st = largest_n(t, t->n, budget, world, host, &n)) != CB_OK) break;
            cb_error("N = %lld with NB = %d on %d x %d does not fit in the hosts' available memory; "
                     "the largest N that fits is %lld", (long long)t->n, t->nb, t->p, t->q, (long long)n);
            if (cb_rank() != 0) cb_error_clear();
            st = cb_agree(CB_ERR_NOMEM, world);
        }
    }
    if (st != CB_OK) goto out;
    {
        /* as netlib, a smaller grid leaves ranks idle, but a run where no grid
         * uses every rank is a mistake (an HPL.dat for another machine) */
        int maxpq = 0, mp_ = 0, mq_ = 0;
        for (int i = 0; i < n_tests; i++)
            if (tests[i].p * tests[i].q > maxpq) { maxpq = tests[i].p * tests[i].q; mp_ = tests[i].p; mq_ = tests[i].q; }
        if (maxpq < nranks) {
            if (cb_rank() == 0)
                cb_error("%s:%d: no grid uses the %d ranks of the run (the largest is %d x %d): "
                         "change Ps and Qs or run %d ranks", in.name, in.grid_line, nranks, mp_, mq_, maxpq);
            st = cb_agree(CB_ERR_INPUT, world);
            goto out;
        }
    }

    /* ---- results, BLAS, netlib header */
    if ((st = cb_results_open("hpl", &common, argc, argv, world, &res)) != CB_OK) goto out;
    int table_flags = cb_results_format(res) == CB_FORMAT_TABLE ? CB_TABLE_NO_PRINT : CB_TABLE_PRINT;
    st = cb_table_create(res, "/hpl/runs", hpl_columns, (int)(sizeof(hpl_columns) / sizeof(hpl_columns[0])),
                         sizeof(hpl_row_t), table_flags, &table);
    if ((st = cb_agree(st, world)) != CB_OK) goto out;
    cb_table_set_str(table, "description",
                     "one row per HPL test: netlib's T/V code and settings, time, Gflops = (2/3 N^3 + 3/2 N^2) / time, "
                     "scaled residual and check, seconds per phase (max over ranks), DGEMM self-test rate");
    {
        /* the largest NB of the input: the update's k */
        int nbmax = 1;
        for (int i = 0; i < in.n_nbs; i++) if (in.nbs[i] > nbmax) nbmax = in.nbs[i];
        if ((st = hpl_dgemm_choose(world, (hpl_dgemm_mode_t)o.dgemm, nbmax, &dgemm)) != CB_OK) goto out;
    }
    cb_results_set_str(res, "dgemm_mode", hpl_dgemm_mode_names[dgemm.mode]);
    cb_results_set_str(res, "dgemm_kernel", dgemm.kernel);
    cb_results_set_double(res, "dgemm_own_gflops_total", dgemm.gflops_own);
    cb_results_set_double(res, "dgemm_blas_gflops_total", dgemm.gflops_blas);
    if (o.dgemm_seconds > 0.0) {
        if ((st = hpl_blas_selftest(world, o.dgemm_seconds, &blas)) != CB_OK) goto out;
    } else {
        snprintf(blas.coretype, sizeof(blas.coretype), "%s", cb_blas_coretype());
    }
    cb_results_set_double(res, "dgemm_gflops_total", blas.gflops_total);
    cb_results_set_double(res, "dgemm_gflops_node", blas.gflops_node);
    cb_results_set_str(res, "blas_coretype", blas.coretype);

    cb_status_t fst = CB_OK;
    if (cb_rank() == 0 && cb_results_format(res) == CB_FORMAT_TABLE) {
        if (o.n_text != NULL || in.device == 6) out = stdout;
        else if (in.device == 7) out = stderr;
        else if ((out = fopen(in.out_name, "w")) == NULL) {
            cb_error("cannot create %s (HPL.dat line 3): %s", in.out_name, strerror(errno));
            fst = CB_ERR_IO;
        }
    }
    if ((st = cb_agree(fst, world)) != CB_OK) goto out;
    if (out) print_header(out, &in);

    if (out)
        fprintf(out, "DGEMM  : %s%s (--dgemm %s); start-up block update, %d ranks: own %s %.1f Gflops, "
                     "BLAS (core %s) %.1f Gflops\n\n", dgemm.own ? "own " : "", dgemm.kernel,
                hpl_dgemm_mode_names[dgemm.mode], nranks, hpl_dgemm_isa_name(), dgemm.gflops_own, blas.coretype,
                dgemm.gflops_blas);
    run_ctx_t rc = { res, table, out, &blas, &dgemm, o.inject_error, o.progress_us * 1e-6, 0, 0, 0 };
    for (int i = 0; i < n_tests && st == CB_OK; i++) st = run_test(&rc, &tests[i], world);

    if (out) {
        /* netlib counts a test whose check it skipped as passed; here it has its own line */
        fprintf(out, "%s\n\nFinished %6d tests with the following results:\n"
                     "         %6d tests completed and passed residual checks,\n"
                     "         %6d tests completed and failed residual checks,\n",
                RULE, rc.passed + rc.failed + rc.skipped, rc.passed, rc.failed);
        if (rc.skipped > 0)
            fprintf(out, "         %6d tests completed without residual checks (threshold <= 0),\n", rc.skipped);
        fprintf(out, "         %6d tests skipped because of illegal input values.\n%s\n\nEnd of Tests.\n%s\n",
                0, DASH, RULE);
        fflush(out);
    }
    if (st == CB_OK) {
        int failed = rc.failed;
        st = CB_MPI(MPI_Bcast(&failed, 1, MPI_INT, 0, world));
        if (st == CB_OK && failed > 0) {
            if (cb_rank() == 0) cb_error("%d of %d tests FAILED the residual check", failed, n_tests);
            st = cb_agree(CB_ERR_CHECK, world);
        }
    }
out:
    if (out && out != stdout && out != stderr) fclose(out);
    st = cb_results_close(res, st);
    if (host != MPI_COMM_NULL) MPI_Comm_free(&host);
    cb_free(tests);
    hpl_dgemm_release();
    return cb_mpi_finalize(st);
}
