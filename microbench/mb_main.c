/* microbench: latency, bandwidth, collectives and one-sided RDMA over MPI and
 * directly over UCX. This file holds the command line only: every check of the
 * input happens here, on every rank alike, before any measurement starts. */
#include "mb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ options */

typedef struct {
    const char *sizes;   /* -m MIN:MAX */
    const char *tls;     /* --tls LIST */
    const char *alg;     /* --alg LIST */
    const char *shape;   /* --shape NAME */
    int layers, np, list_shapes;
    int iters, warmup, window, validate, corrupt, shared_recv, osu_counts, threads;
    int timer; /* --timer: mb_timer_t */
    double time_per_size;
} mb_cli_values_t;

static const char *const epilog =
    "Tests (or `all`): latency bw bibw mbw_mr (msgrate) multi_lat | allreduce decode iallreduce\n"
    "  bcast allgather alltoall reduce_scatter barrier init | put_lat get_lat put_bw get_bw\n"
    "  fop_lat (acc_lat) | ucx_tag_lat ucx_tag_bw ucx_put_lat ucx_get_lat ucx_put_bw\n"
    "  ucx_get_bw ucx_atomic_lat ucx_am_lat | memcpy. Pair tests use rank i and rank\n"
    "  i + np/2; mbw_mr and multi_lat run every pair at once. By name only, not in all:\n"
    "  latency_mt (--threads receiving threads; the run starts MPI at MPI_THREAD_MULTIPLE).\n"
    "Examples:\n"
    "  mpirun -np 2 microbench latency\n"
    "  mpirun -np 2 microbench --tls tcp,posix+cma -m 8:4M ucx_tag_lat ucx_put_bw\n"
    "  mpirun -np 4 microbench --validate allreduce alltoall\n"
    "  mpirun -np 4 microbench allreduce --alg mpi,rd,oneshot,twoshot,am --tls posix+cma,tcp -m 4:64K\n"
    "  mpirun -np 4 microbench decode --shape qwen3-235b-a22b --np 4 --alg mpi,auto\n"
    "allreduce and decode run each --alg side by side: mpi (MPI_Allreduce), rd (recursive\n"
    "doubling over MPI point-to-point) and, per --tls set, the UCX algorithms: oneshot,\n"
    "twoshot (puts), am, am-twoshot (active messages), pull (loads from mapped peers),\n"
    "auto (by size and transport).\n";

/* Split --tls into sets: "tcp,posix+cma" -> {"tcp", "posix+cma"}. "any"
 * leaves UCX to choose (and honours UCX_TLS). Local; deterministic. */
static cb_status_t tls_parse(const char *text, mb_params_t *params)
{
    params->n_sets = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= MB_NAME_LEN) {
            cb_error("--tls %s: %s", text, len ? "transport set name too long" : "empty transport set");
            return CB_ERR_USAGE;
        }
        if (params->n_sets == MB_MAX_SETS) {
            cb_error("--tls %s: at most %d transport sets", text, MB_MAX_SETS);
            return CB_ERR_USAGE;
        }
        for (size_t i = 0; i < len; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-')) {
                cb_error("--tls %s: bad character '%c' (sets are UCX transport names joined by '+', "
                         "separated by ',')", text, c);
                return CB_ERR_USAGE;
            }
        }
        for (int k = 0; k < params->n_sets; k++)
            if (strlen(params->sets[k]) == len && memcmp(params->sets[k], p, len) == 0) {
                cb_error("--tls %s: transport set '%s' given twice (each set is a block of columns)", text,
                         params->sets[k]);
                return CB_ERR_USAGE;
            }
        memcpy(params->sets[params->n_sets], p, len);
        params->sets[params->n_sets++][len] = '\0';
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    return CB_OK;
}

/* The tests named in argv[first..argc) ("all" adds every test). Local. */
static cb_status_t tests_parse(int argc, char **argv, int first,
                               const mb_test_t **tests, int cap, int *n_p)
{
    int n = 0;
    if (first >= argc) {
        cb_error("no test given: name one or more (or all); see --help");
        return CB_ERR_USAGE;
    }
    for (int a = first; a < argc; a++) {
        if (strcmp(argv[a], "all") == 0) {
            if (n + mb_n_tests > cap) {
                cb_error("too many tests (at most %d in one run)", cap);
                return CB_ERR_USAGE;
            }
            for (int t = 0; t < mb_n_tests; t++)
                if (!(mb_tests[t].flags & MB_TEST_NAMED))
                    tests[n++] = &mb_tests[t];
            continue;
        }
        const mb_test_t *t = mb_test_find(argv[a]);
        if (!t) {
            char list[1024];
            size_t used = 0;
            for (int i = 0; i < mb_n_tests && used < sizeof list; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? " " : "", mb_tests[i].name);
            cb_error("unknown test '%s': the tests are %s, all", argv[a], list);
            return CB_ERR_USAGE;
        }
        if (n == cap) {
            cb_error("too many tests (at most %d in one run)", cap);
            return CB_ERR_USAGE;
        }
        tests[n++] = t;
    }
    *n_p = n;
    return CB_OK;
}

