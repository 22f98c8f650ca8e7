/* llama_peer: llama.cpp run as a peer of llm, through libllama's public C API (loaded with
 * dlopen, declarations of our own in llama_abi.h): bench (llama-bench's pp/tg/depth tests),
 * greedy (tokens and each step's logits for given prompt ids, for reference tests),
 * quantize (llama_model_quantize), tokenize, info. Built on demand by scripts/llama-peer/llama-peer,
 * not by the project's build: the library is optional. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "llama_abi.h"

#define PROG "llama-peer"

/* ---------------------------------------------------------------- the library's functions */

typedef void (*lp_log_cb_t)(int level, const char *text, void *user_data);

static struct {
    void *llama, *ggml, *common;
    char dir[4096];
    void (*backend_init)(void);
    void (*log_set)(lp_log_cb_t, void *);
    void (*ggml_log_set)(lp_log_cb_t, void *);
    void (*load_all_from_path)(const char *);
    void *(*backend_load)(const char *);
    size_t (*dev_count)(void);
    lp_model_params_t (*model_default_params)(void);
    lp_context_params_t (*context_default_params)(void);
    lp_quantize_params_t (*quantize_default_params)(void);
    void *(*model_load_from_file)(const char *, lp_model_params_t);
    void (*model_free)(void *);
    void *(*init_from_model)(void *, lp_context_params_t);
    void (*free_ctx)(void *);
    const void *(*model_get_vocab)(const void *);
    int32_t (*vocab_n_tokens)(const void *);
    int32_t (*model_desc)(const void *, char *, size_t);
    uint64_t (*model_size)(const void *);
    uint64_t (*model_n_params)(const void *);
    int32_t (*decode)(void *, lp_batch_t);
    float *(*get_logits_ith)(void *, int32_t);
    void *(*get_memory)(const void *);
    void (*memory_clear)(void *, bool);
    bool (*memory_seq_rm)(void *, lp_seq_id_t, lp_pos_t, lp_pos_t);
    void (*synchronize)(void *);
    int32_t (*tokenize)(const void *, const char *, int32_t, lp_token_t *, int32_t, bool, bool);
    uint32_t (*model_quantize)(const char *, const char *, const lp_quantize_params_t *);
    const char *(*print_system_info)(void);
    const char *(*version)(void);
    int (*build_number)(void);       /* libllama-common, C++: optional */
    const char *(*commit)(void);
} L;

static int lp_verbose;
static char lp_lib_error[512]; /* libllama's first error message since the last lp_lib_die */

static void lp_die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* libllama logs through this: everything with -v; its first error is kept for lp_lib_die */
static void lp_log(int level, const char *text, void *user_data)
{
    (void)user_data;
    if (lp_verbose)
        fprintf(stderr, "%s", text);
    if (level == 4 /* GGML_LOG_LEVEL_ERROR */ && !lp_lib_error[0]) {
        snprintf(lp_lib_error, sizeof lp_lib_error, "%s", text);
        lp_lib_error[strcspn(lp_lib_error, "\n")] = 0;
    }
}

/* Fail with what libllama said (one line) */
static void lp_lib_die(const char *what, const char *why)
{
    lp_die("%s: %s%s%s", what, why, lp_lib_error[0] ? ": " : "", lp_lib_error);
}

static void *lp_sym(void *lib, const char *name)
{
    void *p = dlsym(lib, name);
    if (!p)
        lp_die("libllama: no symbol %s (not the llama.cpp build llama_abi.h declares)", name);
    return p;
}

static void *lp_open_glob(const char *dir, const char *pattern, int required)
{
    char pat[4200];
    glob_t g;
    void *h = NULL;
    snprintf(pat, sizeof pat, "%s/%s", dir, pattern);
    if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
        h = dlopen(g.gl_pathv[0], RTLD_NOW | RTLD_GLOBAL);
        if (!h && required)
            lp_die("%s: %s", g.gl_pathv[0], dlerror());
    } else if (required) {
        lp_die("libllama: no %s in %s", pattern, dir);
    }
    if (g.gl_pathc > 0 || required)
        globfree(&g);
    return h;
}

/* Default-parameter functions return their struct through a hidden pointer (x86-64 SysV:
 * a struct over 16 bytes is returned in memory the caller provides, address in rdi). Calling
 * one with a guarded buffer shows how many bytes the library's struct really has. */
