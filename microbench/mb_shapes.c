/* The model shapes of `decode`: what one decoded token costs in allreduces
 * under tensor parallelism, the way llm issues them: one after the embedding
 * and two per layer (after the attention output and the FFN down
 * projection; an MoE layer's experts are summed by the same second one), each
 * of `dim` floats, whatever the number of ranks. Qwen3-235B-A22B: 1 + 2 x 94
 * = 189 allreduces of 16 KiB per token. */
#include "mb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int dim;     /* hidden size: floats per allreduce */
    int layers;
} mb_shape_t;

static const mb_shape_t mb_shapes[] = {
    /* the presets of llm --shape, and MoE models of the story */
    { "llama-3.2-1b", 2048, 16 },  { "llama-3.2-3b", 3072, 28 },   { "llama-3.1-8b", 4096, 32 },
    { "llama-3.1-70b", 8192, 80 }, { "qwen2.5-0.5b", 896, 24 },    { "qwen2.5-7b", 3584, 28 },
    { "qwen3-0.6b", 1024, 28 },    { "qwen3-1.7b", 2048, 28 },     { "qwen3-4b", 2560, 36 },
    { "qwen3-8b", 4096, 36 },      { "qwen3-32b", 5120, 64 },      { "qwen3-30b-a3b", 2048, 48 },
    { "qwen3-235b-a22b", 4096, 94 }, { "deepseek-v3", 7168, 61 }, { "tiny", 64, 2 },
    { "tiny-llama", 64, 2 },       { "tiny-qwen2", 64, 2 },        { "tiny-qwen3", 64, 2 },
};
#define MB_N_SHAPES ((int)(sizeof mb_shapes / sizeof mb_shapes[0]))

void mb_shape_list(void *out)
{
    FILE *f = out;
    fprintf(f, "# %-16s %6s %6s %14s\n", "shape", "dim", "layers", "allreduces/tok");
    for (int i = 0; i < MB_N_SHAPES; i++)
        fprintf(f, "  %-16s %6d %6d %14d\n", mb_shapes[i].name, mb_shapes[i].dim, mb_shapes[i].layers,
                1 + 2 * mb_shapes[i].layers);
}

/* "key=value" pairs after ':' override the preset (dim=, layers=). */
static cb_status_t overrides(const char *text, const char *p, mb_shape_t *s)
{
    while (*p) {
        char key[16];
        long v = 0;
        int n = 0;
        if (sscanf(p, "%15[a-z]=%ld%n", key, &v, &n) != 2 || v < 1 || v > (1L << 20)) {
            cb_error("--shape %s: expected dim=N,layers=N after ':' (1 <= N <= 1048576)", text);
            return CB_ERR_USAGE;
        }
        if (strcmp(key, "dim") == 0)
            s->dim = (int)v;
        else if (strcmp(key, "layers") == 0)
            s->layers = (int)v;
        else {
            cb_error("--shape %s: unknown key '%s' (dim, layers)", text, key);
            return CB_ERR_USAGE;
        }
        p += n;
        if (*p == ',')
            p++;
        else if (*p) {
            cb_error("--shape %s: expected ',' between dim=N and layers=N", text);
            return CB_ERR_USAGE;
        }
    }
    return CB_OK;
}

cb_status_t mb_shape_parse(const char *text, int layers, mb_params_t *params)
{
    char base[MB_NAME_LEN];
    size_t bl = strcspn(text, ":");
    if (bl == 0 || bl >= sizeof base) {
        cb_error("--shape %s: expected NAME or NAME:dim=N,layers=N (--list-shapes shows them)", text);
        return CB_ERR_USAGE;
    }
    memcpy(base, text, bl);
    base[bl] = '\0';
    mb_shape_t s = { NULL, 0, 0 };
    for (int i = 0; i < MB_N_SHAPES && !s.name; i++)
        if (strcmp(mb_shapes[i].name, base) == 0)
            s = mb_shapes[i];
    if (!s.name && strcmp(base, "custom") == 0)
        s = (mb_shape_t){ "custom", 0, 0 };
    if (!s.name) {
        cb_error("--shape %s: unknown shape (--list-shapes shows them; or custom:dim=N,layers=N)", base);
        return CB_ERR_USAGE;
    }
    cb_status_t st = text[bl] == ':' ? overrides(text, text + bl + 1, &s) : CB_OK;
    if (st != CB_OK)
        return st;
    if (layers > 0) {
        if (layers > s.layers && s.layers > 0) {
            cb_error("--layers %d: %s has %d layers", layers, base, s.layers);
            return CB_ERR_USAGE;
        }
        s.layers = layers;
    }
    if (s.dim <= 0 || s.layers <= 0) {
        cb_error("--shape %s: needs dim=N and layers=N", text);
        return CB_ERR_USAGE;
    }
    snprintf(params->shape, sizeof params->shape, "%s", text);
    params->decode_dim = s.dim;
    params->decode_calls = 1 + 2 * s.layers;
    return CB_OK;
}

/* ================================================================ --alg */

int mb_alg_is_mpi(const char *alg)
{
    return strcmp(alg, "mpi") == 0 || strcmp(alg, "rd") == 0;
}

cb_status_t mb_alg_parse(const char *text, mb_params_t *params)
{
    params->n_algs = 0;
    const char *p = text;
    for (;;) {
        size_t len = strcspn(p, ",");
        char name[MB_NAME_LEN];
        if (len == 0 || len >= sizeof name) {
            cb_error("--alg %s: %s", text, len ? "name too long" : "empty algorithm name");
            return CB_ERR_USAGE;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        int known = mb_alg_is_mpi(name);
        for (int i = 0; cb_ucoll_alg_names[i] && !known; i++)
            known = strcmp(cb_ucoll_alg_names[i], name) == 0;
        if (!known) {
            char list[256] = "mpi, rd";
            for (int i = 0; cb_ucoll_alg_names[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), ", %s", cb_ucoll_alg_names[i]);
            cb_error("--alg %s: unknown algorithm '%s' (%s)", text, name, list);
            return CB_ERR_USAGE;
        }
        for (int i = 0; i < params->n_algs; i++)
            if (strcmp(params->algs[i], name) == 0) {
                cb_error("--alg %s: '%s' twice", text, name);
                return CB_ERR_USAGE;
            }
        if (params->n_algs == MB_MAX_ALGS) {
            cb_error("--alg %s: at most %d algorithms", text, MB_MAX_ALGS);
            return CB_ERR_USAGE;
        }
        snprintf(params->algs[params->n_algs++], MB_NAME_LEN, "%s", name);
        if (p[len] == '\0')
            return CB_OK;
        p += len + 1;
    }
}
