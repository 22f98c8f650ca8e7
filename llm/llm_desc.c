/* The model description: opening a file (GGUF or llama2.c), deriving the
 * configuration from its metadata, checking that every tensor the forward
 * pass needs is there with its shape and a supported type, and reading a
 * rectangle of a tensor (positioned reads of this rank's rows only). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "llm.h"

const char *const llm_arch_names[] = { "llama", "qwen2", "qwen3", "qwen3moe", "deepseek2", NULL };

/* ================================================================ lookup */

/* FNV-1a: names differ in their tails ("blk.12.ffn_up.weight"), and it
 * mixes every byte. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

cb_status_t llm_name_index_init(llm_name_index_t *ix, int n)
{
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)(n > 0 ? n : 1) && cap < (1u << 31))
        cap <<= 1;
    ix->slot = calloc(cap, sizeof *ix->slot);
    ix->mask = cap - 1;
    ix->n = 0;
    if (!ix->slot) {
        cb_error("cannot allocate a name index of %u slots", cap);
        return CB_ERR_NOMEM;
    }
    return CB_OK;
}

static void name_index_free(llm_name_index_t *ix)
{
    free(ix->slot);
    ix->slot = NULL;
    ix->mask = 0;
    ix->n = 0;
}

/* Position of `name` in the index (names[i] read through `at`), or -1; with
 * insert, name (at position ix->n) is added when absent. */
static int name_index_probe(llm_name_index_t *ix, const char *name, const char *(*at)(const llm_desc_t *, int),
                            const llm_desc_t *desc, int insert)
{
    for (uint32_t h = name_hash(name) & ix->mask;; h = (h + 1) & ix->mask) {
        int p = ix->slot[h] - 1;
        if (p < 0) {
            if (insert)
                ix->slot[h] = ++ix->n;
            return -1;
        }
        if (strcmp(at(desc, p), name) == 0)
            return p;
    }
}

static const char *kv_at(const llm_desc_t *d, int i) { return d->kv[i].key; }
static const char *tensor_at(const llm_desc_t *d, int i) { return d->tensors[i].name; }

int llm_desc_index_kv(llm_desc_t *desc, int i)
{
    llm_name_index_t *ix = &desc->kv_index;
    if (!ix->slot || i != ix->n || (uint32_t)ix->n >= ix->mask / 2 + 1)
        return 0; /* no room: left to the linear search */
    return name_index_probe(ix, desc->kv[i].key, kv_at, desc, 1) >= 0;
}

int llm_desc_index_tensor(llm_desc_t *desc, int i)
{
    llm_name_index_t *ix = &desc->tensor_index;
    if (!ix->slot || i != ix->n || (uint32_t)ix->n >= ix->mask / 2 + 1)
        return 0;
    return name_index_probe(ix, desc->tensors[i].name, tensor_at, desc, 1) >= 0;
}

int llm_desc_find(const llm_desc_t *desc, const char *name)
{
    int from = 0;
    if (desc->tensor_index.slot) {
        int p = name_index_probe((llm_name_index_t *)&desc->tensor_index, name, tensor_at, desc, 0);
        if (p >= 0)
            return p;
        from = desc->tensor_index.n;
    }
    for (int i = from; i < desc->n_tensors; i++)
        if (strcmp(desc->tensors[i].name, name) == 0)
            return i;
    return -1;
}

const llm_kv_t *llm_desc_kv(const llm_desc_t *desc, const char *key)
{
    int from = 0;
    if (desc->kv_index.slot) {
        int p = name_index_probe((llm_name_index_t *)&desc->kv_index, key, kv_at, desc, 0);
        if (p >= 0)
            return &desc->kv[p];
        from = desc->kv_index.n;
    }
    for (int i = from; i < desc->n_kv; i++)
        if (strcmp(desc->kv[i].key, key) == 0)
            return &desc->kv[i];
    return NULL;
}

void llm_desc_free(llm_desc_t *desc)
{
    for (int i = 0; i < desc->n_kv; i++) {
        free(desc->kv[i].key);
        free(desc->kv[i].s);
    }
    free(desc->kv);
    free(desc->tensors);
    name_index_free(&desc->kv_index);
    name_index_free(&desc->tensor_index);
    desc->kv = NULL;
    desc->tensors = NULL;
    desc->n_kv = desc->n_tensors = 0;
}