/* ================================================================ main */

int main(int argc, char **argv)
{
    cb_status_t st;
    cb_results_t *results = NULL;
    mb_params_t params;
    cb_common_opts_t common = { 0 };
    mb_cli_values_t v = { .sizes = "0:4M", .tls = "any", .iters = 0, .warmup = -1,
                          .window = 64, .validate = 0, .corrupt = 0, .time_per_size = 0,
                          .alg = "mpi", .shape = "qwen3-235b-a22b", .layers = 0, .np = 0, .threads = 2 };
    static const char *const timers[] = { "auto", "clock", "wtime", NULL };
    const cb_opt_t opts[] = {
        { "message-size", 'm', CB_OPT_STRING, &v.sizes, "MIN:MAX", "message sizes, powers of two from MIN to MAX (bytes; k, M, G suffixes)", 1, 0, NULL },
        { "iters", 'i', CB_OPT_INT, &v.iters, "N", "timed iterations per size (0: scale down with size)", 0, 100000000, NULL },
        { "warmup", 'w', CB_OPT_INT, &v.warmup, "N", "untimed iterations per size (-1: a tenth of the timed ones)", -1, 10000000, NULL },
        { "time-per-size", 't', CB_OPT_DOUBLE, &v.time_per_size, "SECONDS", "time each size for about this long instead of a count (0: off)", 0, 3600, NULL },
        { "window", 'W', CB_OPT_INT, &v.window, "N", "messages in flight per iteration of bandwidth tests", 1, 4096, NULL },
        { "threads", 0, CB_OPT_INT, &v.threads, "N", "latency_mt: receiving threads on the peer (osu_latency_mt -t)", 1, 256, NULL },
        { "tls", 'x', CB_OPT_STRING, &v.tls, "LIST", "UCX transport sets for ucx_* tests and the UCX --alg algorithms, one context each: tcp,shm,posix+cma (any: UCX's choice)", 1, 0, NULL },
        { "alg", 'a', CB_OPT_STRING, &v.alg, "LIST", "allreduce and decode: algorithms side by side: mpi,rd,oneshot,twoshot,am,am-twoshot,pull,auto (UCX ones once per --tls set)", 1, 0, NULL },
        { "shape", 0, CB_OPT_STRING, &v.shape, "NAME", "decode: the model shape (--list-shapes), or custom:dim=N,layers=N", 1, 0, NULL },
        { "layers", 0, CB_OPT_INT, &v.layers, "N", "decode: keep the first N layers of the shape (0: all)", 0, 1 << 20, NULL },
        { "np", 0, CB_OPT_INT, &v.np, "N", "decode: the tensor-parallel ranks the figure is for; must be the run's (0: the run's)", 0, 1 << 20, NULL },
        { "list-shapes", 0, CB_OPT_FLAG, &v.list_shapes, NULL, "print decode's shapes and exit", 1, 0, NULL },
        { "osu-counts", 0, CB_OPT_FLAG, &v.osu_counts, NULL, "iterations and warm-up per size as OSU's defaults: latency 10000 + 100, collectives 1000 + 100, bandwidth 100 + 10 windows; above 8 KiB 1000 + 10, 100 + 10, 20 + 2 (replaces --iters and --warmup)", 1, 0, NULL },
        { "timer", 0, CB_OPT_CHOICE, &v.timer, "CLOCK", "what times each iteration: auto (the invariant TSC, else CLOCK_MONOTONIC), clock (CLOCK_MONOTONIC), wtime (MPI_Wtime, as OSU: its own cost is then in every figure, as in OSU's)", 0, -1, timers },
        { "shared-recv", 0, CB_OPT_FLAG, &v.shared_recv, NULL, "bandwidth tests receive a whole window into one buffer, as OSU and ucx_perftest do (default: a buffer per message; --validate then sees the last message only)", 1, 0, NULL },
        { "validate", 'c', CB_OPT_FLAG, &v.validate, NULL, "fill buffers with a pattern and check every received byte", 1, 0, NULL },
        { "inject-corruption", 0, CB_OPT_FLAG, &v.corrupt, NULL, "with --validate: flip one received byte per size (proves the check fails)", 1, 0, NULL },
        { NULL, 0, CB_OPT_END, NULL, NULL, NULL, 0, 0, NULL },
    };
    const cb_cli_t cli = {
        "microbench", "[options] TEST... | all",
        "Latency, bandwidth, message rate, collectives and one-sided RDMA, over MPI\n"
        "and directly over UCX (UCP), with every iteration timed.",
        opts, epilog,
    };
    const mb_test_t *tests[64]; /* the results file holds 64 tables */
    int n_tests = 0, first = 1;

    /* latency_mt needs MPI_THREAD_MULTIPLE, which must be asked for at
     * start-up, before the command line is parsed in earnest; every other
     * run keeps MPI_Init's level, whose locking costs nothing. */
    int want_mt = 0;
    for (int a = 1; a < argc; a++)
        want_mt |= strcmp(argv[a], "latency_mt") == 0;
    if (cb_mpi_init_thread(&argc, &argv, "microbench", want_mt ? MPI_THREAD_MULTIPLE : MPI_THREAD_SINGLE) != CB_OK)
        return cb_status_exit_code(CB_ERR_MPI);
    memset(&params, 0, sizeof params);
    params.comm = MPI_COMM_WORLD;
    params.rank = cb_rank();
    params.n_ranks = cb_nranks();

    /* Every rank parses the same argv and reaches the same verdict; agree
     * anyway, so that one line is printed and every rank exits. */
    st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && v.list_shapes) {
        if (params.rank == 0)
            mb_shape_list(stdout);
        st = CB_DONE;
    }
    if (st == CB_OK)
        st = tests_parse(argc, argv, first, tests, (int)(sizeof tests / sizeof tests[0]), &n_tests);
    if (st == CB_OK)
        st = cb_parse_size_range(v.sizes, "--message-size", &params.min_size, &params.max_size);
    if (st == CB_OK && (params.max_size > MB_MAX_SIZE || params.min_size > params.max_size)) {
        cb_error("--message-size %s: sizes must satisfy 0 <= MIN <= MAX <= 1G", v.sizes);
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK)
        st = tls_parse(v.tls, &params);
    if (st == CB_OK)
        st = mb_alg_parse(v.alg, &params);
    if (st == CB_OK)
        st = mb_shape_parse(v.shape, v.layers, &params);
    if (st == CB_OK && v.np > 0 && v.np != params.n_ranks) {
        cb_error("--np %d: this run has %d ranks; launch it with mpirun -np %d", v.np, params.n_ranks, v.np);
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && v.osu_counts && (v.iters > 0 || v.warmup >= 0 || v.time_per_size > 0)) {
        cb_error("--osu-counts sets the iterations: give no --iters, --warmup or --time-per-size with it");
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && v.corrupt && !v.validate) {
        cb_error("--inject-corruption needs --validate");
        st = CB_ERR_USAGE;
    }
    if ((st = cb_agree(st, params.comm)) != CB_OK)
        goto out;

    params.iters = v.iters;
    params.warmup = v.warmup;
    params.time_per_size = v.time_per_size;
    params.window = v.window;
    params.validate = v.validate;
    params.corrupt = v.corrupt;
    params.shared_recv = v.shared_recv;
    params.osu_counts = v.osu_counts;
    params.threads = v.threads;
    {
        int n_hosts = 1;
        st = cb_agree(cb_mpi_hosts(params.comm, &n_hosts, NULL, &params.local_size), params.comm);
        if (st != CB_OK)
            goto out;
    }
    for (int t = 0; t < n_tests && st == CB_OK; t++)
        st = mb_engine_check(&params, tests[t]);
    if ((st = cb_agree(st, params.comm)) != CB_OK)
        goto out;

    st = cb_results_open("microbench", &common, argc, argv, params.comm, &results);
    if (st != CB_OK)
        goto out;
    {
        /* What the PML's endpoints use, before any UCX context of microbench's
         * own adds its lanes to what UCX logs. */
        cb_provenance_t *prov = calloc(1, sizeof *prov);
        st = prov ? CB_OK : CB_ERR_NOMEM;
        if (!prov)
            cb_error("cannot allocate provenance");
        if ((st = cb_agree(st, params.comm)) != CB_OK)
            goto out;
        st = cb_agree(cb_provenance_collect(params.comm, prov), params.comm);
        if (st == CB_OK && strcmp(prov->mpi_pml, "ucx") == 0)
            snprintf(params.pml_lanes, sizeof params.pml_lanes, "%s", prov->ucx_transports);
        cb_provenance_free(prov);
        free(prov);
        if (st != CB_OK)
            goto out;
    }
    {
        char clock[128];
        mb_clock_init((mb_timer_t)v.timer, clock, sizeof clock);
        cb_results_comment(results, "timer: %s", clock);
        st = cb_results_set_str(results, "timer", clock);
        if (st == CB_OK)
            st = cb_results_set_str(results, "mpi_thread_level", cb_mpi_thread_level_name(cb_mpi_thread_level()));
        st = cb_agree(st, params.comm);
        if (st != CB_OK)
            goto out;
    }
    for (int t = 0; t < n_tests && st == CB_OK; t++)
        st = mb_engine_run(&params, tests[t], results);

out:
    st = cb_results_close(results, st);
    return cb_mpi_finalize(st);
}
