/* The tiled attention (llm_attn.c) against a float64 reference: every
 * instruction set, the AVX-512 prompt path with 16 query rows in the lanes
 * and its one-row path, F32, F16 and Q8_0 caches, head sizes with and
 * without a multiple of 16, batches and depths that end inside a tile, a
 * partly filled last group of lanes, grouped, multi-head and odd groups, and
 * a rank whose query heads start inside a KV head's group. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "../../llm/llm.h"
#include "../../llm/llm_kern.h"
#include "../cb_check.h"

static uint64_t rng = 88172645463325252ull;
static float uniform(void) /* [-1, 1) */
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0) - 1.0);
}

typedef struct {
    int hd, nq, nkv, group, h0, kv0, pos, b;
} att_case_t;

/* Softmax(scale q K^T) V in float64, the keys and values as the cache holds them. */
static void reference(const llm_attn_t *a, const float *kf, const float *vf, int kv_all, double *out)
{
    const int hd = a->hd, qd = a->nq * hd;
    double *s = malloc(sizeof(double) * (size_t)(a->pos + a->b));
    for (int i = 0; i < a->b; i++)
        for (int h = 0; h < a->nq; h++) {
            const int kvg = (a->h0 + h) / a->group, kvh = kvg - a->kv0, n = a->pos + i + 1;
            const float *q = a->q + (size_t)i * qd + (size_t)h * hd;
            double mx = -INFINITY, l = 0;
            for (int t = 0; t < n; t++) {
                const float *k = kf + ((size_t)t * kv_all + (size_t)kvh) * hd;
                double d = 0;
                for (int e = 0; e < hd; e++)
                    d += (double)q[e] * k[e];
                s[t] = d * a->scale;
                mx = s[t] > mx ? s[t] : mx;
            }
            double *o = out + (size_t)i * qd + (size_t)h * hd;
            for (int e = 0; e < hd; e++)
                o[e] = 0;
            for (int t = 0; t < n; t++) {
                const double p = exp(s[t] - mx);
                const float *v = vf + ((size_t)t * kv_all + (size_t)kvh) * hd;
                l += p;
                for (int e = 0; e < hd; e++)
                    o[e] += p * v[e];
            }
            for (int e = 0; e < hd; e++)
                o[e] /= l;
        }
    free(s);
}

static double max_err(const float *got, const double *want, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        e = d > e || d != d ? d : e;
    }
    return e;
}

/* One case on the selected kernels; 0 if within tol of the reference. */
static int run_case(const att_case_t *c, int kv_type, const char *path, double tol)
{
    const int hd = c->hd, ctx = c->pos + c->b, qd = c->nq * hd, kvd = c->nkv * hd;
    const size_t row_bytes = llm_type_bytes(kv_type, kvd);
    float *q = malloc(sizeof(float) * (size_t)c->b * qd), *o = malloc(sizeof(float) * (size_t)c->b * qd);
    float *kf = malloc(sizeof(float) * (size_t)ctx * kvd), *vf = malloc(sizeof(float) * (size_t)ctx * kvd);
    char *kc = malloc(row_bytes * (size_t)ctx), *vc = malloc(row_bytes * (size_t)ctx);
    double *ref = malloc(sizeof(double) * (size_t)c->b * qd);
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    float *scratch = malloc(sizeof(float) * llm_attention_scratch(hd) * (size_t)nt);
    rng = 0x2545f4914f6cdd1dull ^ (uint64_t)(hd * 7919 + c->pos * 31 + c->b);
    for (int i = 0; i < c->b * qd; i++)
        q[i] = 2 * uniform(); /* scores of a few units: a softmax that is neither flat nor one-hot */
    float *row = malloc(sizeof(float) * (size_t)kvd);
    for (int t = 0; t < ctx; t++) {
        for (int e = 0; e < kvd; e++)
            row[e] = 2 * uniform();
        llm_quantize_row(kv_type, row, kc + (size_t)t * row_bytes, kvd);
        llm_dequantize_row(kv_type, kc + (size_t)t * row_bytes, kf + (size_t)t * kvd, kvd);
        for (int e = 0; e < kvd; e++)
            row[e] = uniform();
        llm_quantize_row(kv_type, row, vc + (size_t)t * row_bytes, kvd);
        llm_dequantize_row(kv_type, vc + (size_t)t * row_bytes, vf + (size_t)t * kvd, kvd);
    }
    llm_attn_t a = { q, o, kc, vc, kv_type, row_bytes, hd, c->nq, c->nkv, c->h0, c->kv0, c->group, c->pos, c->b,
                     1.0f / sqrtf((float)hd), scratch };
    memset(o, 0xff, sizeof(float) * (size_t)c->b * qd); /* NaNs: every output must be written */
    llm_attention(&a);
    reference(&a, kf, vf, c->nkv, ref);
    const double err = max_err(o, ref, (size_t)c->b * qd);
    const int bad = !(err <= tol);
    if (bad)
        fprintf(stderr, "FAIL attention %s %s hd=%d nq=%d nkv=%d group=%d h0=%d pos=%d b=%d: max error %g > %g\n", path,
                llm_type_name(kv_type), hd, c->nq, c->nkv, c->group, c->h0, c->pos, c->b, err, tol);
    /* the comparison can fail: one output off by 10 tol */
    o[c->b * qd / 2] += (float)(10 * tol);
    CHECK(!(max_err(o, ref, (size_t)c->b * qd) <= tol));
    free(row); free(scratch); free(ref); free(vc); free(kc); free(vf); free(kf); free(o); free(q);
    return bad;
}

