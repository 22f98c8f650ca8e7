/* The engine: runs any test of the table over its backend, size by size and
 * transport set by transport set, times every iteration, reduces the samples
 * to statistics and writes one row per size to /microbench/<test>. */
#include "mb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MB_ITER_BUDGET ((size_t)256 << 20) /* bytes one size moves by default */
#define MB_MAX_ITERS 1000000               /* cap of --time-per-size */
#define MB_PROBE_ITERS 3                   /* iterations that size the default counts */
#define MB_DEFAULT_SECONDS 1.0             /* default counts take about this long at most */
#define MB_MAX_BLOCKS 16                   /* column blocks: sets, or algorithms x sets */

/* ================================================================ sizes */

int mb_pair_peer(int rank, int n)
{
    if (n < 2 || n % 2 != 0)
        return -1;
    return rank < n / 2 ? rank + n / 2 : rank - n / 2;
}

/* The sizes `test` runs at: powers of two from the range's minimum (0 first
 * when asked) up to its maximum, which is always included; restricted to the
 * test's limits and rounded to its granule. Returns the count. Local. */
static int sizes_of(const mb_params_t *params, const mb_test_t *test, size_t *sizes, int cap)
{
    int n = 0;
    if (test->op == MB_OP_DECODE) {
        sizes[n++] = (size_t)params->decode_dim * sizeof(float); /* the shape's, whatever -m says */
        return n;
    }
    if (test->flags & MB_TEST_FIXED) {
        sizes[n++] = test->min_size;
        return n;
    }
    size_t s = params->min_size;
    for (;;) {
        size_t t = s - s % (test->granule ? test->granule : 1);
        int keep = t >= test->min_size && (test->max_size == 0 || t <= test->max_size);
        if (keep && (n == 0 || sizes[n - 1] != t) && n < cap)
            sizes[n++] = t;
        if (s >= params->max_size)
            break;
        s = (s == 0) ? 1 : (s > params->max_size / 2 ? params->max_size : s * 2);
    }
    return n;
}

/* Bytes of buffers one rank needs for `test` at `size` (both directions,
 * every slot of a window). Mirrors what the backends allocate. Local. */
static size_t bytes_needed(const mb_params_t *params, const mb_test_t *test, size_t size)
{
    size_t w = (size_t)params->window, np = (size_t)params->n_ranks;
    switch (test->op) {
    case MB_OP_BW: case MB_OP_BIBW: case MB_OP_MSGRATE:
        return cb_mul_size(size, params->shared_recv ? 2 : w + 1);
    case MB_OP_ALLGATHER: case MB_OP_REDUCE_SCATTER:
        return cb_mul_size(size, np + 1);
    case MB_OP_ALLTOALL:
        return cb_mul_size(size, 2 * np);
    default:
        return cb_mul_size(size, 2);
    }
}

cb_status_t mb_engine_check(const mb_params_t *params, const mb_test_t *test)
{
    if ((test->flags & MB_TEST_PAIRS) && mb_pair_peer(0, params->n_ranks) < 0) {
        cb_error("test %s: needs an even number of ranks (pairs i, i + np/2), not %d",
                 test->name, params->n_ranks);
        return CB_ERR_USAGE;
    }
    if (test->op == MB_OP_PINGPONG_MT && cb_mpi_thread_level() < MPI_THREAD_MULTIPLE) {
        cb_error("test %s: needs MPI_THREAD_MULTIPLE, and this MPI provides only %s", test->name,
                 cb_mpi_thread_level_name(cb_mpi_thread_level()));
        return CB_ERR_UNSUPPORTED;
    }
    size_t sizes[128];
    int n = sizes_of(params, test, sizes, 128);
    if (n == 0)
        return CB_OK; /* nothing in range: the engine says so and skips it */
    unsigned long long avail = cb_mem_available_bytes();
    if (avail == 0)
        return CB_OK;
    unsigned long long mine = avail / (unsigned long long)(params->local_size > 0 ? params->local_size : 1);
    size_t need = bytes_needed(params, test, sizes[n - 1]);
    if ((unsigned long long)need > mine / 2) {
        size_t fit = sizes[n - 1];
        while (fit > 0 && (unsigned long long)bytes_needed(params, test, fit) > mine / 2)
            fit /= 2;
        char a[32], b[32];
        cb_error("test %s: size %s needs %zu MiB per rank, more than half of the %llu MiB "
                 "available to each; the largest size that fits is %s",
                 test->name, cb_format_size(sizes[n - 1], a, sizeof a), need >> 20, mine >> 20,
                 cb_format_size(fit, b, sizeof b));
        return CB_ERR_NOMEM;
    }
    return CB_OK;
}

