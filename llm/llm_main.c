/* llm: the program. Dispatches to the subcommands (bench, generate,
 * inspect); generate and inspect live here, bench in llm_bench.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "llm.h"

/* ================================================================ generate */

cb_status_t llm_cmd_generate(int argc, char **argv)
{
    llm_model_opts_t mo = LLM_MODEL_OPTS_DEFAULT;
    const char *prompt = "1", *dump = NULL;
    int n_predict = 16, batch = 512, list = 0;
    double temp = 0.0, top_p = 1.0;
    long long seed = 1;
    cb_opt_t opts[] = {
        LLM_MODEL_OPTS(mo),
        { "prompt", 'p', CB_OPT_STRING, &prompt, "IDS", "prompt token ids, \"1,2,3\"", 0, -1, NULL },
        { "n-predict", 'n', CB_OPT_INT, &n_predict, "N", "tokens to generate", 0, 1 << 20, NULL },
        { "batch", 'b', CB_OPT_INT, &batch, "N", "prompt tokens per forward step", 1, 1 << 16, NULL },
        { "temp", 0, CB_OPT_DOUBLE, &temp, "T", "temperature (0: greedy)", 0, 100, NULL },
        { "top-p", 0, CB_OPT_DOUBLE, &top_p, "P", "nucleus sampling mass (1: off)", 0, 1, NULL },
        { "seed", 's', CB_OPT_INT64, &seed, "N", "sampling seed", 0, 9e18, NULL },
        { "dump-logits", 0, CB_OPT_STRING, &dump, "FILE", "write each step's logits (float32) to FILE (rank 0)", 0, -1, NULL },
        { "list-shapes", 0, CB_OPT_FLAG, &list, NULL, "list the --shape presets and exit", 0, -1, NULL },
        { 0 },
    };
    cb_cli_t cli = { "llm generate", "(-m FILE | --shape NAME) [options]",
                     "Greedy or sampled generation from token ids; prints the new ids as they come.",
                     opts, "example: mpirun -np 2 llm generate -m model.gguf -p 1,450,4996 -n 32" };
    cb_common_opts_t common = { 0 };
    int first = 0, *tokens = NULL, n_prompt = 0;
    llm_desc_t desc;
    llm_weights_t *w = NULL;
    llm_comm_t *comm = NULL;
    llm_run_t *run = NULL;
    float *logits = NULL;
    int *idx = NULL;
    FILE *df = NULL;

    cb_status_t st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && first < argc) {
        cb_error("unexpected argument '%s'", argv[first]);
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && list) {
        if (cb_rank() == 0)
            llm_shape_list(stdout);
        st = CB_DONE;
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        return st;
    if ((st = llm_model_setup(&mo, batch, &desc, &w, &comm, &run)) != CB_OK)
        return st;

    const int vocab = desc.cfg.vocab;
    st = llm_parse_tokens(prompt, vocab, &tokens, &n_prompt);
    if (st == CB_OK && n_prompt + n_predict > llm_run_ctx(run)) {
        cb_error("prompt (%d) and tokens to generate (%d) exceed the context of %d (--ctx)", n_prompt, n_predict, llm_run_ctx(run));
        st = CB_ERR_USAGE;
    }
    if (st == CB_OK && cb_rank() == 0) {
        logits = cb_alloc(sizeof(float) * (size_t)vocab, 0, "logits");
        idx = cb_alloc(sizeof(int) * (size_t)vocab, 0, "sampler index");
        if (!logits || !idx)
            st = CB_ERR_NOMEM;
        else if (dump && !(df = fopen(dump, "wb"))) {
            cb_error("cannot write %s", dump);
            st = CB_ERR_IO;
        }
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        goto cleanup;

    llm_sampler_t sampler;
    llm_sampler_init(&sampler, (float)temp, (float)top_p, (uint64_t)seed);
    int greedy = temp <= 0, pos = 0, next = 0;
    double t0 = cb_now();
    st = llm_forward(run, tokens, n_prompt, 0);
    pos = n_prompt;
    for (int i = 0; i < n_predict && st == CB_OK; i++) {
        if (greedy && !dump) {
            st = llm_argmax(run, &next);
        } else {
            st = llm_logits_gather(run, logits);
            if (st == CB_OK && cb_rank() == 0) {
                if (df && fwrite(logits, sizeof(float), (size_t)vocab, df) != (size_t)vocab)
                    cb_warn("cannot write %s", dump);
                next = llm_sample(&sampler, logits, vocab, idx);
            }
            if (st == CB_OK)
                st = CB_MPI(MPI_Bcast(&next, 1, MPI_INT, 0, MPI_COMM_WORLD));
        }
        if (st != CB_OK)
            break;
        if (cb_rank() == 0) {
            printf("%s%d", i ? " " : "", next);
            fflush(stdout);
        }
        if (i + 1 < n_predict) {
            st = llm_forward(run, &next, 1, pos);
            pos++;
        }
    }
    if (st != CB_OK)
        cb_abort(st); /* a failure inside the forward pass cannot be agreed on */
    double dt = cb_now() - t0;
    if (cb_rank() == 0) {
        printf("\n");
        if (!common.quiet)
            fprintf(stderr, "# %d prompt + %d generated tokens in %.3f s on %d ranks (%s kernels)\n",
                    n_prompt, n_predict, dt, cb_nranks(), llm_kernels_name());
    }

cleanup:
    if (df)
        fclose(df);
    cb_free(idx);
    cb_free(logits);
    free(tokens);
    llm_run_free(run);
    llm_comm_free(comm);
    llm_weights_free(w);
    llm_desc_free(&desc);
    return st;
}

/* ================================================================ inspect */

static void inspect_print(const llm_desc_t *d, int np, int kv_type, int ctx)
{
    const llm_config_t *c = &d->cfg;
    char a[32], b[32];
    static const char *const formats[] = { "GGUF", "llama2.c", "synthetic" };
    printf("# model: %s (%s", d->source, formats[d->format]);
    if (d->format == LLM_FMT_GGUF)
        printf(" v%d", d->version);
    printf(", %s)\n", cb_format_size((size_t)d->file_size, a, sizeof a));
    printf("# architecture %s: dim %d, ffn %d, layers %d, heads %d, kv heads %d, head_dim %d, vocab %d, ctx %d\n",
           llm_arch_names[c->arch], c->dim, c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
           c->vocab, c->ctx);
    printf("# rope %s theta %g, rms eps %g%s%s%s\n", c->rope_neox ? "rotate-half" : "interleaved", c->rope_theta,
           c->norm_eps, c->qk_norm ? ", q/k norm" : "", c->qkv_bias ? ", qkv bias" : "", c->tied ? ", tied output" : "");
    if (d->n_kv)
        printf("# metadata (%d keys)\n", d->n_kv);
    for (int i = 0; i < d->n_kv; i++) {
        const llm_kv_t *kv = &d->kv[i];
        switch (kv->kind) {
        case LLM_KV_INT: printf("  %-44s %lld\n", kv->key, (long long)kv->i); break;
        case LLM_KV_BOOL: printf("  %-44s %s\n", kv->key, kv->i ? "true" : "false"); break;
        case LLM_KV_FLOAT: printf("  %-44s %g\n", kv->key, kv->f); break;
        case LLM_KV_STRING: printf("  %-44s \"%.60s\"\n", kv->key, kv->s); break;
        default: printf("  %-44s [%llu values of type %d]\n", kv->key, (unsigned long long)kv->n, kv->gguf_type); break;
        }
    }
    uint64_t total = 0, params = 0;
    printf("# %-32s %-6s %-22s %10s\n", "tensor", "type", "shape", "bytes");
    for (int i = 0; i < d->n_tensors; i++) {
        const llm_tensor_t *t = &d->tensors[i];
        char shape[64];
        int o = snprintf(shape, sizeof shape, "%lld", (long long)t->ne[0]);
        for (int k = 1; k < t->n_dims && o < (int)sizeof shape; k++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, " x %lld", (long long)t->ne[k]);
        printf("  %-32s %-6s %-22s %10llu\n", t->name, llm_type_name(t->type), shape, (unsigned long long)t->bytes);
        total += t->bytes;
        params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    printf("# %d tensors, %s of weights, %.3f M parameters\n", d->n_tensors, cb_format_size((size_t)total, a, sizeof a),
           (double)params / 1e6);
    printf("# per rank with %d ranks (ctx %d, batch 512, KV cache %s):\n", np, ctx, llm_type_name(kv_type));
    printf("# %4s %8s %8s %8s %8s %12s %12s %12s\n", "rank", "heads", "kv", "ffn", "vocab", "weights", "KV cache", "total");
    for (int r = 0; r < np; r++) {
        llm_shard_t sh;
        if (llm_shard_plan(d, r, np, &sh) != CB_OK) {
            printf("  cannot split over %d ranks: %s\n", np, cb_error_message() ? cb_error_message() : "");
            cb_error_clear();
            return;
        }
        size_t wb = llm_shard_weight_bytes(d, &sh);
        size_t rb = llm_shard_run_bytes_kv(c, &sh, ctx, 512, kv_type), kb = llm_shard_kv_bytes(c, &sh, ctx, kv_type);
        char ka[32];
        char hs[24], ks[24], fs[24], vs[24];
        snprintf(hs, sizeof hs, "%d-%d", sh.h0, sh.h1 - 1);
        snprintf(ks, sizeof ks, "%d-%d", sh.kv0, sh.kv1 - 1);
        snprintf(fs, sizeof fs, "%d", sh.f1 - sh.f0);
        snprintf(vs, sizeof vs, "%d", sh.v1 - sh.v0);
        printf("  %4d %8s %8s %8s %8s %12s %12s %12s\n", r, hs, ks, fs, vs, cb_format_size(wb, a, sizeof a),
               cb_format_size(kb, ka, sizeof ka), cb_format_size(wb + rb, b, sizeof b));
    }
    unsigned long long avail = cb_mem_available_bytes();
    if (avail)
        printf("# this host has %s available\n", cb_format_size((size_t)avail, a, sizeof a));
}

cb_status_t llm_cmd_inspect(int argc, char **argv)
{
    llm_model_opts_t mo = LLM_MODEL_OPTS_DEFAULT;
    int np = 0;
    cb_opt_t opts[] = {
        LLM_MODEL_OPTS(mo),
        { "np", 0, CB_OPT_INT, &np, "N", "ranks to plan the split for (0: this run's)", 0, 1 << 16, NULL },
        { 0 },
    };
    cb_cli_t cli = { "llm inspect", "(-m FILE | --shape NAME) [--np N]",
                     "Print a model's metadata, tensors and the memory each rank needs.", opts, NULL };
    cb_common_opts_t common = { 0 };
    int first = 0;
    llm_desc_t desc;
    cb_status_t st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && first < argc) {
        cb_error("unexpected argument '%s'", argv[first]);
        st = CB_ERR_USAGE;
    }
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        return st;
    st = llm_model_describe(&mo, &desc);
    if ((st = cb_agree(st, MPI_COMM_WORLD)) != CB_OK)
        return st;
    if (cb_rank() == 0)
        inspect_print(&desc, np > 0 ? np : cb_nranks(), llm_kv_type_ids[mo.kv_type],
                      mo.ctx > 0 ? mo.ctx : (desc.cfg.ctx < 4096 ? desc.cfg.ctx : 4096));
    llm_desc_free(&desc);
    return CB_OK;
}

/* ================================================================ main */

static void usage(FILE *f)
{
    fprintf(f, "usage: llm COMMAND [options]   (llm COMMAND --help for its options)\n"
               "  bench      prompt processing and generation speed, llama-bench style (pp512, tg128)\n"
               "  generate   greedy or sampled generation from token ids\n"
               "  inspect    a model's metadata, tensors and memory per rank\n"
               "Models: GGUF (llama, qwen2, qwen3; F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K..Q6_K), llama2.c checkpoints,\n"
               "or synthetic --shape presets (llm generate --list-shapes).\n");
}

/* When this host's ranks times their threads outnumber its cores, OpenMP's
 * spinning waits take the cores the other ranks need (a run collapsed under
 * load until OMP_WAIT_POLICY=passive). libgomp reads the policy only as it
 * loads, so set it and run this program again, once, before MPI starts; an
 * explicit OMP_WAIT_POLICY is left alone. */
static void wait_policy(char **argv)
{
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE"), *nt = getenv("OMP_NUM_THREADS");
    if (getenv("OMP_WAIT_POLICY") || getenv("LLM_WAIT_POLICY_SET") || !local)
        return;
    long ranks = atol(local), cores = sysconf(_SC_NPROCESSORS_ONLN);
    long threads = nt ? atol(nt) : (ranks > 0 && cores / ranks > 1 ? cores / ranks : 1);
    if (ranks <= 0 || cores <= 0 || ranks * threads <= cores)
        return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("LLM_WAIT_POLICY_SET", "1", 1);
    execv("/proc/self/exe", argv); /* on failure, carry on as we are */
}

int main(int argc, char **argv)
{
    wait_policy(argv);
    cb_status_t st = cb_mpi_init(&argc, &argv, "llm");
    if (st != CB_OK)
        return cb_status_exit_code(st);
    if (argc >= 2 && !strcmp(argv[1], "generate"))
        return cb_mpi_finalize(llm_cmd_generate(argc - 1, argv + 1));
    if (argc >= 2 && !strcmp(argv[1], "inspect"))
        return cb_mpi_finalize(llm_cmd_inspect(argc - 1, argv + 1));
    if (argc >= 2 && !strcmp(argv[1], "bench"))
        return cb_mpi_finalize(llm_cmd_bench(argc - 1, argv + 1));
    /* The subcommands agree on their own outcome; what is left is decided here. */
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        if (cb_rank() == 0)
            usage(argc < 2 ? stderr : stdout);
        st = CB_DONE;
        if (argc < 2) {
            cb_error("a command is needed: bench, generate or inspect");
            st = CB_ERR_USAGE;
        }
    } else if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        if (cb_rank() == 0)
            printf("llm (clusterbench) %s\n", CB_VERSION);
        st = CB_DONE;
    } else {
        cb_error("unknown command '%s' (bench, generate, inspect)", argv[1]);
        st = CB_ERR_USAGE;
    }
    st = cb_agree(st, MPI_COMM_WORLD);
    return cb_mpi_finalize(st);
}
