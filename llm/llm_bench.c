/* llm bench: llama-bench's tests (ppN: a prompt of N tokens in one pass;
 * tgN: N tokens generated one at a time from an empty cache), a warm-up,
 * then -r repetitions with the KV cache cleared between them; tokens/s mean
 * and standard deviation, and each token's time split between compute and
 * communication. Rows go to /llm/bench in the HDF5 file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <cblas.h>
#include "llm.h"
#include "llm_moe.h"

typedef struct {
    char model_filename[96];  /* file, or the synthetic shape */
    char model_type[48];      /* "qwen3 4096x4L Q8_0" */
    int64_t model_size;       /* bytes of weights in all */
    int64_t model_n_params;
    int64_t model_n_active;   /* parameters a token uses (MoE: its experts only) */
    int32_t n_ranks;
    int32_t n_threads;        /* per rank */
    int32_t n_batch;
    char allreduce[8];
    char split[8];            /* tensor or layers (--split) */
    char kernels[8];
    char test[24];            /* pp512, tg128, "tg128 @ d4096" */
    int32_t n_prompt;
    int32_t n_gen;
    int32_t n_depth;          /* tokens already in the context when the test starts (llama-bench -d) */
    char kv_type[8];          /* the KV cache's type */
    int32_t reps;
    double avg_ns;            /* per test run */
    double stddev_ns;
    double avg_ts;            /* tokens per second */
    double stddev_ts;
    double comm_frac;         /* share of the time spent in allreduce (rank 0) */
    double comm_us_per_tok;
    double comm_calls_per_tok; /* allreduces per token */
    double xfer_us_per_tok;   /* allreduce time from the last rank's arrival, per token (mean over ranks; -1: not kept) */
    double compute_us_per_tok;
    double roofline_ts;       /* --roofline: tokens/s the machine's bandwidth (tg) or compute rate (pp: int8 and sgemm) allows */
    double roofline_frac;     /* avg_ts / roofline_ts */
} llm_bench_row_t;

static const cb_column_t llm_bench_cols[] = {
    CB_COLUMN(llm_bench_row_t, model_type, CB_COL_STRING, "model", "%s"),
    CB_COLUMN(llm_bench_row_t, model_size, CB_COL_INT64, "size(B)", "%lld"),
    CB_COLUMN(llm_bench_row_t, model_n_params, CB_COL_INT64, "params", "%lld"),
    CB_COLUMN(llm_bench_row_t, model_n_active, CB_COL_INT64, "active", "%lld"),
    CB_COLUMN(llm_bench_row_t, n_ranks, CB_COL_INT32, "ranks", "%d"),
    CB_COLUMN(llm_bench_row_t, n_threads, CB_COL_INT32, "threads", "%d"),
    CB_COLUMN(llm_bench_row_t, allreduce, CB_COL_STRING, "allreduce", "%s"),
    CB_COLUMN(llm_bench_row_t, split, CB_COL_STRING, "split", "%s"),
    CB_COLUMN(llm_bench_row_t, kernels, CB_COL_STRING, "isa", "%s"),
    CB_COLUMN(llm_bench_row_t, test, CB_COL_STRING, "test", "%s"),
    CB_COLUMN(llm_bench_row_t, n_prompt, CB_COL_INT32, "n_prompt", "%d"),
    CB_COLUMN(llm_bench_row_t, n_gen, CB_COL_INT32, "n_gen", "%d"),
    CB_COLUMN(llm_bench_row_t, n_depth, CB_COL_INT32, "n_depth", "%d"),
    CB_COLUMN(llm_bench_row_t, reps, CB_COL_INT32, "reps", "%d"),
    CB_COLUMN(llm_bench_row_t, avg_ts, CB_COL_DOUBLE, "t/s", "%.2f"),
    CB_COLUMN(llm_bench_row_t, stddev_ts, CB_COL_DOUBLE, "sd(t/s)", "%.2f"),
    CB_COLUMN(llm_bench_row_t, avg_ns, CB_COL_DOUBLE, "avg_ns", "%.0f"),
    CB_COLUMN(llm_bench_row_t, stddev_ns, CB_COL_DOUBLE, "sd_ns", "%.0f"),
    CB_COLUMN(llm_bench_row_t, comm_frac, CB_COL_DOUBLE, "comm", "%.3f"),
    CB_COLUMN(llm_bench_row_t, comm_us_per_tok, CB_COL_DOUBLE, "comm(us/t)", "%.1f"),
    CB_COLUMN(llm_bench_row_t, comm_calls_per_tok, CB_COL_DOUBLE, "ar/t", "%.1f"),
    CB_COLUMN(llm_bench_row_t, xfer_us_per_tok, CB_COL_DOUBLE, "xfer(us/t)", "%.1f"),
    CB_COLUMN(llm_bench_row_t, compute_us_per_tok, CB_COL_DOUBLE, "comp(us/t)", "%.1f"),
    CB_COLUMN(llm_bench_row_t, roofline_ts, CB_COL_DOUBLE, "roof(t/s)", "%.2f"),
    CB_COLUMN(llm_bench_row_t, roofline_frac, CB_COL_DOUBLE, "of_roof", "%.3f"),
    CB_COLUMN(llm_bench_row_t, model_filename, CB_COL_STRING, "model_filename", "%s"),
    CB_COLUMN(llm_bench_row_t, n_batch, CB_COL_INT32, "n_batch", "%d"),
    CB_COLUMN(llm_bench_row_t, kv_type, CB_COL_STRING, "kv_type", "%s"),
};