/* OSU's default counts (osu_util.h) for the kind of `test`: latency pairs
 * 10000 + 100 warm-up, collectives 1000 + 100, bandwidth windows 100 + 10;
 * above 8 KiB a tenth of them (1000 + 10, 100 + 10, 20 + 2). Local. */
static void osu_counts_of(const mb_test_t *test, size_t size, int *iters_p, int *warmup_p)
{
    int large = size > 8192;
    if (test->metric == MB_METRIC_BW) {
        *iters_p = large ? 20 : 100;
        *warmup_p = large ? 2 : 10;
    } else if ((test->flags & MB_TEST_ALL) && !(test->flags & MB_TEST_PAIRS)) { /* not multi_lat: a pt2pt test */
        *iters_p = large ? 100 : 1000;
        *warmup_p = large ? 10 : 100;
    } else {
        *iters_p = large ? 1000 : 10000;
        *warmup_p = large ? 10 : 100;
    }
}

/* Iterations for one size: --iters, OSU's (--osu-counts), or as many as
 * move MB_ITER_BUDGET bytes (between 10 and 10000 messages or windows).
 * Local. */
static void counts_of(const mb_params_t *params, const mb_test_t *test, size_t size,
                      int *iters_p, int *warmup_p)
{
    if (test->op == MB_OP_INIT) { /* MPI_Init ran once */
        *iters_p = 1;
        *warmup_p = 0;
        return;
    }
    if (params->osu_counts) {
        osu_counts_of(test, size, iters_p, warmup_p);
        return;
    }
    int iters = params->iters;
    if (iters <= 0) {
        size_t per_iter = size > 0 ? size : 1;
        if (test->metric == MB_METRIC_BW && test->op != MB_OP_MEMCPY)
            per_iter = cb_mul_size(per_iter, (size_t)params->window);
        size_t n = MB_ITER_BUDGET / per_iter;
        size_t hi = test->metric == MB_METRIC_BW ? 1000 : 10000;
        iters = (int)(n < 10 ? 10 : n > hi ? hi : n);
    }
    int warmup = params->warmup;
    if (warmup < 0)
        warmup = iters / 10 > 1 ? iters / 10 : 1;
    if (params->time_per_size > 0 && warmup < 2)
        warmup = 2; /* the warm-up also estimates the time of one iteration */
    *iters_p = iters;
    *warmup_p = warmup;
}

/* ================================================================ rows */

/* A row is an array of 8-byte slots, so that its columns can depend on the
 * number of transport sets: size, iterations, a block of statistics per set,
 * then a ratio per set after the first. */
typedef union {
    int64_t i;
    double d;
} slot_t;

/* Latency of a test over every rank (collectives) adds, after the per-call
 * statistics of the slowest rank, OSU's figure (the mean over ranks of each
 * rank's mean time per call) and the slowest rank's mean. Every block ends
 * with its own iteration count. */
enum { LAT_AVG, LAT_MIN, LAT_P50, LAT_P99, LAT_MAX, LAT_N, LAT_RANK_MEAN = LAT_N, LAT_RANK_MAX, LAT_N_ALL };
enum { BW_AVG, BW_P50, BW_MAX, BW_MSGS, BW_N };

typedef struct {
    cb_column_t cols[2 + MB_MAX_BLOCKS * (LAT_N_ALL + 4)];
    char names[2 + MB_MAX_BLOCKS * (LAT_N_ALL + 4)][2][96]; /* field name, title */
    int n_cols;
    int per_block; /* statistics columns per block */
} layout_t;