static void lp_check_size(void *fn, size_t ours, const char *what)
{
    unsigned char buf[1024];
    void (*f)(void *) = (void (*)(void *))fn;
    memset(buf, 0xab, sizeof buf);
    f(buf);
    for (size_t i = ours; i < sizeof buf; i++)
        if (buf[i] != 0xab)
            lp_die("libllama: struct %s is larger than the %zu bytes llama_abi.h declares", what, ours);
}

/* The layout is right when the library's defaults land in the fields that should hold them. */
static void lp_check_abi(void)
{
    lp_check_size((void *)L.model_default_params, sizeof(lp_model_params_t), "llama_model_params");
    lp_check_size((void *)L.context_default_params, sizeof(lp_context_params_t), "llama_context_params");
    lp_check_size((void *)L.quantize_default_params, sizeof(lp_quantize_params_t), "llama_model_quantize_params");
    lp_model_params_t m = L.model_default_params();
    lp_context_params_t c = L.context_default_params();
    lp_quantize_params_t q = L.quantize_default_params();
    int ok = m.devices == NULL && m.n_gpu_layers == -1 && m.split_mode == 1 && m.load_mode == -1 && m.main_gpu == 0 &&
             m.kv_overrides == NULL && !m.vocab_only && m.use_extra_bufts && !m.load_mtp;
    if (!ok)
        lp_die("libllama: llama_model_params defaults are not where llama_abi.h declares them");
    ok = c.n_ctx == 512 && c.n_batch == 2048 && c.n_ubatch == 512 && c.n_seq_max == 1 && c.n_threads > 0 &&
         c.n_threads_batch == c.n_threads && c.flash_attn_type == -1 && c.rope_freq_base == 0.0f &&
         c.yarn_ext_factor == -1.0f && c.type_k == LP_GGML_TYPE_F16 && c.type_v == LP_GGML_TYPE_F16 &&
         c.cb_eval == NULL && c.abort_callback == NULL && !c.embeddings && c.offload_kqv && c.samplers == NULL &&
         c.n_samplers == 0 && c.ctx_other == NULL;
    if (!ok)
        lp_die("libllama: llama_context_params defaults are not where llama_abi.h declares them");
    ok = q.nthread == 0 && q.ftype == 7 && q.output_tensor_type == q.token_embedding_type && q.output_tensor_type > 30 &&
         !q.allow_requantize && q.quantize_output_tensor && !q.only_copy && !q.pure && q.imatrix == NULL &&
         q.prune_layers == NULL && q.max_buf_size == ((size_t)8 << 30);
    if (!ok)
        lp_die("libllama: llama_model_quantize_params defaults are not where llama_abi.h declares them");
}

/* Load libllama from DIR and a CPU backend: the best variant for this CPU, or `variant`
 * (e.g. "haswell": libggml-cpu-haswell.so). */
static void lp_load(const char *dir, const char *variant)
{
    snprintf(L.dir, sizeof L.dir, "%s", dir);
    L.ggml = lp_open_glob(dir, "libggml.*so", 1);
    L.llama = lp_open_glob(dir, "libllama.*so", 1);
    L.common = lp_open_glob(dir, "libllama-common.so", 0);
#define SYM(field, lib, name) *(void **)&L.field = lp_sym(L.lib, name)
    SYM(backend_init, llama, "llama_backend_init");
    SYM(log_set, llama, "llama_log_set");
    SYM(ggml_log_set, ggml, "ggml_log_set");
    SYM(load_all_from_path, ggml, "ggml_backend_load_all_from_path");
    SYM(backend_load, ggml, "ggml_backend_load");
    SYM(dev_count, ggml, "ggml_backend_dev_count");
    SYM(model_default_params, llama, "llama_model_default_params");
    SYM(context_default_params, llama, "llama_context_default_params");
    SYM(quantize_default_params, llama, "llama_model_quantize_default_params");
    SYM(model_load_from_file, llama, "llama_model_load_from_file");
    SYM(model_free, llama, "llama_model_free");
    SYM(init_from_model, llama, "llama_init_from_model");
    SYM(free_ctx, llama, "llama_free");
    SYM(model_get_vocab, llama, "llama_model_get_vocab");
    SYM(vocab_n_tokens, llama, "llama_vocab_n_tokens");
    SYM(model_desc, llama, "llama_model_desc");
    SYM(model_size, llama, "llama_model_size");
    SYM(model_n_params, llama, "llama_model_n_params");
    SYM(decode, llama, "llama_decode");
    SYM(get_logits_ith, llama, "llama_get_logits_ith");
    SYM(get_memory, llama, "llama_get_memory");
    SYM(memory_clear, llama, "llama_memory_clear");
    SYM(memory_seq_rm, llama, "llama_memory_seq_rm");
    SYM(synchronize, llama, "llama_synchronize");
    SYM(tokenize, llama, "llama_tokenize");
    SYM(model_quantize, llama, "llama_model_quantize");
    SYM(print_system_info, llama, "llama_print_system_info");
    SYM(version, llama, "llama_version");
#undef SYM
    if (L.common) {
        *(void **)&L.build_number = dlsym(L.common, "_Z18llama_build_numberv");
        *(void **)&L.commit = dlsym(L.common, "_Z12llama_commitv");
    }
    lp_check_abi();
    L.log_set(lp_log, NULL);
    L.ggml_log_set(lp_log, NULL);
    if (variant && *variant) {
        char path[4200];
        snprintf(path, sizeof path, "%s/libggml-cpu-%s.so", dir, variant);
        if (!L.backend_load(path))
            lp_die("%s: cannot load this CPU backend (missing, or this CPU lacks its instructions)", path);
    } else {
        L.load_all_from_path(dir);
    }
    if (L.dev_count() == 0)
        lp_die("libllama: no CPU backend could be loaded from %s", dir);
    L.backend_init();
}