/* ================================================================ open */

cb_status_t llm_desc_open(const char *path, llm_desc_t *desc)
{
    cb_status_t st = CB_ERR_IO;
    struct stat sb;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        cb_error("cannot open %s: %s", path, strerror(errno));
        return CB_ERR_IO;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        cb_error("%s: not a regular file (%s)", path,
                 S_ISFIFO(sb.st_mode) ? "a FIFO" : S_ISDIR(sb.st_mode) ? "a directory" :
                 S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) ? "a device" : "not a file");
        goto close_fd;
    }
    if (sb.st_size < 8) {
        cb_error("%s: too short to be a model (%lld bytes)", path, (long long)sb.st_size);
        st = CB_ERR_INPUT;
        goto close_fd;
    }
    /* Mapped, not read: only the pages of the header are ever touched. */
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        cb_error("cannot map %s: %s", path, strerror(errno));
        goto close_fd;
    }
    if (memcmp(map, "GGUF", 4) == 0)
        st = llm_gguf_parse(map, (size_t)sb.st_size, desc);
    else
        st = llm_l2c_parse(map, (size_t)sb.st_size, desc);
    munmap(map, (size_t)sb.st_size);
    if (st == CB_OK) {
        snprintf(desc->source, sizeof desc->source, "%s", path);
        st = llm_desc_config(desc);
        if (st != CB_OK)
            llm_desc_free(desc);
    }
close_fd:
    close(fd);
    return st;
}

/* ================================================================ configuration */

static int kv_int(const llm_desc_t *desc, const char *arch, const char *key, int64_t def, int64_t min, int64_t max, int64_t *v)
{
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    const llm_kv_t *kv = llm_desc_kv(desc, full);
    if (!kv) {
        if (def < 0) {
            cb_error("GGUF: metadata %s is missing", full);
            return 0;
        }
        *v = def;
        return 1;
    }
    if (kv->kind != LLM_KV_INT) {
        cb_error("GGUF: metadata %s is not a single integer%s", full,
                 kv->kind == LLM_KV_ARRAY ? " (per-layer values are not supported)" : "");
        return 0;
    }
    if (kv->i < min || kv->i > max) {
        cb_error("GGUF: metadata %s = %lld is out of range [%lld, %lld]", full, (long long)kv->i, (long long)min, (long long)max);
        return 0;
    }
    *v = kv->i;
    return 1;
}

static int kv_float(const llm_desc_t *desc, const char *arch, const char *key, double def, double min, double max, float *v)
{
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    const llm_kv_t *kv = llm_desc_kv(desc, full);
    double x = def;
    if (kv) {
        if (kv->kind != LLM_KV_FLOAT && kv->kind != LLM_KV_INT) {
            cb_error("GGUF: metadata %s is not a number", full);
            return 0;
        }
        x = kv->kind == LLM_KV_FLOAT ? kv->f : (double)kv->i;
    }
    if (!(x >= min && x <= max)) {
        cb_error("GGUF: metadata %s = %g is out of range [%g, %g]", full, x, min, max);
        return 0;
    }
    *v = (float)x;
    return 1;
}

static int kv_bool(const llm_desc_t *desc, const char *arch, const char *key, int def, int *v)
{
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    const llm_kv_t *kv = llm_desc_kv(desc, full);
    if (kv && kv->kind != LLM_KV_BOOL && kv->kind != LLM_KV_INT) {
        cb_error("GGUF: metadata %s is not a boolean", full);
        return 0;
    }
    *v = kv ? kv->i != 0 : def;
    return 1;
}

/* The mixture-of-experts keys (llama.cpp's names), with the defaults of the
 * architecture: Qwen3-MoE is softmax, renormalised top-k, no shared expert. */