/* Per rank and test, the load balance of the experts (HDF5 /llm/moe_balance). */
typedef struct {
    char test[24];
    int32_t rank;
    double evals_per_routing;  /* expert products per token and MoE layer (np = 1: experts used) */
    double moe_us_per_tok;     /* router and experts */
    double moe_ar_us_per_tok;  /* in the MoE allreduce: waiting for the slowest rank, and the transfer */
} llm_moe_row_t;

static const cb_column_t llm_moe_cols[] = {
    CB_COLUMN(llm_moe_row_t, test, CB_COL_STRING, "test", "%s"),
    CB_COLUMN(llm_moe_row_t, rank, CB_COL_INT32, "rank", "%d"),
    CB_COLUMN(llm_moe_row_t, evals_per_routing, CB_COL_DOUBLE, "experts/tok/layer", "%.3f"),
    CB_COLUMN(llm_moe_row_t, moe_us_per_tok, CB_COL_DOUBLE, "moe(us/t)", "%.1f"),
    CB_COLUMN(llm_moe_row_t, moe_ar_us_per_tok, CB_COL_DOUBLE, "moe_allreduce(us/t)", "%.1f"),
};

/* Gather every rank's MoE statistics of the test just run; rank 0 writes a
 * row per rank and prints them as comments. Collective. */