/* The CPU backend variant in use: the libggml-cpu-*.so mapped into this process. */
static void lp_cpu_variant(char *out, size_t n)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4600];
    snprintf(out, n, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "libggml-cpu-");
        if (p) {
            p += strlen("libggml-cpu-");
            size_t k = strcspn(p, ".\n");
            snprintf(out, n, "%.*s", (int)k, p);
            break;
        }
    }
    fclose(f);
}

static void lp_build(char *out, size_t n)
{
    snprintf(out, n, "llama.cpp %s build %d commit %s", L.version(), L.build_number ? L.build_number() : -1,
             L.commit ? L.commit() : "unknown");
}

/* ---------------------------------------------------------------- model and context */

typedef struct {
    const char *model;
    int threads, n_ctx, n_batch, n_ubatch, fa, kv_type;
} lp_opts_t;

static void *lp_model_open(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        lp_die("%s: %s", path, strerror(errno));
    fclose(f);
    lp_model_params_t mp = L.model_default_params();
    mp.n_gpu_layers = 0;
    void *m = L.model_load_from_file(path, mp);
    if (!m)
        lp_lib_die(path, "libllama cannot load this model");
    return m;
}

static void *lp_context_open(void *model, const lp_opts_t *o)
{
    lp_context_params_t cp = L.context_default_params();
    cp.n_ctx = (uint32_t)o->n_ctx;
    cp.n_batch = (uint32_t)o->n_batch;
    cp.n_ubatch = (uint32_t)o->n_ubatch;
    cp.n_threads = o->threads;
    cp.n_threads_batch = o->threads;
    cp.flash_attn_type = o->fa;
    cp.type_k = cp.type_v = o->kv_type;
    cp.no_perf = true;
    void *ctx = L.init_from_model(model, cp);
    if (!ctx)
        lp_lib_die(o->model, "libllama cannot make a context");
    return ctx;
}

/* Decode n tokens at positions pos0.. in chunks of n_batch, logits for the last one only
 * (or none). Returns 0, or libllama's nonzero status. */
static int lp_decode(void *ctx, const lp_token_t *tok, int n, int pos0, int n_batch, int last_logits)
{
    lp_pos_t *pos = malloc(sizeof *pos * (size_t)n_batch);
    int32_t *nseq = malloc(sizeof *nseq * (size_t)n_batch);
    lp_seq_id_t seq0 = 0, **seq = malloc(sizeof *seq * (size_t)n_batch);
    int8_t *lg = malloc((size_t)n_batch);
    int rc = 0;
    if (!pos || !nseq || !seq || !lg)
        lp_die("out of memory");
    for (int i = 0; i < n_batch; i++) {
        nseq[i] = 1;
        seq[i] = &seq0;
    }
    for (int s = 0; s < n && rc == 0; s += n_batch) {
        int k = n - s < n_batch ? n - s : n_batch;
        for (int i = 0; i < k; i++) {
            pos[i] = pos0 + s + i;
            lg[i] = (int8_t)(last_logits && s + i == n - 1);
        }
        lp_batch_t b = {k, (lp_token_t *)tok + s, NULL, pos, nseq, seq, lg};
        rc = L.decode(ctx, b);
    }
    free(pos);
    free(nseq);
    free(seq);
    free(lg);
    return rc;
}

