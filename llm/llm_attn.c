/* Grouped-query attention over the KV cache, tiled like flash attention:
 * keys and values are read a tile of LLM_ATT_KT positions at a time,
 * converted once from the cache's type (F16, Q8_0) to floats, and used by
 * every query row that shares their KV head (the group's heads times a
 * block of tokens); an online softmax (running maximum m, running sum l,
 * the output rescaled when m grows) means no row of scores as long as the
 * context is ever kept, so long prompts and deep contexts stream through
 * the cache once per block instead of once per query. */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "llm_kern.h"
#ifdef LLM_X86
#include <immintrin.h>
#endif

#define LLM_ATT_KT 64   /* keys per tile */
#define LLM_ATT_ROWS 64 /* query rows (tokens x heads of a KV head) per work item at most */

size_t llm_attention_scratch(int hd)
{
    return 2 * (size_t)LLM_ATT_KT * (size_t)hd + LLM_ATT_KT + 2 * LLM_ATT_ROWS;
}

/* Keys [t0, t0 + nt) of KV head kvh as rows of hd floats: straight from an
 * F32 cache, else converted into buf. Returns the first row; *stride_p the
 * floats between rows. */
static const float *tile_rows(const llm_attn_t *a, const void *cache, int kvh, int t0, int nt, float *buf, size_t *stride_p)
{
    const size_t head_off = llm_type_bytes(a->kv_type, (int64_t)kvh * a->hd);
    const char *base = (const char *)cache + (size_t)t0 * a->row_bytes + head_off;
    if (a->kv_type == LLM_F32) {
        *stride_p = a->row_bytes / sizeof(float);
        return (const float *)(const void *)base;
    }
    for (int j = 0; j < nt; j++)
        llm_row_to_float(a->kv_type, base + (size_t)j * a->row_bytes, buf + (size_t)j * a->hd, a->hd);
    *stride_p = (size_t)a->hd;
    return buf;
}

/* One query row against a tile, portable: scores, the online-softmax update,
 * the weighted sum of values into o. */
static void tile_row_c(int hd, const float *q, const float *kr, size_t ks, const float *vr, size_t vs, int nv,
                       float scale, float *s, float *m, float *l, float *o)
{
    float mx = *m;
    for (int j = 0; j < nv; j++) {
        s[j] = llm_dot_row(LLM_F32, kr + (size_t)j * ks, q, NULL, hd) * scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    if (mx > *m) { /* the maximum grew: rescale what is summed so far */
        float c = expf(*m - mx);
        *l *= c;
        if (c != 1.0f)
            for (int d = 0; d < hd; d++)
                o[d] *= c;
        *m = mx;
    }
    for (int j = 0; j < nv; j++) {
        float p = expf(s[j] - mx);
        *l += p;
        llm_axpy(p, vr + (size_t)j * vs, o, hd);
    }
}

#ifdef LLM_X86
#define LLM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* e^x for x <= 0 (x - m of a softmax): 2^n e^r, |r| <= ln2 / 2, Taylor to
 * r^6 (relative error about 1e-7). */
LLM_AVX512 static inline __m512 exp_avx512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* tile_row_c for heads of HD (a multiple of 16, at most 256): q and o held
 * in registers across the tile, the exponentials 16 at a time. */
LLM_AVX512 static inline __attribute__((always_inline)) void tile_row_avx512_t(const int HD, const float *q, const float *kr, size_t ks,
                                                                                const float *vr, size_t vs, int nv, float scale,
                                                                                float *s, float *m, float *l, float *o)
{
    __m512 qv[16], ov[16];
#pragma GCC unroll 16
    for (int c = 0; c < HD / 16; c++)
        qv[c] = _mm512_mul_ps(_mm512_loadu_ps(q + 16 * c), _mm512_set1_ps(scale));
    float mx = *m;
    for (int j = 0; j < nv; j++) {
        const float *k = kr + (size_t)j * ks;
        __m512 acc = _mm512_mul_ps(qv[0], _mm512_loadu_ps(k));
#pragma GCC unroll 16
        for (int c = 1; c < HD / 16; c++)
            acc = _mm512_fmadd_ps(qv[c], _mm512_loadu_ps(k + 16 * c), acc);
        s[j] = _mm512_reduce_add_ps(acc);
        mx = s[j] > mx ? s[j] : mx;
    }
    float cscale = 1.0f;
    if (mx > *m) {
        cscale = expf(*m - mx);
        *l *= cscale;
        *m = mx;
    }
    __m512 lsum = _mm512_setzero_ps();
    for (int j = 0; j < nv; j += 16) {
        __mmask16 k = (__mmask16)(nv - j >= 16 ? 0xffff : (1u << (nv - j)) - 1);
        __m512 p = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), _mm512_set1_ps(mx)));
        p = _mm512_maskz_mov_ps(k, p);
        _mm512_storeu_ps(s + j, p); /* s has room for a whole tile */
        lsum = _mm512_add_ps(lsum, p);
    }
    *l += _mm512_reduce_add_ps(lsum);