cb_status_t llm_desc_moe_config(const llm_desc_t *desc, const char *an, llm_config_t *c)
{
    llm_moe_config_t *m = &c->moe;
    int64_t ne, nu, ff, ns, sff, lead, gf, ng, tg;
    if (!kv_int(desc, an, "expert_count", -1, 1, 1 << 12, &ne) ||
        !kv_int(desc, an, "expert_used_count", -1, 1, ne < 64 ? ne : 64, &nu) ||
        !kv_int(desc, an, "expert_feed_forward_length", -1, 1, 1 << 18, &ff) ||
        !kv_int(desc, an, "expert_shared_count", 0, 0, 64, &ns) ||
        !kv_int(desc, an, "expert_shared_feed_forward_length", ns * ff, 0, 1 << 20, &sff) ||
        !kv_int(desc, an, "leading_dense_block_count", 0, 0, c->n_layers, &lead) ||
        !kv_int(desc, an, "expert_gating_func", LLM_GATE_SOFTMAX, LLM_GATE_SOFTMAX, LLM_GATE_SIGMOID, &gf) ||
        !kv_int(desc, an, "expert_group_count", 0, 0, ne < 256 ? ne : 256, &ng) ||
        !kv_int(desc, an, "expert_group_used_count", 0, 0, ng, &tg) ||
        !kv_float(desc, an, "expert_weights_scale", 1.0, 1e-6, 1e6, &m->weights_scale) ||
        !kv_bool(desc, an, "expert_weights_norm", c->arch != LLM_ARCH_DEEPSEEK2, &m->norm_topk))
        return CB_ERR_INPUT;
    if (ng > 1 && (ne % ng || tg < 1 || tg * (ne / ng) < nu)) {
        cb_error("GGUF: %lld experts in %lld groups, %lld groups used, cannot choose %lld", (long long)ne, (long long)ng,
                 (long long)tg, (long long)nu);
        return CB_ERR_INPUT;
    }
    m->n_experts = (int)ne;
    m->n_used = (int)nu;
    m->expert_ffn = (int)ff;
    m->n_shared = (int)ns;
    m->shared_ffn = ns > 0 ? (int)sff : 0;
    m->n_dense_lead = (int)lead;
    m->gate = (int)gf;
    m->n_group = (int)ng;
    m->topk_group = (int)tg;
    char bn[LLM_NAME_MAX];
    snprintf(bn, sizeof bn, "blk.%d.exp_probs_b.bias", (int)lead); /* on the first MoE layer */
    m->sel_bias = llm_desc_find(desc, bn) >= 0;
    if (lead > 0 && c->hidden < 1) {
        cb_error("GGUF: %lld dense layers but %s.feed_forward_length is missing", (long long)lead, an);
        return CB_ERR_INPUT;
    }
    return CB_OK;
}