/* ---------------------------------------------------------------- options */

static int lp_int(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1 << 30)
        lp_die("%s: not a count: '%s'", what, s);
    return (int)v;
}

static int lp_list(const char *s, int *out, int max, const char *what)
{
    char buf[1024];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (n == max)
            lp_die("%s: more than %d values", what, max);
        out[n++] = lp_int(t, what);
    }
    if (n == 0)
        lp_die("%s: empty list", what);
    return n;
}

static int lp_fa(const char *s)
{
    if (!strcmp(s, "auto"))
        return -1;
    if (!strcmp(s, "off") || !strcmp(s, "0"))
        return 0;
    if (!strcmp(s, "on") || !strcmp(s, "1"))
        return 1;
    lp_die("--fa: auto, on or off, not '%s'", s);
    return 0;
}

static int lp_kv(const char *s)
{
    if (!strcmp(s, "f32"))
        return LP_GGML_TYPE_F32;
    if (!strcmp(s, "f16"))
        return LP_GGML_TYPE_F16;
    if (!strcmp(s, "q8_0"))
        return LP_GGML_TYPE_Q8_0;
    lp_die("--kv-type: f32, f16 or q8_0, not '%s'", s);
    return 0;
}

static const char *lp_kv_name(int t)
{
    return t == LP_GGML_TYPE_F32 ? "f32" : t == LP_GGML_TYPE_F16 ? "f16" : "q8_0";
}

static double lp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- bench */

static uint64_t lp_rng = 0x9e3779b97f4a7c15ull;

static lp_token_t lp_random_token(int n_vocab)
{
    lp_rng ^= lp_rng << 13;
    lp_rng ^= lp_rng >> 7;
    lp_rng ^= lp_rng << 17;
    return (lp_token_t)(lp_rng % (uint64_t)n_vocab);
}

/* One test as llama-bench runs it: after `depth` tokens already in the cache (decoded once,
 * untimed; each repetition cuts the cache back to them), pp decodes n_prompt tokens in
 * n_batch chunks, tg decodes n_gen tokens one at a time; time to the last synchronize. */
static double lp_bench_once(void *ctx, int n_vocab, int depth, int n_prompt, int n_gen, int n_batch)
{
    void *mem = L.get_memory(ctx);
    L.memory_seq_rm(mem, 0, depth, -1);
    lp_token_t *tok = malloc(sizeof *tok * (size_t)(n_prompt > 0 ? n_prompt : 1));
    if (!tok)
        lp_die("out of memory");
    for (int i = 0; i < (n_prompt > 0 ? n_prompt : 1); i++)
        tok[i] = lp_random_token(n_vocab);
    double t0 = lp_now_ns();
    if (n_prompt > 0) {
        if (lp_decode(ctx, tok, n_prompt, depth, n_batch, 1))
            lp_die("llama_decode failed (pp%d at depth %d)", n_prompt, depth);
        L.synchronize(ctx);
    }
    for (int i = 0; i < n_gen; i++) {
        if (lp_decode(ctx, tok, 1, depth + i, 1, 1))
            lp_die("llama_decode failed (tg%d at depth %d)", n_gen, depth);
        L.synchronize(ctx);
        tok[0] = lp_random_token(n_vocab);
    }
    double t = lp_now_ns() - t0;
    free(tok);
    return t;
}

