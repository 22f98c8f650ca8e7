/* Setting a model up for a run, shared by the subcommands: describe it (file
 * or --shape), plan the shard, refuse what would not fit, load, and build the
 * communicator and run state, with every rank agreeing at every step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <limits.h>
#include "llm.h"
#include "llm_moe.h"

const char *const llm_kv_type_choices[] = { "f16", "f32", "q8_0", NULL };
const int llm_kv_type_ids[] = { LLM_F16, LLM_F32, LLM_Q8_0 };

cb_status_t llm_model_describe(const llm_model_opts_t *mo, llm_desc_t *desc)
{
    if ((mo->model != NULL) == (mo->shape != NULL)) {
        cb_error("give a model file (-m FILE) or a synthetic shape (--shape NAME), one of them");
        return CB_ERR_USAGE;
    }
    if (mo->model)
        return llm_desc_open(mo->model, desc);
    return llm_shape_desc(mo->shape, llm_type_choice_ids[mo->type], mo->layers, (uint64_t)mo->seed, desc);
}

/* Threads per rank: OMP_NUM_THREADS if set, else the host's cores shared
 * among the ranks on it. */
static int model_threads(int local_size)
{
    if (getenv("OMP_NUM_THREADS"))
        return 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int t = (int)(cores / (local_size > 0 ? local_size : 1));
    return t < 1 ? 1 : t;
}

void llm_model_split_free(llm_split_t *sp)
{
    free((double *)sp->weight);
    free((int64_t *)sp->profile);
    sp->weight = NULL;
    sp->profile = NULL;
}

cb_status_t llm_model_split(const llm_model_opts_t *mo, const llm_desc_t *desc, int np, int local_size, llm_split_t *sp)
{
    const llm_config_t *c = &desc->cfg;
    double *weight = NULL;
    int64_t *profile = NULL;
    cb_status_t st = CB_OK;
    *sp = (llm_split_t){ np, NULL, mo->placement, NULL, mo->split == LLM_SPLIT_LAYERS };
    if (mo->shard_weights) {
        int is_auto = !strcmp(mo->shard_weights, "auto");
        if (!(weight = malloc(sizeof(double) * (size_t)np))) {
            cb_error("cannot allocate the shard weights");
            st = CB_ERR_NOMEM;
        } else if (is_auto && np != cb_nranks()) {
            cb_error("--shard-weights auto plans for this run's %d ranks, not %d: give the weights", cb_nranks(), np);
            st = CB_ERR_USAGE;
        } else if (is_auto) {
            double mine = (double)cb_mem_available_bytes() / (local_size > 0 ? local_size : 1);
            st = CB_MPI(MPI_Allgather(&mine, 1, MPI_DOUBLE, weight, 1, MPI_DOUBLE, MPI_COMM_WORLD));
            for (int r = 0; st == CB_OK && r < np; r++)
                if (!(weight[r] > 0)) {
                    cb_error("--shard-weights auto: rank %d cannot tell its free memory", r);
                    st = CB_ERR_UNSUPPORTED;
                }
        } else {
            st = llm_shard_parse_weights(mo->shard_weights, np, weight);
        }
    }
    if (st == CB_OK && mo->placement == LLM_PLACE_BALANCED) {
        if (c->moe.n_experts == 0) {
            sp->placement = LLM_PLACE_CONTIGUOUS; /* nothing to place */
        } else if (!mo->routing_profile) {
            cb_error("--expert-placement balanced needs --routing-profile FILE (llm bench --save-routing FILE writes one)");
            st = CB_ERR_USAGE;
        } else if (!(profile = malloc(sizeof(int64_t) * (size_t)c->n_layers * (size_t)c->moe.n_experts))) {
            cb_error("cannot allocate the routing profile");
            st = CB_ERR_NOMEM;
        } else {
            st = llm_moe_profile_read(mo->routing_profile, c->n_layers, c->moe.n_experts, profile);
        }
    }
    sp->weight = weight;
    sp->profile = profile;
    if (st != CB_OK)
        llm_model_split_free(sp);
    return st;
}