int main(void)
{
    static const att_case_t cases[] = {
        { 128, 8, 2, 4, 0, 0, 0, 37 },    /* a prompt ending inside the first tile */
        { 128, 8, 2, 4, 0, 0, 100, 5 },   /* 20 rows: a group of 16 and one of 4 */
        { 128, 8, 2, 4, 0, 0, 130, 1 },   /* a decoded token: the one-row path */
        { 128, 8, 2, 4, 0, 0, 61, 70 },   /* several work items per KV head, depth inside a tile */
        { 128, 4, 2, 4, 2, 0, 40, 9 },    /* this rank's heads start inside a group: 2 of 4 per KV head */
        { 64, 3, 3, 1, 0, 0, 3, 80 },     /* multi-head: 64 tokens a work item */
        { 80, 7, 1, 7, 0, 0, 17, 20 },    /* odd group, head size not a multiple of 16 */
        { 128, 4, 1, 4, 4, 1, 300, 33 },  /* the second KV head of the model on this rank */
    };
    static const int kv_types[] = { LLM_F32, LLM_F16, LLM_Q8_0 };
    const double tol = 2e-5; /* outputs within [-1, 1]; fp32 sums of 128 products and the exponential's 1e-7 */
    static const struct { llm_isa_t isa; int lanes; const char *name; } paths[] = {
        { LLM_ISA_C, 0, "c" }, { LLM_ISA_AVX2, 0, "avx2" }, { LLM_ISA_AVX512, 0, "avx512 one row" },
        { LLM_ISA_AVX512, 1, "avx512 lanes" },
    };
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        if (llm_kernels_select(paths[p].isa) != CB_OK) {
            printf("attention %s: not on this CPU, skipped\n", paths[p].name);
            cb_error_clear();
            continue;
        }
        llm_attention_lanes = paths[p].lanes;
        int bad = 0, n = 0;
        for (size_t k = 0; k < sizeof kv_types / sizeof kv_types[0]; k++)
            for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                if (cases[i].hd % llm_type_block(kv_types[k])) /* Q8_0 heads are whole blocks */
                    continue;
                bad += run_case(&cases[i], kv_types[k], paths[p].name, tol);
                n++;
            }
        printf("attention %s: %d cases (F32, F16, Q8_0 caches) %s the float64 reference within %g\n", paths[p].name, n,
               bad ? "DIFFER from" : "match", tol);
        CHECK(bad == 0);
    }
    return cb_check_exit();
}