static int lp_cmd_bench(int argc, char **argv, lp_opts_t *o)
{
    int pp[16] = {512}, tg[16] = {128}, dd[16] = {0}, npp = 1, ntg = 1, nd = 1, reps = 5, warm = 1;
    const char *fmt = "csv";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                   \
    do {                                          \
        if (!v)                                   \
            lp_die("%s needs a value", a);        \
        i++;                                      \
    } while (0)
        if (!strcmp(a, "-p")) { NEEDV(); npp = lp_list(v, pp, 16, a); }
        else if (!strcmp(a, "-n")) { NEEDV(); ntg = lp_list(v, tg, 16, a); }
        else if (!strcmp(a, "-d")) { NEEDV(); nd = lp_list(v, dd, 16, a); }
        else if (!strcmp(a, "-r")) { NEEDV(); reps = lp_int(v, a); }
        else if (!strcmp(a, "--no-warmup")) warm = 0;
        else if (!strcmp(a, "--format")) { NEEDV(); fmt = v; }
        else lp_die("bench: unknown option %s (see --help)", a);
#undef NEEDV
    }
    if (reps < 1)
        lp_die("-r: at least 1");
    if (strcmp(fmt, "csv") && strcmp(fmt, "table"))
        lp_die("--format: csv or table, not '%s'", fmt);
    int need = 0;
    for (int k = 0; k < nd; k++)
        for (int j = 0; j < npp; j++)
            for (int g = 0; g < ntg; g++) {
                int t = dd[k] + (pp[j] > tg[g] ? pp[j] : tg[g]) + 1;
                need = t > need ? t : need;
            }
    if (o->n_ctx == 0)
        o->n_ctx = need;
    void *model = lp_model_open(o->model);
    void *ctx = lp_context_open(model, o);
    int n_vocab = L.vocab_n_tokens(L.model_get_vocab(model));
    if (n_vocab <= 0)
        lp_die("%s: the model has no vocabulary", o->model);
    char desc[256], build[256], variant[64];
    L.model_desc(model, desc, sizeof desc);
    lp_build(build, sizeof build);
    lp_cpu_variant(variant, sizeof variant);
    int csv = !strcmp(fmt, "csv");
    if (csv)
        printf("table,model_type,model_size,model_n_params,n_threads,n_batch,n_ubatch,flash_attn,type_kv,test,"
               "n_prompt,n_gen,n_depth,reps,avg_ts,stddev_ts,avg_ns,stddev_ns,cpu_backend,build\n");
    else
        printf("# %s, %s, CPU backend %s, %d threads\n", desc, build, variant, o->threads);
    for (int k = 0; k < nd; k++) {
        void *mem = L.get_memory(ctx);
        L.memory_clear(mem, false);
        if (dd[k] > 0) {
            lp_token_t *tok = malloc(sizeof *tok * (size_t)dd[k]);
            if (!tok)
                lp_die("out of memory");
            for (int i = 0; i < dd[k]; i++)
                tok[i] = lp_random_token(n_vocab);
            if (lp_decode(ctx, tok, dd[k], 0, o->n_batch, 1))
                lp_die("llama_decode failed (depth %d)", dd[k]);
            L.synchronize(ctx);
            free(tok);
        }
        for (int kind = 0; kind < 2; kind++) {
            int nt = kind == 0 ? npp : ntg;
            for (int j = 0; j < nt; j++) {
                int np_ = kind == 0 ? pp[j] : 0, ng = kind == 0 ? 0 : tg[j];
                if (np_ == 0 && ng == 0)
                    continue;
                if (warm)
                    lp_bench_once(ctx, n_vocab, dd[k], np_, ng ? 1 : 0, o->n_batch);
                double s = 0, s2 = 0, ts = 0, ts2 = 0;
                for (int r = 0; r < reps; r++) {
                    double t = lp_bench_once(ctx, n_vocab, dd[k], np_, ng, o->n_batch);
                    double v = 1e9 * (np_ + ng) / t;
                    s += t;
                    s2 += t * t;
                    ts += v;
                    ts2 += v * v;
                }
                double avg = s / reps, sd = reps > 1 ? sqrt(fmax(0, (s2 - s * s / reps) / (reps - 1))) : 0;
                double avt = ts / reps, sdt = reps > 1 ? sqrt(fmax(0, (ts2 - ts * ts / reps) / (reps - 1))) : 0;
                char name[64];
                if (dd[k] > 0)
                    snprintf(name, sizeof name, "%s%d @ d%d", np_ ? "pp" : "tg", np_ ? np_ : ng, dd[k]);
                else
                    snprintf(name, sizeof name, "%s%d", np_ ? "pp" : "tg", np_ ? np_ : ng);
                if (csv)
                    printf("bench,\"%s\",%llu,%llu,%d,%d,%d,%d,%s,\"%s\",%d,%d,%d,%d,%.2f,%.2f,%.0f,%.0f,%s,\"%s\"\n", desc,
                           (unsigned long long)L.model_size(model), (unsigned long long)L.model_n_params(model),
                           o->threads, o->n_batch, o->n_ubatch, o->fa, lp_kv_name(o->kv_type), name, np_, ng, dd[k],
                           reps, avt, sdt, avg, sd, variant, build);
                else
                    printf("  %-16s %10.2f +- %.2f t/s\n", name, avt, sdt);
                fflush(stdout);
            }
        }
    }
    L.free_ctx(ctx);
    L.model_free(model);
    return 0;
}