static void add_col(layout_t *l, const char *name, const char *title, cb_col_type_t type, const char *fmt)
{
    int c = l->n_cols++;
    snprintf(l->names[c][0], sizeof l->names[c][0], "%s", name);
    snprintf(l->names[c][1], sizeof l->names[c][1], "%s", title);
    l->cols[c] = (cb_column_t){ l->names[c][0], l->names[c][1], type,
                                (size_t)c * sizeof(slot_t), sizeof(slot_t), fmt, 0 };
}

/* Columns: OSU's names for one set; "<set> ..." blocks and ratios for more. */
static void layout_build(layout_t *l, mb_metric_t metric, int n_blocks, char labels[][MB_NAME_LEN], int decode,
                         int over_ranks, int overlap)
{
    static const char *lat_field[LAT_N_ALL] = { "lat_avg_us", "lat_min_us", "lat_p50_us", "lat_p99_us", "lat_max_us",
                                                 "rank_mean_us", "slowest_rank_us" };
    static const char *lat_title[LAT_N_ALL] = { "Avg Latency(us)", "Min(us)", "P50(us)", "P99(us)", "Max(us)",
                                                "Mean of ranks(us)", "Slowest rank(us)" };
    static const char *bw_field[BW_N] = { "bw_MBps", "bw_p50_MBps", "bw_max_MBps", "msg_rate_per_s" };
    static const char *bw_title[BW_N] = { "Bandwidth(MB/s)", "P50(MB/s)", "Max(MB/s)", "Messages/s" };
    int lat = metric == MB_METRIC_LAT;
    memset(l, 0, sizeof *l);
    l->per_block = lat ? (over_ranks ? LAT_N_ALL : LAT_N) : BW_N;
    add_col(l, "size_B", "Size", CB_COL_INT64, NULL);
    for (int b = 0; b < n_blocks; b++) {
        for (int k = 0; k < l->per_block; k++) {
            const char *f = lat ? lat_field[k] : bw_field[k], *t = lat ? lat_title[k] : bw_title[k];
            char name[96], title[96];
            if (n_blocks > 1) {
                snprintf(name, sizeof name, "%.40s_%s", labels[b], f);
                snprintf(title, sizeof title, "%.40s %s", labels[b], t);
            } else {
                snprintf(name, sizeof name, "%s", f);
                snprintf(title, sizeof title, "%s", t);
            }
            add_col(l, name, title, CB_COL_DOUBLE, (!lat && k == BW_MSGS) ? "%.0f" : "%.2f");
        }
    }
    for (int b = 1; b < n_blocks; b++) {
        char name[96], title[96];
        snprintf(name, sizeof name, "ratio_%.30s_over_%.30s", labels[b], labels[0]);
        snprintf(title, sizeof title, "%.40s/%.40s", labels[b], labels[0]);
        add_col(l, name, title, CB_COL_DOUBLE, "%.3f");
    }
    /* decode: the tokens/s that communication alone allows (1 / median token). */
    for (int b = 0; decode && b < n_blocks; b++) {
        char name[96], title[96];
        snprintf(name, sizeof name, n_blocks > 1 ? "%.40s_ceiling_tok_per_s" : "ceiling_tok_per_s", labels[b]);
        snprintf(title, sizeof title, n_blocks > 1 ? "%.40s tok/s ceiling" : "tok/s ceiling", labels[b]);
        add_col(l, name, title, CB_COL_DOUBLE, "%.1f");
    }
    /* iallreduce: osu_iallreduce's overlap, from the blocks' means over ranks. */
    if (overlap)
        add_col(l, "overlap_pct", "Overlap(%)", CB_COL_DOUBLE, "%.1f");
    /* Iterations of each block: the sets' counts may differ. */
    for (int b = 0; b < n_blocks; b++) {
        char name[96], title[96];
        snprintf(name, sizeof name, n_blocks > 1 ? "%.40s_iters" : "iters", labels[b]);
        snprintf(title, sizeof title, n_blocks > 1 ? "%.40s Iterations" : "Iterations", labels[b]);
        add_col(l, name, title, CB_COL_INT64, NULL);
    }
}