static cb_status_t bench_moe_report(cb_results_t *res, cb_table_t *tab, llm_moe_run_t *mr, const char *test, int tokens)
{
    llm_moe_stats_t s;
    llm_moe_stats(mr, &s);
    double mine[4] = { (double)s.routings, (double)s.evals, s.seconds, s.ar_seconds };
    int np = cb_nranks();
    double *all = malloc(sizeof(double) * 4 * (size_t)np);
    if (!all) {
        cb_error("cannot allocate the MoE statistics");
        return CB_ERR_NOMEM;
    }
    cb_status_t st = CB_MPI(MPI_Gather(mine, 4, MPI_DOUBLE, all, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    for (int r = 0; st == CB_OK && cb_rank() == 0 && r < np; r++) {
        llm_moe_row_t row;
        memset(&row, 0, sizeof row);
        snprintf(row.test, sizeof row.test, "%s", test);
        row.rank = r;
        row.evals_per_routing = all[4 * r] > 0 ? all[4 * r + 1] / all[4 * r] : 0;
        row.moe_us_per_tok = all[4 * r + 2] / tokens * 1e6;
        row.moe_ar_us_per_tok = all[4 * r + 3] / tokens * 1e6;
        cb_results_comment(res, "%s rank %d: %.2f expert evaluations per token and layer, MoE %.1f us/token, "
                           "MoE allreduce %.1f us/token", test, r, row.evals_per_routing, row.moe_us_per_tok,
                           row.moe_ar_us_per_tok);
        st = cb_table_append(tab, &row);
    }
    free(all);
    return st;
}

/* "512,1024" into a list of counts. */
static cb_status_t parse_list(const char *text, const char *what, int *v, int max_n, int *n_p)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > (1 << 20) || n >= max_n || (*end && *end != ',')) {
            cb_error("%s: '%s' is not a list of token counts", what, text);
            return CB_ERR_USAGE;
        }
        v[n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    *n_p = n;
    return CB_OK;
}

/* llama-bench's markdown row (its columns, plus ranks and allreduce). Local. */
static void bench_markdown(const llm_bench_row_t *r, int header)
{
    if (header) {
        printf("| model | size | params | backend | ranks | threads | allreduce | test | t/s |\n");
        printf("| --- | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: |\n");
    }
    printf("| %s | %.2f GiB | %.2f M | CPU (%s) | %d | %d | %s | %s | %.2f ± %.2f |\n", r->model_type,
           (double)r->model_size / (1 << 30), (double)r->model_n_params / 1e6, r->kernels, r->n_ranks, r->n_threads,
           strcmp(r->split, "layers") ? r->allreduce : "layers", r->test, r->avg_ts, r->stddev_ts);
    fflush(stdout);
}

/* ================================================================ roofline */

/* The machine's limits, measured with every rank at once (each with its
 * threads) and summed: memory read bandwidth over a buffer far larger than
 * the caches (read with the kernels' widest loads and several accumulators,
 * so that the adds do not bound it), the sgemm rate of BLAS at the shape of
 * prompt processing (m tokens, a dim x dim weight; the bound of float
 * weights) and the int8 multiply-add rate of the cores (the bound of
 * quantized weights, which the integer GEMM takes). Collective. */
static cb_status_t bench_roofline(int dim, int m, double *read_GBps_p, double *sgemm_Gflops_p, double *int8_Gops_p)
{
    const size_t n = (size_t)64 << 20; /* 512 MiB of uint64 per rank */
    uint64_t *buf = cb_alloc(n * sizeof(uint64_t), 0, "bandwidth buffer");
    float *a = cb_alloc(sizeof(float) * (size_t)m * dim, 0, "sgemm operand");
    float *b = cb_alloc(sizeof(float) * (size_t)dim * dim, 0, "sgemm operand");
    float *c = cb_alloc(sizeof(float) * (size_t)m * dim, 0, "sgemm operand");
    cb_status_t st = buf && a && b && c ? CB_OK : CB_ERR_NOMEM;
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        goto cleanup;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        buf[i] = i;
    for (size_t i = 0; i < (size_t)m * dim; i++)
        a[i] = c[i] = 0.5f;
    for (size_t i = 0; i < (size_t)dim * dim; i++)
        b[i] = 0.25f;
    double best = 1e30, sink = 0;
    size_t read = n;
    for (int rep = 0; rep < 4; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = cb_now();
        uint64_t s = 0;
        size_t words = 0; /* read: n rounded down to whole chunks */
#pragma omp parallel reduction(+ : s, words)
        {
            /* One contiguous chunk per thread, a multiple of 32 words. */
            size_t nt = 1, t = 0;
#ifdef _OPENMP
            nt = (size_t)omp_get_num_threads();
            t = (size_t)omp_get_thread_num();
#endif
            size_t chunk = n / nt / 32 * 32;
            s += llm_read_sum(buf + t * chunk, chunk);
            words += chunk;
        }
        double t = cb_now() - t0;
        sink += (double)s;
        if (t < best) {
            best = t;
            read = words;
        }
    }
    double bw = (double)(read * sizeof(uint64_t)) / best / 1e9;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(threads);
#endif
    best = 1e30;
    for (int rep = 0; rep < 4; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = cb_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, dim, dim, 1.0f, a, dim, b, dim, 0.0f, c, dim);
        double t = cb_now() - t0;
        best = t < best ? t : best;
    }
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(1);
#endif
    double gf = 2.0 * m * (double)dim * dim / best / 1e9 + 0 * sink * c[0];
    MPI_Barrier(MPI_COMM_WORLD);
    double gops = llm_int8_peak_Gops();
    st = CB_MPI(MPI_Allreduce(&bw, read_GBps_p, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    if (st == CB_OK)
        st = CB_MPI(MPI_Allreduce(&gf, sgemm_Gflops_p, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
    if (st == CB_OK)
        st = CB_MPI(MPI_Allreduce(&gops, int8_Gops_p, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
cleanup:
    cb_free(c);
    cb_free(b);
    cb_free(a);
    cb_free(buf);
    return st;
}

/* ================================================================ one run */

/* One run of a test from an empty cache; returns the seconds on rank 0's
 * clock between barriers and the allreduce seconds within. Collective. */
/* One run of a test: a prompt of `depth` tokens first, untimed (llama-bench's
 * -d), then n_prompt tokens in batches and n_gen decoded one by one, timed. */
static cb_status_t bench_once(llm_run_t *run, llm_comm_t *comm, const int *prompt, int depth, int n_prompt, int n_gen,
                              double *sec_p, double *comm_p, long long *calls_p)
{
    cb_status_t st = depth > 0 ? llm_forward(run, prompt, depth, 0) : CB_OK;
    if (st == CB_OK)
        st = CB_MPI(MPI_Barrier(MPI_COMM_WORLD));
    llm_comm_reset_time(comm);
    double t0 = cb_now();
    int tok = prompt[depth];
    if (st == CB_OK && n_prompt > 0) {
        st = llm_forward(run, prompt + depth, n_prompt, depth);
        if (st == CB_OK)
            st = llm_argmax(run, &tok);
    }
    for (int i = 0; i < n_gen && st == CB_OK; i++) {
        st = llm_forward(run, &tok, 1, depth + n_prompt + i);
        if (st == CB_OK)
            st = llm_argmax(run, &tok);
    }
    if (st == CB_OK)
        st = CB_MPI(MPI_Barrier(MPI_COMM_WORLD));
    *sec_p = cb_now() - t0;
    *comm_p = llm_comm_seconds(comm);
    *calls_p = llm_comm_calls(comm);
    return st;
}

cb_status_t llm_cmd_bench(int argc, char **argv)
{
    llm_model_opts_t mo = LLM_MODEL_OPTS_DEFAULT;
    const char *pp_text = "512", *tg_text = "128", *depth_text = "0";
    int reps = 5, batch = 512, no_warmup = 0, roofline = 0, markdown = 0;
    const char *save_routing = NULL;
    cb_opt_t opts[] = {
        LLM_MODEL_OPTS(mo),
        { "n-prompt", 'p', CB_OPT_STRING, &pp_text, "N,..", "prompt lengths to test (ppN; 0 for none)", 0, -1, NULL },
        { "n-gen", 'n', CB_OPT_STRING, &tg_text, "N,..", "generation lengths to test (tgN; 0 for none)", 0, -1, NULL },
        { "n-depth", 'd', CB_OPT_STRING, &depth_text, "N,..", "context depths: run each test after an (untimed) prompt of N tokens, as llama-bench -d", 0, -1, NULL },
        { "repetitions", 'r', CB_OPT_INT, &reps, "N", "measured repetitions of each test", 1, 1000, NULL },
        { "batch", 'b', CB_OPT_INT, &batch, "N", "prompt tokens per forward step", 1, 1 << 16, NULL },
        { "no-warmup", 0, CB_OPT_FLAG, &no_warmup, NULL, "skip the warm-up run", 0, -1, NULL },
        { "markdown", 0, CB_OPT_FLAG, &markdown, NULL, "print llama-bench's markdown table instead of --format's (HDF5 unchanged)", 0, -1, NULL },
        { "roofline", 0, CB_OPT_FLAG, &roofline, NULL, "measure memory read bandwidth, sgemm and int8 rates, report each test's share of its bound", 0, -1, NULL },
        { "save-routing", 0, CB_OPT_STRING, &save_routing, "FILE", "MoE: write the tokens routed to each expert during the tests (for --expert-placement balanced --routing-profile)", 0, -1, NULL },
        { 0 },
    };
    cb_cli_t cli = { "llm bench", "(-m FILE | --shape NAME) [options]",
                     "Prompt processing (ppN) and generation (tgN) speed in tokens/s, as llama-bench.",
                     opts, "example: mpirun -np 2 llm bench --shape qwen3-8b --layers 4 --type q8_0 -p 128 -n 32" };
    cb_common_opts_t common = { 0 };
    int first = 0, pp[16], n_pp = 0, tg[16], n_tg = 0, n_rows = 0, depth[16], n_depth = 0;
    llm_desc_t desc;
    llm_weights_t *w = NULL;
    llm_comm_t *comm = NULL;
    llm_run_t *run = NULL;
    cb_results_t *res = NULL;
    cb_table_t *tab = NULL, *moe_tab = NULL;
    int *prompt = NULL;
    double *ts = NULL, *ns = NULL;

    cb_status_t st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && first < argc) {
        cb_error("unexpected argument '%s'", argv[first]);
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK)
        st = parse_list(pp_text, "--n-prompt", pp, 16, &n_pp);
    if (st == CB_OK)
        st = parse_list(tg_text, "--n-gen", tg, 16, &n_tg);
    if (st == CB_OK)
        st = parse_list(depth_text, "--n-depth", depth, 16, &n_depth);
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        return st;
    int need_ctx = 1, max_depth = 0;
    for (int i = 0; i < n_pp; i++)
        need_ctx = pp[i] + 1 > need_ctx ? pp[i] + 1 : need_ctx;
    for (int i = 0; i < n_tg; i++)
        need_ctx = tg[i] + 1 > need_ctx ? tg[i] + 1 : need_ctx;
    for (int i = 0; i < n_depth; i++)
        max_depth = depth[i] > max_depth ? depth[i] : max_depth;
    need_ctx += max_depth;
    if (mo.ctx == 0)
        mo.ctx = need_ctx;
    if ((st = llm_model_setup(&mo, batch, &desc, &w, &comm, &run)) != CB_OK)
        return st;
    if (llm_run_ctx(run) < need_ctx) {
        cb_error("the tests need a context of %d tokens; --ctx is %d", need_ctx, llm_run_ctx(run));
        st = CB_ERR_USAGE;
    }
    st = cb_agree(st, MPI_COMM_WORLD);
    if (st == CB_OK)
        st = cb_results_open("llm", &common, argc, argv, MPI_COMM_WORLD, &res);
    if (st != CB_OK)
        goto cleanup;

    /* Deterministic prompt tokens, the same on every rank. */
    prompt = malloc(sizeof(int) * (size_t)need_ctx);
    ts = malloc(sizeof(double) * (size_t)reps);
    ns = malloc(sizeof(double) * (size_t)reps);
    if (!prompt || !ts || !ns) {
        cb_error("cannot allocate the bench buffers");
        cb_abort(CB_ERR_NOMEM);
    }
    for (int i = 0; i < need_ctx; i++)
        prompt[i] = (int)((1103515245u * (unsigned)i + 12345u) % (unsigned)desc.cfg.vocab);

    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    /* A token uses every weight but the routed experts it is not sent to:
     * n_used / n_experts of their tensors. */
    const double moe_share = desc.cfg.moe.n_experts > 0 ? (double)desc.cfg.moe.n_used / desc.cfg.moe.n_experts : 1.0;
    uint64_t total_bytes = 0, params = 0;
    double active = 0;
    for (int i = 0; i < desc.n_tensors; i++) {
        const llm_tensor_t *t = &desc.tensors[i];
        uint64_t n = (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        total_bytes += t->bytes;
        params += n;
        active += strstr(t->name, "_exps.") ? moe_share * (double)n : (double)n;
    }
    st = cb_table_create(res, "/llm/bench", llm_bench_cols, (int)(sizeof llm_bench_cols / sizeof llm_bench_cols[0]),
                         sizeof(llm_bench_row_t), markdown ? CB_TABLE_NO_PRINT : CB_TABLE_PRINT, &tab);
    llm_moe_run_t *mr = llm_run_moe(run);
    if (st == CB_OK && mr)
        st = cb_table_create(res, "/llm/moe_balance", llm_moe_cols, (int)(sizeof llm_moe_cols / sizeof llm_moe_cols[0]),
                             sizeof(llm_moe_row_t), CB_TABLE_NO_PRINT, &moe_tab);
    if (st == CB_OK)
        st = cb_results_set_int(res, "threads_per_rank", threads);
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        goto cleanup;
    int wt_i = llm_desc_find(&desc, llm_layer_is_moe(&desc.cfg, 0) ? "blk.0.ffn_down_exps.weight" : "blk.0.ffn_down.weight");
    int wtype = wt_i >= 0 ? desc.tensors[wt_i].type : LLM_F32;
    /* What one token costs: every matrix is read once per decoded token (the
     * embedding only for one row; of the routed experts only the chosen
     * ones: attention + router + active experts), and 2 flops per weight it
     * uses in a prompt. */
    double tok_bytes = 0, tok_flops = 0, tok_ops_q = 0;
    for (int i = 0; i < desc.n_tensors; i++) {
        const llm_tensor_t *t = &desc.tensors[i];
        if (t->n_dims < 2)
            continue;
        const double share = strstr(t->name, "_exps.") ? moe_share : 1.0;
        double elems = share * (double)t->ne[0] * (double)t->ne[1] * (double)t->ne[2];
        int head = strcmp(t->name, "output.weight") == 0;
        if (strcmp(t->name, "token_embd.weight") == 0) {
            if (!desc.cfg.tied)
                continue;
            head = 1;
        }
        tok_bytes += share * (double)t->bytes;
        if (!head) { /* logits are computed for a prompt's last token only */
            tok_flops += 2 * elems;
            if (t->type != LLM_F32 && t->type != LLM_F16 && t->type != LLM_BF16)
                tok_ops_q += 2 * elems; /* integer GEMM; the float types take sgemm */
        }
    }
    double read_GBps = 0, sgemm_Gflops = 0, int8_Gops = 0;
    if (roofline) {
        int m = n_pp > 0 && pp[0] > 0 ? pp[0] : 512;
        if ((st = bench_roofline(desc.cfg.dim, m, &read_GBps, &sgemm_Gflops, &int8_Gops)) != CB_OK)
            goto cleanup;
        cb_results_comment(res, "roofline: memory read %.2f GB/s, sgemm %.1f Gflop/s, int8 %.1f Gop/s (all ranks); a token reads %.1f MB of weights "
                           "and costs %.2f Gflop (%.2f of it int8)",
                           read_GBps, sgemm_Gflops, int8_Gops, tok_bytes / 1e6, tok_flops / 1e9, tok_ops_q / 1e9);
        cb_results_set_double(res, "llm_read_GBps", read_GBps);
        cb_results_set_double(res, "llm_sgemm_Gflops", sgemm_Gflops);
        cb_results_set_double(res, "llm_int8_Gops", int8_Gops);
        /* what bounds a prompt: the integer rate for the quantized weights'
         * share of the work, sgemm for the rest */
        cb_results_set_str(res, "llm_pp_bound", tok_ops_q >= tok_flops - tok_ops_q ? "int8" : "sgemm");
    }
    const char *blas_core = cb_blas_coretype();
    cb_results_comment(res, "model %s: %s, %d layers, dim %d; %d ranks x %d threads; %s split; allreduce %s; kernels %s; BLAS core %s",
                       desc.source, llm_arch_names[desc.cfg.arch], desc.cfg.n_layers, desc.cfg.dim,
                       cb_nranks(), threads, llm_split_names[mo.split], llm_ar_names[mo.allreduce], llm_kernels_name(), blas_core);
    cb_results_set_str(res, "llm_split", llm_split_names[mo.split]);
    cb_results_set_str(res, "llm_thread_wait", llm_team_wait_name()); /* the kernels team: active or passive */
    cb_results_comment(res, "allreduce: %s", llm_comm_describe(comm));
    cb_results_set_str(res, "llm_allreduce", llm_comm_describe(comm));

    char fix[160];
    if (n_pp > 0 && pp[0] > 0 && cb_blas_skips_avx512(fix, sizeof fix))
        cb_warn_root("the BLAS runs its %s kernels on a CPU with AVX-512, so prompt processing (sgemm) runs "
                     "without it: %s", blas_core, fix);

    for (int di = 0; di < n_depth; di++)
    for (int pass = 0; pass < 2; pass++) {
        int n_tests = pass == 0 ? n_pp : n_tg, dep = depth[di];
        for (int ti = 0; ti < n_tests; ti++) {
            int np_ = pass == 0 ? pp[ti] : 0, ng = pass == 0 ? 0 : tg[ti];
            if (np_ + ng == 0)
                continue;
            double sec, csec, comm_sum = 0, sec_sum = 0, xsec = 0, xfer_sum = 0;
            long long calls = 0, calls_sum = 0;
            if (!no_warmup && bench_once(run, comm, prompt, dep, np_, ng, &sec, &csec, &calls) != CB_OK)
                cb_abort(CB_ERR_MPI);
            if (mr)
                llm_moe_stats_reset(mr);
            for (int r = 0; r < reps; r++) {
                if (bench_once(run, comm, prompt, dep, np_, ng, &sec, &csec, &calls) != CB_OK)
                    cb_abort(CB_ERR_MPI);
                ns[r] = sec * 1e9;
                ts[r] = (double)(np_ + ng) / sec;
                if (llm_comm_xfer_seconds(comm, &xsec) != CB_OK)
                    cb_abort(CB_ERR_MPI);
                xfer_sum = xfer_sum < 0 || xsec < 0 ? -1 : xfer_sum + xsec;
                comm_sum += csec;
                calls_sum += calls;
                sec_sum += sec;
            }
            cb_stats_t sts, sns;
            cb_stats_compute(ts, (size_t)reps, &sts);
            cb_stats_compute(ns, (size_t)reps, &sns);
            llm_bench_row_t row;
            memset(&row, 0, sizeof row);
            snprintf(row.model_filename, sizeof row.model_filename, "%.95s", desc.source);
            snprintf(row.model_type, sizeof row.model_type, "%s %dx%dL %s", llm_arch_names[desc.cfg.arch],
                     desc.cfg.dim, desc.cfg.n_layers, llm_type_name(wtype));
            row.model_size = (int64_t)total_bytes;
            row.model_n_params = (int64_t)params;
            row.model_n_active = (int64_t)(active + 0.5);
            row.n_ranks = cb_nranks();
            row.n_threads = threads;
            row.n_batch = batch;
            snprintf(row.allreduce, sizeof row.allreduce, "%s", llm_ar_names[mo.allreduce]);
            snprintf(row.split, sizeof row.split, "%s", llm_split_names[mo.split]);
            snprintf(row.kernels, sizeof row.kernels, "%s", llm_kernels_name());
            if (dep > 0)
                snprintf(row.test, sizeof row.test, "%s%d @ d%d", pass == 0 ? "pp" : "tg", pass == 0 ? np_ : ng, dep);
            else
                snprintf(row.test, sizeof row.test, "%s%d", pass == 0 ? "pp" : "tg", pass == 0 ? np_ : ng);
            row.n_prompt = np_;
            row.n_gen = ng;
            row.n_depth = dep;
            snprintf(row.kv_type, sizeof row.kv_type, "%s", llm_kv_type_choices[mo.kv_type]);
            row.reps = reps;
            row.avg_ns = sns.mean;
            row.stddev_ns = sns.sd;
            row.avg_ts = sts.mean;
            row.stddev_ts = sts.sd;
            row.comm_frac = sec_sum > 0 ? comm_sum / sec_sum : 0;
            row.comm_us_per_tok = comm_sum / reps / (np_ + ng) * 1e6;
            row.comm_calls_per_tok = (double)calls_sum / reps / (np_ + ng);
            row.xfer_us_per_tok = xfer_sum < 0 ? -1 : xfer_sum / reps / (np_ + ng) * 1e6;
            row.compute_us_per_tok = (sec_sum - comm_sum) / reps / (np_ + ng) * 1e6;
            if (roofline) {
                /* (the layer split's ranks run one after another: one rank's share of the machine at a time) */
                double shares = mo.split == LLM_SPLIT_LAYERS ? (double)cb_nranks() : 1.0;
                row.roofline_ts = (pass == 0 ? 1e9 / (tok_ops_q / int8_Gops + (tok_flops - tok_ops_q) / sgemm_Gflops)
                                             : read_GBps * 1e9 / tok_bytes) / shares;
                row.roofline_frac = row.avg_ts / row.roofline_ts;
            }
            if ((st = cb_agree(cb_table_append(tab, &row), MPI_COMM_WORLD)) != CB_OK) /* a loop point (cb_signal.h) */
                break;
            if (mr && (st = bench_moe_report(res, moe_tab, mr, row.test, reps * (np_ + ng))) != CB_OK)
                break;
            if (markdown && cb_rank() == 0)
                bench_markdown(&row, n_rows++ == 0);
        }
    }
    st = cb_agree(st, MPI_COMM_WORLD);
    if (st == CB_OK && save_routing && mr && cb_rank() == 0)
        st = llm_moe_profile_write(mr, save_routing); /* the same counts on every rank */
    st = cb_agree(st, MPI_COMM_WORLD);

cleanup:
    free(ns);
    free(ts);
    free(prompt);
    st = cb_results_close(res, st);
    llm_run_free(run);
    llm_comm_free(comm);
    llm_weights_free(w);
    llm_desc_free(&desc);
    return st;
}