static cb_status_t gguf_config(llm_desc_t *desc)
{
    llm_config_t *c = &desc->cfg;
    cb_status_t st;
    const llm_kv_t *a = llm_desc_kv(desc, "general.architecture");
    if (!a || a->kind != LLM_KV_STRING) {
        cb_error("GGUF: general.architecture is missing");
        return CB_ERR_INPUT;
    }
    c->arch = -1;
    for (int i = 0; llm_arch_names[i]; i++)
        if (strcmp(a->s, llm_arch_names[i]) == 0)
            c->arch = i;
    if (c->arch < 0) {
        cb_error("architecture '%.64s' is not supported (llama, qwen2, qwen3, qwen3moe and deepseek2 are)", a->s);
        return CB_ERR_UNSUPPORTED;
    }
    const char *an = llm_arch_names[c->arch];
    if ((st = llm_rope_scaling_read(desc, an, &c->rope_scaling)) != CB_OK)
        return st;
    if (c->arch == LLM_ARCH_DEEPSEEK2)
        return llm_mla_config_read(desc, an);
    int64_t dim, hidden, layers, heads, kvh, hd, ctx, rope_dims;
    const int moe = c->arch == LLM_ARCH_QWEN3MOE;
    if (!kv_int(desc, an, "embedding_length", -1, 1, 1 << 16, &dim) ||
        !kv_int(desc, an, "feed_forward_length", moe ? 0 : -1, 0, 1 << 18, &hidden) ||
        !kv_int(desc, an, "block_count", -1, 1, 1024, &layers) ||
        !kv_int(desc, an, "attention.head_count", -1, 1, 1024, &heads) ||
        !kv_int(desc, an, "attention.head_count_kv", heads, 1, heads, &kvh) ||
        !kv_int(desc, an, "attention.key_length", dim / heads, 1, 1024, &hd) ||
        !kv_int(desc, an, "context_length", 4096, 1, 1 << 24, &ctx) ||
        !kv_int(desc, an, "rope.dimension_count", hd, 1, 1024, &rope_dims) ||
        !kv_float(desc, an, "rope.freq_base", c->arch == LLM_ARCH_LLAMA ? 10000.0 : 1000000.0, 1.0, 1e12, &c->rope_theta) ||
        !kv_float(desc, an, "attention.layer_norm_rms_epsilon", 1e-6, 1e-12, 1.0, &c->norm_eps))
        return CB_ERR_INPUT;
    int64_t vlen;
    if (kv_int(desc, an, "attention.value_length", hd, 1, 1024, &vlen) && vlen != hd) {
        cb_error("GGUF: value_length %lld differs from key_length %lld: not supported", (long long)vlen, (long long)hd);
        return CB_ERR_UNSUPPORTED;
    }
    cb_error_clear();
    if (heads % kvh) {
        cb_error("GGUF: %lld heads are not a multiple of %lld KV heads", (long long)heads, (long long)kvh);
        return CB_ERR_INPUT;
    }
    if (rope_dims != hd || hd % 2) {
        cb_error("GGUF: partial RoPE (%lld of %lld head dimensions) is not supported", (long long)rope_dims, (long long)hd);
        return CB_ERR_UNSUPPORTED;
    }
    int te = llm_desc_find(desc, "token_embd.weight");
    if (te < 0) {
        cb_error("GGUF: tensor token_embd.weight is missing");
        return CB_ERR_INPUT;
    }
    if (desc->tensors[te].ne[1] > (1 << 21)) {
        cb_error("GGUF: a vocabulary of %lld tokens is implausible", (long long)desc->tensors[te].ne[1]);
        return CB_ERR_INPUT;
    }
    c->dim = (int)dim;
    c->hidden = (int)hidden;
    c->n_layers = (int)layers;
    c->n_heads = (int)heads;
    c->n_kv_heads = (int)kvh;
    c->head_dim = (int)hd;
    c->vocab = (int)desc->tensors[te].ne[1];
    c->ctx = (int)ctx;
    c->rope_neox = c->arch != LLM_ARCH_LLAMA;
    c->qk_norm = c->arch == LLM_ARCH_QWEN3 || c->arch == LLM_ARCH_QWEN3MOE;
    if (moe && (st = llm_desc_moe_config(desc, an, c)) != CB_OK)
        return st;
    if (!moe && hidden < 1) {
        cb_error("GGUF: %s.feed_forward_length is 0", an);
        return CB_ERR_INPUT;
    }
    c->qkv_bias = c->arch == LLM_ARCH_QWEN2 && llm_desc_find(desc, "blk.0.attn_q.bias") >= 0;
    c->tied = llm_desc_find(desc, "output.weight") < 0;
    return CB_OK;
}

/* Tensor `name` must exist with ne = (cols, rows) and, for a matrix, a
 * supported type; vectors must be F32. */