/* A set's name as a field-name prefix: letters, digits and '_' only. */
static void label_of(const char *set, char *label, size_t len)
{
    size_t i = 0;
    for (; set[i] && i + 1 < len; i++) {
        char c = set[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        label[i] = ok ? c : '_';
    }
    label[i] = '\0';
}

/* ================================================================ running */

cb_status_t mb_barrier(MPI_Comm comm, int idle)
{
    /* Every rank must call the same collective: MPI_Ibarrier everywhere. */
    MPI_Request req;
    int done = 0;
    cb_status_t st = CB_MPI(MPI_Ibarrier(comm, &req));
    while (st == CB_OK && !done) {
        st = CB_MPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
        if (!done && idle) {
            struct timespec pause = { 0, 200000 }; /* 0.2 ms */
            nanosleep(&pause, NULL);
        }
    }
    return st;
}

/* The barrier after a run: ranks with nothing to do in a pair test (and all
 * but rank 0 in memcpy's one-core block) wait idle. Collective. */
static cb_status_t barrier_idle(const mb_params_t *params, const mb_test_t *test)
{
    int in_pair0 = params->rank == 0 || params->rank == params->n_ranks / 2;
    int idle = (test->flags & MB_TEST_PAIRS) && !(test->flags & MB_TEST_ALL) && !in_pair0;
    if (test->layer == MB_LAYER_LOCAL)
        idle = params->rank != 0;
    return mb_barrier(params->comm, idle);
}

/* Latency tests over every rank (collectives): OSU's mean over ranks too. */
static int over_ranks(const mb_test_t *test)
{
    return test->metric == MB_METRIC_LAT && (test->flags & MB_TEST_ALL);
}

/* Run `n` untimed iterations and return the median time of one (the
 * slowest rank's), the same on every rank. Collective; agrees. */
static cb_status_t estimate(const mb_params_t *params, const mb_test_t *test,
                            const mb_backend_t *backend, void *inst, mb_run_t *run, int n,
                            double *each_p)
{
    double *samples = calloc((size_t)n, sizeof *samples), *reduced = calloc((size_t)n, sizeof *reduced);
    double msgs = 1.0;
    cb_stats_t s;
    cb_status_t st = (samples && reduced) ? CB_OK : CB_ERR_NOMEM;
    if (st != CB_OK)
        cb_error("cannot allocate %d samples", n);
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        goto out;
    run->iters = n;
    st = backend->run(inst, test, run, samples, &msgs);
    run->seed += (uint32_t)n; /* later runs use fresh patterns: stale bytes fail */
    mb_keep_first(&st, barrier_idle(params, test));
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        goto out;
    st = CB_MPI(MPI_Allreduce(samples, reduced, n, MPI_DOUBLE, MPI_MAX, params->comm));
    /* The median: the first iterations pay for connecting. */
    if (st == CB_OK)
        st = cb_stats_compute(reduced, (size_t)n, &s);
    if ((st = cb_agree(st, params->comm)) == CB_OK)
        *each_p = s.p50;
out:
    free(samples);
    free(reduced);
    return st;
}

/* Run one block at one size: iteration counts, warm-up, timed iterations,
 * and the statistics into slots[0..per_block). Collective; agrees. */
static cb_status_t run_size(const mb_params_t *params, const mb_test_t *test,
                            const mb_backend_t *backend, void *inst, size_t size,
                            uint32_t seed, slot_t *slots, int *iters_p)
{
    cb_status_t st = CB_OK;
    double *samples = NULL, *reduced = NULL, msgs = 1.0, each = 0;
    int iters, warmup;
    counts_of(params, test, size, &iters, &warmup);
    int peer = mb_pair_peer(params->rank, params->n_ranks);
    mb_run_t run = {
        .size = size, .iters = warmup, .window = params->window, .validate = params->validate,
        .corrupt = 0, .slots = params->shared_recv ? 1 : params->window, .seed = seed, .peer = peer,
        .initiator = peer >= 0 && params->rank < params->n_ranks / 2,
    };

    if (test->op == MB_OP_INIT) {
        /* one sample: no estimate, no warm-up */
    } else if (params->time_per_size > 0) {
        /* As many iterations as fill the time, from the warm-up's median. */
        if ((st = estimate(params, test, backend, inst, &run, warmup, &each)) != CB_OK)
            return st;
        double n = each > 0 ? params->time_per_size / each : MB_MAX_ITERS;
        iters = (int)(n < 1 ? 1 : n > MB_MAX_ITERS ? MB_MAX_ITERS : n);
        warmup = 0; /* done */
    } else if (params->iters <= 0 && !params->osu_counts) {
        /* Default counts, bounded in time: on a slow or crowded network the
         * count by size alone could take hours. A few iterations tell. */
        if ((st = estimate(params, test, backend, inst, &run, MB_PROBE_ITERS, &each)) != CB_OK)
            return st;
        double fit = each > 0 ? MB_DEFAULT_SECONDS / each : iters;
        if (fit < iters)
            iters = fit < 10 ? 10 : (int)fit;
        if (params->warmup < 0 && warmup > iters / 10)
            warmup = iters / 10 > 1 ? iters / 10 : 1;
    }
    if (warmup > 0 && (st = estimate(params, test, backend, inst, &run, warmup, &each)) != CB_OK)
        return st;

    samples = calloc((size_t)iters, sizeof *samples);
    reduced = calloc((size_t)iters, sizeof *reduced);
    st = (samples && reduced) ? CB_OK : CB_ERR_NOMEM;
    if (st != CB_OK)
        cb_error("cannot allocate %d samples", iters);
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        goto out;

    run.iters = iters;
    run.corrupt = params->corrupt;
    memset(samples, 0, (size_t)iters * sizeof *samples);
    st = backend->run(inst, test, &run, samples, &msgs);
    mb_keep_first(&st, barrier_idle(params, test));
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        goto out;
    /* Samples are 0 on ranks that do not measure. Each rank's mean time per
     * iteration, and how many ranks measure. */
    double mine = 0, rank_sum = 0, rank_max = 0, measuring = 0;
    for (int i = 0; i < iters; i++)
        mine += samples[i];
    mine /= iters;
    double measures = mine > 0;
    st = CB_MPI(MPI_Allreduce(&measures, &measuring, 1, MPI_DOUBLE, MPI_SUM, params->comm));
    /* Each iteration's time: the slowest rank's, or (MB_TEST_MEAN) the mean
     * over the ranks that measure, as OSU's multi-pair tests average their
     * senders' times. */
    int mean = (test->flags & MB_TEST_MEAN) != 0;
    if (st == CB_OK)
        st = CB_MPI(MPI_Reduce(samples, reduced, iters, MPI_DOUBLE, mean ? MPI_SUM : MPI_MAX, 0, params->comm));
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        goto out;
    if (mean && measuring > 0)
        for (int i = 0; i < iters; i++)
            reduced[i] /= measuring;
    /* Over every rank that measures: each rank's mean time per call, then
     * their mean (OSU's Avg Latency) and their maximum (OSU's Max Latency:
     * the slowest rank). */
    if (over_ranks(test)) {
        st = CB_MPI(MPI_Reduce(&mine, &rank_sum, 1, MPI_DOUBLE, MPI_SUM, 0, params->comm));
        if (st == CB_OK)
            st = CB_MPI(MPI_Reduce(&mine, &rank_max, 1, MPI_DOUBLE, MPI_MAX, 0, params->comm));
        if ((st = cb_agree(st, params->comm)) != CB_OK)
            goto out;
    }

    if (params->rank == 0) {
        cb_stats_t s;
        if (test->metric == MB_METRIC_LAT) {
            st = cb_stats_compute(reduced, (size_t)iters, &s);
            slots[LAT_AVG].d = s.mean * 1e6;
            slots[LAT_MIN].d = s.min * 1e6;
            slots[LAT_P50].d = s.p50 * 1e6;
            slots[LAT_P99].d = s.p99 * 1e6;
            slots[LAT_MAX].d = s.max * 1e6;
            if (over_ranks(test)) {
                slots[LAT_RANK_MEAN].d = measuring > 0 ? rank_sum / measuring * 1e6 : 0;
                slots[LAT_RANK_MAX].d = rank_max * 1e6;
            }
        } else {
            /* Per-iteration bandwidth for the spread; the average is bytes
             * over total time, not a mean of rates. */
            double total = 0, bytes = msgs * (double)size;
            for (int i = 0; i < iters; i++) {
                total += reduced[i];
                reduced[i] = reduced[i] > 0 ? bytes / reduced[i] / 1e6 : 0;
            }
            st = cb_stats_compute(reduced, (size_t)iters, &s);
            slots[BW_AVG].d = total > 0 ? bytes * iters / total / 1e6 : 0;
            slots[BW_P50].d = s.p50;
            slots[BW_MAX].d = s.max;
            slots[BW_MSGS].d = total > 0 ? msgs * iters / total : 0;
        }
    }
    st = cb_agree(st, params->comm);
    *iters_p = iters;
out:
    free(samples);
    free(reduced);
    return st;
}

/* "0 (host-a) <-> 1 (host-b), ..." for pair tests, the host list otherwise.
 * Collective (gathers host names); the text is meaningful on rank 0. */
static cb_status_t pairs_text(const mb_params_t *params, const mb_test_t *test, char *buf, size_t len)
{
    int np = params->n_ranks;
    char name[MPI_MAX_PROCESSOR_NAME] = { 0 };
    snprintf(name, sizeof name, "%s", cb_hostname());
    char *all = malloc((size_t)np * sizeof name);
    cb_status_t st = all ? CB_OK : CB_ERR_NOMEM;
    if (!all)
        cb_error("cannot allocate host names of %d ranks", np);
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        return st;
    st = cb_agree(CB_MPI(MPI_Gather(name, (int)sizeof name, MPI_CHAR, all, (int)sizeof name,
                                    MPI_CHAR, 0, params->comm)), params->comm);
    if (st == CB_OK && params->rank == 0) {
        size_t used = 0;
        buf[0] = '\0';
        int pairs = (test->flags & MB_TEST_PAIRS) != 0;
        int n = pairs ? ((test->flags & MB_TEST_ALL) ? np / 2 : 1) : np;
        for (int i = 0; i < n && used < len; i++) {
            if (pairs)
                used += (size_t)snprintf(buf + used, len - used, "%s%d (%s) <-> %d (%s)", i ? ", " : "",
                                         i, all + (size_t)i * sizeof name, i + np / 2,
                                         all + (size_t)(i + np / 2) * sizeof name);
            else
                used += (size_t)snprintf(buf + used, len - used, "%s%d (%s)", i ? ", " : "", i,
                                         all + (size_t)i * sizeof name);
        }
    }
    free(all);
    return st;
}

static const mb_backend_t *backend_of(mb_layer_t layer)
{
    switch (layer) {
    case MB_LAYER_UCX: return &mb_backend_ucx;
    case MB_LAYER_LOCAL: return &mb_backend_local;
    case MB_LAYER_COLL: return &mb_backend_coll;
    default: return &mb_backend_mpi;
    }
}

/* What UCX selected over the whole run, for the root attribute. */
static char ucx_selected[2048];

cb_status_t mb_engine_run(const mb_params_t *params, const mb_test_t *test, cb_results_t *results)
{
    cb_status_t st = CB_OK;
    const mb_backend_t *backend = backend_of(test->layer);
    void *inst[MB_MAX_BLOCKS] = { 0 };
    char labels[MB_MAX_BLOCKS][MB_NAME_LEN];
    const char *sets[MB_MAX_BLOCKS];
    char transport[1024] = "", hosts[1024] = "", path[128];
    int n_blocks = 0, n_open = 0;
    cb_table_t *table = NULL;
    layout_t *layout = NULL;
    slot_t *row = NULL;
    size_t sizes[128];
    int n_sizes = sizes_of(params, test, sizes, 128);

    if (n_sizes == 0) {
        char a[32], b[32];
        cb_warn_root("%s: no size of %s:%s fits this test (%zu bytes at least): skipped", test->name,
                     cb_format_size(params->min_size, a, sizeof a),
                     cb_format_size(params->max_size, b, sizeof b), test->min_size);
        return CB_OK;
    }

    /* The blocks of columns: one per UCX set, one and all cores for memcpy. */
    if (test->layer == MB_LAYER_UCX) {
        for (int i = 0; i < params->n_sets; i++) {
            sets[n_blocks] = params->sets[i];
            label_of(params->sets[i], labels[n_blocks++], MB_NAME_LEN);
        }
    } else if (test->layer == MB_LAYER_COLL) {
        /* An MPI algorithm is one block; a UCX one, a block per --tls set. */
        static char names[MB_MAX_BLOCKS][2 * MB_NAME_LEN + 2];
        for (int a = 0; a < params->n_algs; a++)
            for (int i = 0; i < (mb_alg_is_mpi(params->algs[a]) ? 1 : params->n_sets) && n_blocks < MB_MAX_BLOCKS; i++) {
                int plain = mb_alg_is_mpi(params->algs[a]) || (params->n_sets == 1 && strcmp(params->sets[0], "any") == 0);
                if (plain)
                    snprintf(names[n_blocks], sizeof names[n_blocks], "%s", params->algs[a]);
                else
                    snprintf(names[n_blocks], sizeof names[n_blocks], "%s@%s", params->algs[a], params->sets[i]);
                sets[n_blocks] = names[n_blocks];
                label_of(names[n_blocks], labels[n_blocks], MB_NAME_LEN);
                n_blocks++;
            }
    } else if (test->layer == MB_LAYER_LOCAL) {
        sets[n_blocks] = "one";
        snprintf(labels[n_blocks++], MB_NAME_LEN, "one_core");
        sets[n_blocks] = "all";
        snprintf(labels[n_blocks++], MB_NAME_LEN, "all_%d", params->n_ranks);
    } else if (test->op == MB_OP_IALLREDUCE) {
        /* the pure block first: the overlap block computes for its time */
        sets[n_blocks] = "pure";
        snprintf(labels[n_blocks++], MB_NAME_LEN, "pure");
        sets[n_blocks] = "overlap";
        snprintf(labels[n_blocks++], MB_NAME_LEN, "overlap");
    } else {
        sets[n_blocks] = NULL;
        snprintf(labels[n_blocks++], MB_NAME_LEN, "mpi");
    }

    layout = calloc(1, sizeof *layout);
    row = calloc(2 + MB_MAX_BLOCKS * (LAT_N_ALL + 4), sizeof *row);
    st = (layout && row) ? CB_OK : CB_ERR_NOMEM;
    if (st != CB_OK)
        cb_error("cannot allocate the table layout");
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        goto out_free;

    for (n_open = 0; n_open < n_blocks; n_open++) {
        st = backend->open(params, sets[n_open], &inst[n_open]);
        if (st != CB_OK)
            goto out_close;
    }
    for (int b = 0; b < n_blocks; b++) {
        char desc[512] = "";
        if ((st = backend->describe(inst[b], desc, sizeof desc)) != CB_OK)
            goto out_close;
        size_t used = strlen(transport);
        snprintf(transport + used, sizeof transport - used, "%s%s", b ? "; " : "", desc);
    }
    if ((st = pairs_text(params, test, hosts, sizeof hosts)) != CB_OK)
        goto out_close;

    layout_build(layout, test->metric, n_blocks, labels, test->op == MB_OP_DECODE, over_ranks(test),
                 test->op == MB_OP_IALLREDUCE);
    snprintf(path, sizeof path, "/microbench/%s", test->name);
    cb_results_comment(results, "%s: %s", test->name, test->description);
    cb_results_comment(results, "transport: %s", transport);
    cb_results_comment(results, "%s: %s", (test->flags & MB_TEST_PAIRS) ? "pairs" : "ranks", hosts);
    if (test->metric == MB_METRIC_BW && test->op != MB_OP_MEMCPY)
        cb_results_comment(results, "window: %d messages; MB/s = 10^6 bytes/s", params->window);
    if (test->op == MB_OP_IALLREDUCE)
        cb_results_comment(results, "iallreduce: overlap = 100 - 100 (overlap - compute) / pure, means over ranks "
                           "(osu_iallreduce); each rank computes for its own mean pure time at the size");
    if (test->op == MB_OP_DECODE)
        cb_results_comment(results, "decode %s: %d allreduces of %d floats (%d B) per token, back to back, as llm issues them "
                           "(1 after the embedding, 2 per layer); latency columns are microseconds per token",
                           params->shape, params->decode_calls, params->decode_dim, params->decode_dim * 4);
    if (test->op == MB_OP_PINGPONG_MT)
        cb_results_comment(results, "latency_mt: 1 sending thread, %d receiving threads on the peer", params->threads);
    if (params->validate && test->op != MB_OP_DECODE)
        cb_results_comment(results, "validate: every received byte checked%s",
                           test->layer == MB_LAYER_COLL ? "; UCX and rd results bit for bit against rank 0's" : "");
    st = cb_table_create(results, path, layout->cols, layout->n_cols,
                         (size_t)layout->n_cols * sizeof(slot_t), CB_TABLE_PRINT, &table);
    if (st == CB_OK)
        st = cb_table_set_str(table, "transport", transport);
    if (st == CB_OK)
        st = cb_table_set_str(table, "description", test->description);
    if (st == CB_OK)
        st = cb_table_set_str(table, (test->flags & MB_TEST_PAIRS) ? "pairs" : "ranks", hosts);
    if (st == CB_OK && test->metric == MB_METRIC_BW)
        st = cb_table_set_double(table, "window", test->op == MB_OP_MEMCPY ? 1 : params->window);
    if (st == CB_OK && test->op == MB_OP_PINGPONG_MT)
        st = cb_table_set_double(table, "receiving_threads", params->threads);
    if (st == CB_OK)
        st = cb_table_set_str(table, "validated", params->validate ? "yes" : "no");
    /* The root attribute says what UCX selected (directly, or under MPI's
     * UCX PML), not only what was asked: every distinct selection of the run. */
    if (st == CB_OK && (test->layer == MB_LAYER_UCX || strstr(transport, "UCX selects") || strstr(transport, "over UCX"))
        && !strstr(ucx_selected, transport)) {
        size_t used = strlen(ucx_selected);
        snprintf(ucx_selected + used, sizeof ucx_selected - used, "%s%s", used ? "; " : "", transport);
        st = cb_results_set_str(results, "ucx_transports", ucx_selected);
    }
    if ((st = cb_agree(st, params->comm)) != CB_OK)
        goto out_close;

    for (int i = 0; i < n_sizes; i++) {
        row[0].i = (int64_t)sizes[i];
        for (int b = 0; b < n_blocks; b++) {
            int iters = 0;
            uint32_t seed = (uint32_t)(i * 7919 + b * 104729 + 17);
            st = run_size(params, test, backend, inst[b], sizes[i], seed,
                          row + 1 + b * layout->per_block, &iters);
            if (st != CB_OK)
                goto out_close;
            row[layout->n_cols - n_blocks + b].i = iters;
        }
        int metric_col = test->metric == MB_METRIC_LAT ? LAT_P50 : BW_AVG;
        for (int b = 1; b < n_blocks; b++) {
            double base = row[1 + metric_col].d, mine = row[1 + b * layout->per_block + metric_col].d;
            row[1 + n_blocks * layout->per_block + b - 1].d = base > 0 ? mine / base : 0;
        }
        for (int b = 0; test->op == MB_OP_DECODE && b < n_blocks; b++) {
            double p50 = row[1 + b * layout->per_block + LAT_P50].d;
            row[1 + n_blocks * layout->per_block + n_blocks - 1 + b].d = p50 > 0 ? 1e6 / p50 : 0;
        }
        if (test->op == MB_OP_IALLREDUCE) {
            /* OSU's overlap: 100 - 100 (overall - compute) / pure, with means
             * over ranks; each rank computed for its own mean pure time, so
             * the mean compute time is the pure block's mean over ranks. */
            double pure = row[1 + LAT_RANK_MEAN].d, overall = row[1 + layout->per_block + LAT_RANK_MEAN].d;
            double pct = pure > 0 ? 100.0 - 100.0 * (overall - pure) / pure : 0;
            row[layout->n_cols - n_blocks - 1].d = pct > 0 ? pct : 0;
        }
        if ((st = cb_agree(cb_table_append(table, row), params->comm)) != CB_OK)
            goto out_close;
        cb_progress("%s: %zu bytes done", test->name, sizes[i]);
    }
    cb_progress_done();

out_close:
    if (table)
        cb_table_close(table);
    for (int b = n_open - 1; b >= 0; b--)
        if (b < n_blocks)
            backend->close(inst[b]);
out_free:
    free(row);
    free(layout);
    return st;
}