/* This rank's plan under the split the options ask for. Collective
 * (--shard-weights auto gathers). */
static cb_status_t model_plan(const llm_model_opts_t *mo, const llm_desc_t *desc, int rank, int np, int local_size,
                              llm_shard_t *sh)
{
    llm_split_t sp;
    cb_status_t st = llm_model_split(mo, desc, np, local_size, &sp);
    if (st == CB_OK)
        st = llm_shard_plan_split(desc, rank, &sp, sh);
    llm_model_split_free(&sp);
    return st;
}

cb_status_t llm_model_setup(const llm_model_opts_t *mo, int batch, llm_desc_t *desc,
                            llm_weights_t **w_p, llm_comm_t **comm_p, llm_run_t **run_p)
{
    MPI_Comm world = MPI_COMM_WORLD;
    int rank = cb_rank(), np = cb_nranks(), n_hosts = 1, local_rank = 0, local_size = 1;
    llm_weights_t *w = NULL;
    llm_comm_t *comm = NULL;
    llm_shard_t sh;
    cb_status_t st;

    st = llm_kernels_select((llm_isa_t)mo->isa);
    if (st == CB_OK)
        st = cb_mpi_hosts(world, &n_hosts, &local_rank, &local_size);
    if ((st = cb_agree(st, world)) != CB_OK)
        return st;
#ifdef _OPENMP
    int nt = model_threads(local_size);
    if (nt > 0)
        omp_set_num_threads(nt);
    nt = omp_get_max_threads();
#else
    int nt = model_threads(local_size);
#endif
    /* the kernels' threads: one team for the whole run, as many as OpenMP's */
    st = llm_team_start(nt, (llm_wait_t)mo->wait, local_size);
    if ((st = cb_agree(st, world)) != CB_OK)
        return st;
    memset(&sh, 0, sizeof sh);
    st = llm_model_describe(mo, desc);
    if ((st = cb_agree(st, world)) != CB_OK)
        return st;
    st = model_plan(mo, desc, rank, np, local_size, &sh);
    if ((st = cb_agree(st, world)) != CB_OK) {
        llm_shard_free(&sh);
        llm_desc_free(desc);
        return st;
    }
    if (sh.resplit & 1)
        cb_warn_root("%d ranks: attention heads split in groups of %d, so that no %d-element block of attn_output is cut",
                     np, sh.head_group, sh.block);
    if (sh.resplit & 4)
        cb_warn_root("%d ranks: no split of the heads keeps attn_output's %d-element blocks whole; every rank holds it whole",
                     np, sh.block);
    if (sh.resplit & 2)
        cb_warn_root("%d ranks: FFN units split on %d-element block boundaries (an even split of %d would cut one)",
                     np, sh.block, desc->cfg.hidden);

    const int kv_type = llm_kv_type_ids[mo->kv_type];
    int ctx = mo->ctx > 0 ? mo->ctx : (desc->cfg.ctx < 4096 ? desc->cfg.ctx : 4096);
    if (ctx > desc->cfg.ctx && desc->format != LLM_FMT_SYNTHETIC) { /* a made-up shape's ctx is no limit */
        cb_error("--ctx %d: the model's context is %d positions", ctx, desc->cfg.ctx);
        st = CB_ERR_USAGE;
    }
    if (batch > ctx)
        batch = ctx;
    size_t need = llm_shard_weight_bytes(desc, &sh) + llm_shard_run_bytes_kv(&desc->cfg, &sh, ctx, batch, kv_type);
    unsigned long long avail = cb_mem_available_bytes();
    if (st == CB_OK && avail > 0 && need > avail / (unsigned long long)local_size) {
        char a[32], b[32], hint[96] = "", fit[96] = "";
        /* The fewest ranks, one per host like this one, that would hold it. */
        for (int k = np + 1; k <= desc->cfg.n_heads; k++) {
            llm_shard_t s0;
            if (llm_shard_plan(desc, 0, k, &s0) != CB_OK) {
                cb_error_clear();
                break;
            }
            size_t k_need = llm_shard_weight_bytes(desc, &s0) + llm_shard_run_bytes_kv(&desc->cfg, &s0, ctx, batch, kv_type);
            llm_shard_free(&s0);
            if (k_need <= avail) {
                snprintf(hint, sizeof hint, "; it fits on %d such hosts, a rank each", k);
                break;
            }
        }
        /* The longest context that fits here (the KV cache grows linearly). */
        size_t base = llm_shard_weight_bytes(desc, &sh) + llm_shard_run_bytes_kv(&desc->cfg, &sh, 1, batch, kv_type);
        size_t per = llm_shard_kv_bytes(&desc->cfg, &sh, 1, kv_type), room = (size_t)(avail / (unsigned long long)local_size);
        if (per > 0 && room > base && (room - base) / per >= 16)
            snprintf(fit, sizeof fit, "; --ctx %zu would fit", (room - base) / per);
        cb_error("the model needs %s per rank on %d ranks with a context of %d, %s is available per rank (%d on this host)%s%s; "
                 "or cut --layers or --ctx, or --kv-type q8_0",
                 cb_format_size(need, a, sizeof a), np, ctx, cb_format_size((size_t)(avail / (unsigned long long)local_size), b, sizeof b),
                 local_size, hint, fit);
        st = CB_ERR_NOMEM;
    }
    if ((st = cb_agree(st, world)) != CB_OK) {
        llm_shard_free(&sh);
        goto free_desc;
    }

    st = llm_weights_load(desc, &sh, &w);
    llm_shard_free(&sh); /* the weights hold their copy */
    if ((st = cb_agree(st, world)) != CB_OK)
        goto free_weights;
    int largest = batch > INT_MAX / desc->cfg.dim ? INT_MAX : batch * desc->cfg.dim;
    st = llm_comm_create(world, mo->allreduce, desc->cfg.dim, largest, &comm);
    if ((st = cb_agree(st, world)) != CB_OK)
        goto free_weights;
    st = llm_run_create_kv(w, comm, ctx, batch, kv_type, run_p);
    if ((st = cb_agree(st, world)) != CB_OK)
        goto free_comm;
    if (mo->dump_routing && llm_run_moe(*run_p)) {
        char path[4096];
        snprintf(path, sizeof path, rank ? "%s.%d" : "%s", mo->dump_routing, rank);
        st = llm_moe_trace_open(llm_run_moe(*run_p), path);
        if ((st = cb_agree(st, world)) != CB_OK) {
            llm_run_free(*run_p);
            goto free_comm;
        }
    }
    *w_p = w;
    *comm_p = comm;
    return CB_OK;

free_comm:
    llm_comm_free(comm);
free_weights:
    llm_weights_free(w);
free_desc:
    llm_desc_free(desc);
    return st;
}

cb_status_t llm_parse_tokens(const char *text, int vocab, int **tokens_p, int *n_p)
{
    size_t cap = strlen(text) / 2 + 1;
    int *t = malloc(sizeof(int) * cap), n = 0;
    if (!t) {
        cb_error("cannot allocate the prompt");
        return CB_ERR_NOMEM;
    }
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= vocab || (size_t)n >= cap) {
            cb_error("--prompt: '%.20s' is not a token id in [0, %d)", p, vocab);
            free(t);
            return CB_ERR_USAGE;
        }
        t[n++] = (int)v;
        p = end;
    }
    if (n == 0) {
        cb_error("--prompt: no token ids given");
        free(t);
        return CB_ERR_USAGE;
    }
    *tokens_p = t;
    *n_p = n;
    return CB_OK;
}