static cb_status_t check_tensor3(const llm_desc_t *desc, const char *name, int64_t cols, int64_t rows, int64_t n, int matrix)
{
    int i = llm_desc_find(desc, name);
    if (i < 0) {
        cb_error("tensor %s is missing", name);
        return CB_ERR_INPUT;
    }
    const llm_tensor_t *t = &desc->tensors[i];
    if (t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != n || t->ne[3] != 1) {
        cb_error("tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld]", name,
                 (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                 (long long)cols, (long long)rows, (long long)n);
        return CB_ERR_INPUT;
    }
    if (!llm_type_supported(t->type) || (!matrix && t->type != LLM_F32)) {
        cb_error("tensor %s has type %s: not supported here (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K are; vectors F32)",
                 name, llm_type_name(t->type));
        return CB_ERR_UNSUPPORTED;
    }
    return CB_OK;
}

static cb_status_t check_tensor(const llm_desc_t *desc, const char *name, int64_t cols, int64_t rows, int matrix)
{
    return check_tensor3(desc, name, cols, rows, 1, matrix);
}

/* A MoE layer: the router, the routed experts' 3-D tensors, the selection
 * bias and the shared experts when the configuration has them. */
/* Tensor fmt (with layer l) of ne (cols, rows, n). */
static cb_status_t check_layer(const llm_desc_t *desc, const char *fmt, int l, int64_t cols, int64_t rows, int64_t n, int matrix)
{
    char name[LLM_NAME_MAX];
    snprintf(name, sizeof name, fmt, l);
    return check_tensor3(desc, name, cols, rows, n, matrix);
}

cb_status_t llm_desc_check_moe(const llm_desc_t *desc, int l)
{
    const llm_config_t *c = &desc->cfg;
    const llm_moe_config_t *m = &c->moe;
    cb_status_t st = check_layer(desc, "blk.%d.ffn_gate_inp.weight", l, c->dim, m->n_experts, 1, 1);
    if (st == CB_OK)
        st = check_layer(desc, "blk.%d.ffn_gate_exps.weight", l, c->dim, m->expert_ffn, m->n_experts, 1);
    if (st == CB_OK)
        st = check_layer(desc, "blk.%d.ffn_up_exps.weight", l, c->dim, m->expert_ffn, m->n_experts, 1);
    if (st == CB_OK)
        st = check_layer(desc, "blk.%d.ffn_down_exps.weight", l, m->expert_ffn, c->dim, m->n_experts, 1);
    if (st == CB_OK && m->sel_bias)
        st = check_layer(desc, "blk.%d.exp_probs_b.bias", l, m->n_experts, 1, 1, 0);
    if (st == CB_OK && m->shared_ffn > 0)
        st = check_layer(desc, "blk.%d.ffn_gate_shexp.weight", l, c->dim, m->shared_ffn, 1, 1);
    if (st == CB_OK && m->shared_ffn > 0)
        st = check_layer(desc, "blk.%d.ffn_up_shexp.weight", l, c->dim, m->shared_ffn, 1, 1);
    if (st == CB_OK && m->shared_ffn > 0)
        st = check_layer(desc, "blk.%d.ffn_down_shexp.weight", l, m->shared_ffn, c->dim, 1, 1);
    return st;
}

/* The helpers llm_mla.c's deepseek2 loader shares (see llm.h). */
int llm_desc_kv_int(const llm_desc_t *desc, const char *arch, const char *key, int64_t def, int64_t min, int64_t max, int64_t *v)
{
    return kv_int(desc, arch, key, def, min, max, v);
}

int llm_desc_kv_float(const llm_desc_t *desc, const char *arch, const char *key, double def, double min, double max, float *v)
{
    return kv_float(desc, arch, key, def, min, max, v);
}

cb_status_t llm_desc_check_tensor(const llm_desc_t *desc, const char *name, int64_t cols, int64_t rows, int matrix)
{
    return check_tensor(desc, name, cols, rows, matrix);
}

cb_status_t llm_desc_config(llm_desc_t *desc)
{
    cb_status_t st;
    if (desc->format == LLM_FMT_GGUF && (st = gguf_config(desc)) != CB_OK)
        return st;
    const llm_config_t *c = &desc->cfg;
    int64_t qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
    char n[LLM_NAME_MAX];
    if (qd > (1 << 18)) {
        cb_error("%d heads of %d dimensions are implausible", c->n_heads, c->head_dim);
        return CB_ERR_INPUT;
    }
#define CHECK(name, cols, rows, matrix) \
    if ((st = check_tensor(desc, name, cols, rows, matrix)) != CB_OK) return st
    CHECK("token_embd.weight", c->dim, c->vocab, 1);
    CHECK("output_norm.weight", c->dim, 1, 0);
    if (!c->tied)
        CHECK("output.weight", c->dim, c->vocab, 1);
    if (c->rope_scaling.freq_factors)
        CHECK("rope_freqs.weight", (c->mla.kv_lora ? c->mla.rope : c->head_dim) / 2, 1, 0);
    if (c->arch == LLM_ARCH_DEEPSEEK2)
        return llm_mla_check(desc);
    for (int l = 0; l < c->n_layers; l++) {
#define LAYER(fmt, cols, rows, matrix) snprintf(n, sizeof n, fmt, l); CHECK(n, cols, rows, matrix)
        LAYER("blk.%d.attn_norm.weight", c->dim, 1, 0);
        LAYER("blk.%d.attn_q.weight", c->dim, qd, 1);
        LAYER("blk.%d.attn_k.weight", c->dim, kvd, 1);
        LAYER("blk.%d.attn_v.weight", c->dim, kvd, 1);
        LAYER("blk.%d.attn_output.weight", qd, c->dim, 1);
        LAYER("blk.%d.ffn_norm.weight", c->dim, 1, 0);
        if (llm_layer_is_moe(c, l)) {
            if ((st = llm_desc_check_moe(desc, l)) != CB_OK)
                return st;
        } else {
            LAYER("blk.%d.ffn_gate.weight", c->dim, c->hidden, 1);
            LAYER("blk.%d.ffn_up.weight", c->dim, c->hidden, 1);
            LAYER("blk.%d.ffn_down.weight", c->hidden, c->dim, 1);
        }
        if (c->qkv_bias) {
            LAYER("blk.%d.attn_q.bias", qd, 1, 0);
            LAYER("blk.%d.attn_k.bias", kvd, 1, 0);
            LAYER("blk.%d.attn_v.bias", kvd, 1, 0);
        }
        if (c->qk_norm) {
            LAYER("blk.%d.attn_q_norm.weight", c->head_dim, 1, 0);
            LAYER("blk.%d.attn_k_norm.weight", c->head_dim, 1, 0);
        }
#undef LAYER
    }
#undef CHECK
    return CB_OK;
}

/* ================================================================ reading */

static cb_status_t pread_all(int fd, void *dst, size_t n, uint64_t off, const char *path)
{
    char *p = dst;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ssize_t got = pread(fd, p, chunk, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            cb_error("cannot read %s at byte %llu: %s", path, (unsigned long long)off,
                     got < 0 ? strerror(errno) : "the file is shorter than it was");
            return CB_ERR_IO;
        }
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return CB_OK;
}

cb_status_t llm_desc_read(const llm_desc_t *desc, int t, int64_t r0, int64_t nr,
                          int64_t c0, int64_t nc, void *dst)
{
    const llm_tensor_t *ti = &desc->tensors[t];
    int64_t rows = ti->ne[1] * ti->ne[2] * ti->ne[3];
    int blk = llm_type_block(ti->type);
    if (r0 < 0 || nr < 0 || r0 + nr > rows || c0 < 0 || nc < 0 || c0 + nc > ti->ne[0] || c0 % blk || nc % blk) {
        cb_error("internal: read of rows %lld+%lld, columns %lld+%lld of %s", (long long)r0, (long long)nr,
                 (long long)c0, (long long)nc, ti->name);
        return CB_ERR_INTERNAL;
    }
    if (nr == 0 || nc == 0)
        return CB_OK;
    size_t out_rb = llm_type_bytes(ti->type, nc), in_rb = llm_type_bytes(ti->type, ti->ne[0]);
    size_t col_off = llm_type_bytes(ti->type, c0);

    if (desc->format == LLM_FMT_SYNTHETIC) {
        /* Generated in parallel: a row's values depend on nothing else. */
        int failed = 0;
#pragma omp parallel reduction(| : failed)
        {
            float *tmp = malloc(sizeof(float) * (size_t)nc);
            if (!tmp)
                failed = 1;
#pragma omp for schedule(static)
            for (int64_t r = 0; r < nr; r++) {
                if (!tmp)
                    continue;
                llm_shape_values(desc, t, r0 + r, 1, c0, nc, tmp);
                llm_quantize_row(ti->type, tmp, (char *)dst + (size_t)r * out_rb, nc);
            }
            free(tmp);
        }
        if (failed) {
            cb_error("cannot allocate the generator's rows");
            return CB_ERR_NOMEM;
        }
        return CB_OK;
    }

    cb_status_t st = CB_OK;
    int fd = open(desc->source, O_RDONLY);
    if (fd < 0) {
        cb_error("cannot open %s: %s", desc->source, strerror(errno));
        return CB_ERR_IO;
    }
    if (nc == ti->ne[0]) {
        st = pread_all(fd, dst, out_rb * (size_t)nr, ti->offset + in_rb * (uint64_t)r0, desc->source);
    } else {
        for (int64_t r = 0; r < nr && st == CB_OK; r++)
            st = pread_all(fd, (char *)dst + (size_t)r * out_rb, out_rb,
                           ti->offset + in_rb * (uint64_t)(r0 + r) + col_off, desc->source);
    }
    close(fd);
    return st;
}