#pragma GCC unroll 16
    for (int c = 0; c < HD / 16; c++)
        ov[c] = _mm512_mul_ps(_mm512_loadu_ps(o + 16 * c), _mm512_set1_ps(cscale));
    for (int j = 0; j < nv; j++) {
        const float *v = vr + (size_t)j * vs;
        __m512 pv = _mm512_set1_ps(s[j]);
#pragma GCC unroll 16
        for (int c = 0; c < HD / 16; c++)
            ov[c] = _mm512_fmadd_ps(pv, _mm512_loadu_ps(v + 16 * c), ov[c]);
    }
#pragma GCC unroll 16
    for (int c = 0; c < HD / 16; c++)
        _mm512_storeu_ps(o + 16 * c, ov[c]);
}

LLM_AVX512 static void tile_row_avx512(int hd, const float *q, const float *kr, size_t ks, const float *vr, size_t vs, int nv,
                                       float scale, float *s, float *m, float *l, float *o)
{
    switch (hd) {
    case 64: tile_row_avx512_t(64, q, kr, ks, vr, vs, nv, scale, s, m, l, o); break;
    case 128: tile_row_avx512_t(128, q, kr, ks, vr, vs, nv, scale, s, m, l, o); break;
    case 256: tile_row_avx512_t(256, q, kr, ks, vr, vs, nv, scale, s, m, l, o); break;
    default: tile_row_c(hd, q, kr, ks, vr, vs, nv, scale, s, m, l, o); break;
    }
}
#endif

void llm_attention(const llm_attn_t *a)
{
    const int hd = a->hd, qd = a->nq * hd;
    /* The query heads of each KV head are consecutive: [hq0(k), hq1(k)). */
    int bq = LLM_ATT_ROWS / (a->group > 0 ? a->group : 1);
    bq = bq < 1 ? 1 : bq;
    const int nblk = (a->b + bq - 1) / bq, nwork = a->nkv * nblk;
#ifdef LLM_X86
    const int avx512 = llm_kernels_isa() == LLM_ISA_AVX512;
#endif
#pragma omp parallel for schedule(dynamic, 1)
    for (int wi = 0; wi < nwork; wi++) {
        const int kvh = wi / nblk, i0 = (wi % nblk) * bq, i1 = i0 + bq < a->b ? i0 + bq : a->b;
        int th = 0;
#ifdef _OPENMP
        th = omp_get_thread_num();
#endif
        float *kbuf = a->scratch + (size_t)th * llm_attention_scratch(hd);
        float *vbuf = kbuf + (size_t)LLM_ATT_KT * hd, *s = vbuf + (size_t)LLM_ATT_KT * hd;
        float *m = s + LLM_ATT_KT, *l = m + LLM_ATT_ROWS;
        /* this rank's query heads on KV head kvh (global kv0 + kvh) */
        int hq0 = (a->kv0 + kvh) * a->group - a->h0, hq1 = hq0 + a->group;
        hq0 = hq0 < 0 ? 0 : hq0;
        hq1 = hq1 > a->nq ? a->nq : hq1;
        const int nh = hq1 - hq0;
        if (nh <= 0)
            continue;
        for (int r = 0; r < (i1 - i0) * nh; r++) {
            m[r] = -INFINITY;
            l[r] = 0;
            int i = i0 + r / nh, h = hq0 + r % nh;
            memset(a->o + (size_t)i * qd + (size_t)h * hd, 0, sizeof(float) * (size_t)hd);
        }
        const int t_end = a->pos + i1; /* positions [0, t_end) are seen by the block's last token */
        for (int t0 = 0; t0 < t_end; t0 += LLM_ATT_KT) {
            const int nt = t_end - t0 < LLM_ATT_KT ? t_end - t0 : LLM_ATT_KT;
            size_t ks, vs;
            const float *kr = tile_rows(a, a->k, kvh, t0, nt, kbuf, &ks);
            const float *vr = tile_rows(a, a->v, kvh, t0, nt, vbuf, &vs);
            for (int r = 0; r < (i1 - i0) * nh; r++) {
                const int i = i0 + r / nh, h = hq0 + r % nh;
                const int nv = a->pos + i + 1 - t0 < nt ? a->pos + i + 1 - t0 : nt; /* causal */
                if (nv <= 0)
                    continue;
                const float *q = a->q + (size_t)i * qd + (size_t)h * hd;
                float *o = a->o + (size_t)i * qd + (size_t)h * hd;
#ifdef LLM_X86
                if (avx512)
                    tile_row_avx512(hd, q, kr, ks, vr, vs, nv, a->scale, s, &m[r], &l[r], o);
                else
#endif
                    tile_row_c(hd, q, kr, ks, vr, vs, nv, a->scale, s, &m[r], &l[r], o);
            }
        }
        for (int r = 0; r < (i1 - i0) * nh; r++) {
            int i = i0 + r / nh, h = hq0 + r % nh;
            float *o = a->o + (size_t)i * qd + (size_t)h * hd, inv = 1.0f / l[r];
            for (int d = 0; d < hd; d++)
                o[d] *= inv;
        }
    }
}