/* ---------------------------------------------------------------- greedy */

static int lp_cmd_greedy(int argc, char **argv, lp_opts_t *o)
{
    const char *prompt = "1", *dump = NULL;
    int n = 16, batch = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-p") || !strcmp(a, "-n") || !strcmp(a, "--dump-logits") || !strcmp(a, "-b")) && !v)
            lp_die("%s needs a value", a);
        if (!strcmp(a, "-p")) prompt = argv[++i];
        else if (!strcmp(a, "-n")) n = lp_int(argv[++i], a);
        else if (!strcmp(a, "-b")) batch = lp_int(argv[++i], a);
        else if (!strcmp(a, "--dump-logits")) dump = argv[++i];
        else lp_die("greedy: unknown option %s (see --help)", a);
    }
    int ids[4096], np_ = lp_list(prompt, ids, 4096, "-p");
    void *model = lp_model_open(o->model);
    int n_vocab = L.vocab_n_tokens(L.model_get_vocab(model));
    if (n_vocab <= 0)
        lp_die("%s: the model has no vocabulary", o->model);
    for (int i = 0; i < np_; i++)
        if (ids[i] >= n_vocab)
            lp_die("-p: token %d is outside the vocabulary (%d)", ids[i], n_vocab);
    if (o->n_ctx == 0)
        o->n_ctx = np_ + n + 1;
    if (batch == 0)
        batch = np_;
    if (o->n_batch < batch)
        o->n_batch = batch;
    void *ctx = lp_context_open(model, o);
    FILE *df = NULL;
    if (dump && !(df = fopen(dump, "wb")))
        lp_die("%s: %s", dump, strerror(errno));
    lp_token_t tok[4096];
    for (int i = 0; i < np_; i++)
        tok[i] = ids[i];
    if (lp_decode(ctx, tok, np_, 0, batch, 1))
        lp_die("llama_decode failed on the prompt");
    for (int s = 0; s < n; s++) {
        const float *lg = L.get_logits_ith(ctx, -1);
        if (!lg)
            lp_die("no logits from libllama");
        int best = 0;
        for (int v = 1; v < n_vocab; v++)
            if (lg[v] > lg[best])
                best = v;
        if (df && fwrite(lg, sizeof *lg, (size_t)n_vocab, df) != (size_t)n_vocab)
            lp_die("%s: %s", dump, strerror(errno));
        printf("%s%d", s ? " " : "", best);
        if (s + 1 < n) {
            lp_token_t t = best;
            if (lp_decode(ctx, &t, 1, np_ + s, 1, 1))
                lp_die("llama_decode failed at step %d", s + 1);
        }
    }
    printf("\n");
    if (df && fclose(df))
        lp_die("%s: %s", dump, strerror(errno));
    L.free_ctx(ctx);
    L.model_free(model);
    return 0;
}

/* ---------------------------------------------------------------- quantize, tokenize, info */

static int lp_cmd_quantize(int argc, char **argv, lp_opts_t *o)
{
    int pure = 0;
    const char *in = NULL, *out = NULL, *type = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--pure"))
            pure = 1;
        else if (argv[i][0] == '-')
            lp_die("quantize: unknown option %s (see --help)", argv[i]);
        else if (!in)
            in = argv[i];
        else if (!out)
            out = argv[i];
        else if (!type)
            type = argv[i];
        else
            lp_die("quantize: too many arguments");
    }
    if (!type)
        lp_die("quantize: usage: llama-peer quantize IN.gguf OUT.gguf TYPE [--pure]");
    int ftype = -1;
    for (size_t k = 0; k < sizeof lp_ftypes / sizeof lp_ftypes[0]; k++)
        if (!strcasecmp(type, lp_ftypes[k].name))
            ftype = lp_ftypes[k].ftype;
    if (ftype < 0)
        lp_die("quantize: unknown type '%s' (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q2_K_S Q3_K_S Q3_K_M Q3_K_L "
               "Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K)", type);
    FILE *f = fopen(in, "rb");
    if (!f)
        lp_die("%s: %s", in, strerror(errno));
    fclose(f);
    lp_quantize_params_t q = L.quantize_default_params();
    q.nthread = o->threads;
    q.ftype = ftype;
    q.pure = pure;
    /* write beside, rename when whole: a failed run leaves no half-written OUT */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.part", out);
    if (L.model_quantize(in, tmp, &q) != 0) {
        remove(tmp);
        lp_lib_die(in, "llama_model_quantize failed");
    }
    if (rename(tmp, out))
        lp_die("%s: %s", out, strerror(errno));
    return 0;
}

