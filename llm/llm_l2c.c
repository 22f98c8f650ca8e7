/* llama2.c checkpoints: a header of seven int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size (negative: separate classifier), seq_len)
 * then float32 tensors, all layers of one kind together. The reader maps them
 * onto GGUF tensor names so that everything after parsing is shared. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "llm.h"

static int l2c_add(llm_desc_t *desc, const char *name, int64_t cols, int64_t rows, uint64_t *off)
{
    llm_tensor_t *t = &desc->tensors[desc->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = LLM_F32;
    t->n_dims = rows > 1 ? 2 : 1;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->ne[2] = t->ne[3] = 1;
    t->offset = *off;
    t->bytes = (uint64_t)cols * (uint64_t)rows * 4;
    *off += t->bytes;
    return 0;
}

/* One kind of tensor for every layer, stored back to back. */
static void l2c_add_layers(llm_desc_t *desc, int n_layers, const char *fmt, int64_t cols, int64_t rows, uint64_t *off)
{
    char name[LLM_NAME_MAX];
    for (int l = 0; l < n_layers; l++) {
        snprintf(name, sizeof name, fmt, l);
        l2c_add(desc, name, cols, rows, off);
    }
}

cb_status_t llm_l2c_parse(const uint8_t *buf, size_t len, llm_desc_t *desc)
{
    int32_t h[7];
    memset(desc, 0, sizeof *desc);
    desc->format = LLM_FMT_LLAMA2C;
    desc->file_size = len;
    if (len < sizeof h) {
        cb_error("llama2.c: the file is shorter than its 28-byte header");
        return CB_ERR_INPUT;
    }
    memcpy(h, buf, sizeof h);
    int dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4], seq = h[6];
    int shared = h[5] > 0;
    int64_t vocab = h[5] < 0 ? -(int64_t)h[5] : h[5];
    if (dim <= 0 || dim > (1 << 16) || hidden <= 0 || hidden > (1 << 18) || n_layers <= 0 || n_layers > 1024 ||
        n_heads <= 0 || n_heads > dim || n_kv <= 0 || n_kv > n_heads || vocab <= 0 || vocab > (1 << 21) ||
        seq <= 0 || seq > (1 << 20) || dim % n_heads || n_heads % n_kv) {
        cb_error("not a GGUF file, and not a llama2.c checkpoint: implausible header (dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %lld, seq_len %d)",
                 dim, hidden, n_layers, n_heads, n_kv, (long long)vocab, seq);
        return CB_ERR_INPUT;
    }
    int head_dim = dim / n_heads, kv_dim = n_kv * head_dim;
    /* Every size below stays far from overflow with the bounds above (< 2^62). */
    uint64_t floats = (uint64_t)vocab * dim
        + (uint64_t)n_layers * ((uint64_t)dim * 2 + (uint64_t)dim * dim * 2 + (uint64_t)kv_dim * dim * 2
                                + (uint64_t)hidden * dim * 3)
        + dim + (uint64_t)seq * head_dim + (shared ? 0 : (uint64_t)vocab * dim);
    if (floats * 4 + sizeof h != len) {
        cb_error("not a GGUF file, and not a llama2.c checkpoint: its header promises %llu bytes, the file has %zu",
                 (unsigned long long)(floats * 4 + sizeof h), len);
        return CB_ERR_INPUT;
    }
    desc->tensors = calloc((size_t)n_layers * 9 + 4, sizeof *desc->tensors);
    if (!desc->tensors) {
        cb_error("llama2.c: cannot allocate the directory");
        return CB_ERR_NOMEM;
    }
    uint64_t off = sizeof h;
    l2c_add(desc, "token_embd.weight", dim, vocab, &off);
    l2c_add_layers(desc, n_layers, "blk.%d.attn_norm.weight", dim, 1, &off);
    l2c_add_layers(desc, n_layers, "blk.%d.attn_q.weight", dim, dim, &off);
    l2c_add_layers(desc, n_layers, "blk.%d.attn_k.weight", dim, kv_dim, &off);
    l2c_add_layers(desc, n_layers, "blk.%d.attn_v.weight", dim, kv_dim, &off);
    l2c_add_layers(desc, n_layers, "blk.%d.attn_output.weight", dim, dim, &off);
    l2c_add_layers(desc, n_layers, "blk.%d.ffn_norm.weight", dim, 1, &off);
    l2c_add_layers(desc, n_layers, "blk.%d.ffn_gate.weight", dim, hidden, &off);  /* w1 */
    l2c_add_layers(desc, n_layers, "blk.%d.ffn_down.weight", hidden, dim, &off);  /* w2 */
    l2c_add_layers(desc, n_layers, "blk.%d.ffn_up.weight", dim, hidden, &off);    /* w3 */
    l2c_add(desc, "output_norm.weight", dim, 1, &off);
    off += (uint64_t)seq * head_dim * 4; /* freq_cis_real and _imag: RoPE is computed instead */
    if (!shared)
        l2c_add(desc, "output.weight", dim, vocab, &off);

    llm_config_t *c = &desc->cfg;
    c->arch = LLM_ARCH_LLAMA;
    c->dim = dim;
    c->hidden = hidden;
    c->n_layers = n_layers;
    c->n_heads = n_heads;
    c->n_kv_heads = n_kv;
    c->head_dim = head_dim;
    c->vocab = (int)vocab;
    c->ctx = seq;
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
    c->rope_neox = 0;
    c->tied = shared;
    return CB_OK;
}