static int lp_cmd_tokenize(int argc, char **argv, lp_opts_t *o)
{
    int add_special = 1, parse_special = 0;
    const char *text = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--no-add-special"))
            add_special = 0;
        else if (!strcmp(argv[i], "--parse-special"))
            parse_special = 1;
        else if (!text)
            text = argv[i];
        else
            lp_die("tokenize: one text only");
    }
    if (!text)
        lp_die("tokenize: usage: llama-peer tokenize -m FILE TEXT [--no-add-special] [--parse-special]");
    lp_model_params_t mp = L.model_default_params();
    mp.vocab_only = true;
    void *model = L.model_load_from_file(o->model, mp);
    if (!model)
        lp_lib_die(o->model, "libllama cannot load its vocabulary");
    int len = (int)strlen(text), cap = len + 16;
    lp_token_t *ids = malloc(sizeof *ids * (size_t)cap);
    if (!ids)
        lp_die("out of memory");
    int n = L.tokenize(L.model_get_vocab(model), text, len, ids, cap, add_special, parse_special);
    if (n < 0)
        lp_die("tokenize: libllama failed (%d)", n);
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? " " : "", ids[i]);
    printf("\n");
    free(ids);
    L.model_free(model);
    return 0;
}

static int lp_cmd_info(void)
{
    char build[256], variant[64];
    lp_build(build, sizeof build);
    lp_cpu_variant(variant, sizeof variant);
    printf("library: %s\nbuild: %s\ncpu_backend: %s\nabi: checked\nsystem: %s\n", L.dir, build, variant,
           L.print_system_info());
    return 0;
}

static void lp_usage(void)
{
    printf("Usage: llama-peer COMMAND [options]\n"
           "llama.cpp (libllama, through its C API) as a peer of llm.\n\n"
           "  bench -m FILE [-p N,..] [-n N,..] [-d D,..] [-r N] [--no-warmup] [--format csv|table]\n"
           "        llama-bench's tests: ppN, tgN, after a depth of D tokens in the cache [-p 512 -n 128 -d 0 -r 5]\n"
           "  greedy -m FILE -p IDS [-n N] [-b N] [--dump-logits FILE]\n"
           "        greedy tokens for the prompt ids (printed), each step's logits as float32 rows\n"
           "  quantize IN.gguf OUT.gguf TYPE [--pure]   llama_model_quantize (TYPE: Q4_K_M, Q6_K, Q2_K, Q8_0, Q4_0 ...)\n"
           "  tokenize -m FILE TEXT [--no-add-special] [--parse-special]\n"
           "  info     the library, its build, the CPU backend\n\n"
           "Common options (before or after the command):\n"
           "  --lib DIR            directory of libllama.*so and libggml*.so (required; the wrapper sets it)\n"
           "  --cpu-variant NAME   CPU backend libggml-cpu-NAME.so (default: the best for this CPU)\n"
           "  -t, --threads N      threads [bench, quantize: 2; greedy: 1]\n"
           "  -c, --ctx N          context length (0: what the tests need) [0]\n"
           "  --batch N --ubatch N llama_context's n_batch and n_ubatch [2048, 512]\n"
           "  --fa auto|on|off     flash attention [bench: auto, greedy: off]\n"
           "  --kv-type f32|f16|q8_0  KV cache type [bench: f16, greedy: f32]\n"
           "  -v                   libllama's log on stderr\n");
}

int main(int argc, char **argv)
{
    lp_opts_t o = {NULL, -1, 0, 2048, 512, -2, -1};
    const char *lib = NULL, *variant = NULL, *cmd = NULL;
    char **rest = malloc(sizeof *rest * (size_t)(argc + 1));
    int nrest = 0;
    if (!rest)
        lp_die("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--lib") || !strcmp(a, "--cpu-variant") || !strcmp(a, "-t") || !strcmp(a, "--threads") ||
                    !strcmp(a, "-c") || !strcmp(a, "--ctx") || !strcmp(a, "--batch") || !strcmp(a, "--ubatch") ||
                    !strcmp(a, "--fa") || !strcmp(a, "--kv-type") || !strcmp(a, "-m");
        if (takes && !v)
            lp_die("%s needs a value", a);
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { lp_usage(); return 0; }
        else if (!strcmp(a, "--lib")) lib = argv[++i];
        else if (!strcmp(a, "--cpu-variant")) variant = argv[++i];
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) o.threads = lp_int(argv[++i], a);
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx")) o.n_ctx = lp_int(argv[++i], a);
        else if (!strcmp(a, "--batch")) o.n_batch = lp_int(argv[++i], a);
        else if (!strcmp(a, "--ubatch")) o.n_ubatch = lp_int(argv[++i], a);
        else if (!strcmp(a, "--fa")) o.fa = lp_fa(argv[++i]);
        else if (!strcmp(a, "--kv-type")) o.kv_type = lp_kv(argv[++i]);
        else if (!strcmp(a, "-m")) o.model = argv[++i];
        else if (!strcmp(a, "-v")) lp_verbose = 1;
        else if (!cmd && a[0] != '-') cmd = a;
        else rest[nrest++] = argv[i];
    }
    if (!cmd) {
        lp_usage();
        return 2;
    }
    int greedy = !strcmp(cmd, "greedy");
    if (o.threads < 0)
        o.threads = greedy ? 1 : 2;
    if (o.threads == 0)
        lp_die("-t: at least 1");
    if (o.fa == -2)
        o.fa = greedy ? 0 : -1;
    if (o.kv_type < 0)
        o.kv_type = greedy ? LP_GGML_TYPE_F32 : LP_GGML_TYPE_F16;
    if (o.n_batch < 1 || o.n_ubatch < 1)
        lp_die("--batch and --ubatch: at least 1");
    if (strcmp(cmd, "bench") && strcmp(cmd, "greedy") && strcmp(cmd, "quantize") && strcmp(cmd, "tokenize") &&
        strcmp(cmd, "info"))
        lp_die("unknown command '%s' (see --help)", cmd);
    if (!lib)
        lp_die("--lib DIR: where libllama is (scripts/llama-peer/llama-peer finds it)");
    if ((!strcmp(cmd, "bench") || greedy || !strcmp(cmd, "tokenize")) && !o.model)
        lp_die("%s: -m FILE needed", cmd);
    /* libllama throws C++ exceptions it does not catch on some hostile files (e.g. a vocabulary
     * without byte tokens when tokenizing): run the command in a child, and turn its death into
     * one line and exit 1 */
    setenv("GGML_NO_BACKTRACE", "1", 0);
    fflush(NULL);
    int errpipe[2];
    if (pipe(errpipe))
        lp_die("pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0)
        lp_die("fork: %s", strerror(errno));
    if (child > 0) {
        /* the child's stderr, passed on when it exits, folded into one line when it dies */
        size_t len = 0, cap = 4096;
        char *err = malloc(cap);
        ssize_t k;
        int st;
        close(errpipe[1]);
        if (!err)
            lp_die("out of memory");
        while ((k = read(errpipe[0], err + len, cap - len - 1)) != 0) {
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            len += (size_t)k;
            if (cap - len < 1024 && !(err = realloc(err, cap *= 2)))
                lp_die("out of memory");
        }
        err[len] = 0;
        while (waitpid(child, &st, 0) < 0)
            if (errno != EINTR)
                lp_die("waitpid: %s", strerror(errno));
        if (WIFSIGNALED(st)) {
            const char *what = strstr(err, "what():");
            lp_die("%s: libllama died of signal %d (%s)%s%.*s", o.model ? o.model : cmd, WTERMSIG(st),
                   strsignal(WTERMSIG(st)), what ? ", " : "", what ? (int)strcspn(what, "\n") : 0, what ? what : "");
        }
        fputs(err, stderr);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    close(errpipe[0]);
    if (dup2(errpipe[1], 2) < 0)
        lp_die("dup2: %s", strerror(errno));
    close(errpipe[1]);
    lp_load(lib, variant);
    if (!strcmp(cmd, "bench"))
        return lp_cmd_bench(nrest, rest, &o);
    if (greedy)
        return lp_cmd_greedy(nrest, rest, &o);
    if (!strcmp(cmd, "quantize"))
        return lp_cmd_quantize(nrest, rest, &o);
    if (!strcmp(cmd, "tokenize"))
        return lp_cmd_tokenize(nrest, rest, &o);
    return lp_cmd_info();
}
