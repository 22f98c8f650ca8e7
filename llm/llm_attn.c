/* Grouped-query attention over the KV cache, tiled like flash attention:
 * keys and values are read a tile of LLM_ATT_KT positions at a time,
 * converted once from the cache's type (F16, Q8_0) to floats, and used by
 * every query row that shares their KV head (the group's heads times a
 * block of tokens); an online softmax (running maximum m, running sum l,
 * the output rescaled when m grows) means no row of scores as long as the
 * context is ever kept, so long prompts and deep contexts stream through
 * the cache once per block instead of once per query. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "llm_kern.h"
#include "llm_team.h"
#ifdef LLM_X86
#include <immintrin.h>
#endif

#define LLM_ATT_KT 64    /* keys per tile */
#define LLM_ATT_ROWS 64  /* query rows (tokens x heads of a KV head) per work item at most */
#define LLM_ATT_LANES 16 /* query rows side by side in the AVX-512 lanes (the prompt's path) */
#define LLM_ATT_GROUPS (LLM_ATT_ROWS / LLM_ATT_LANES)

/* Per thread: the K and V tiles as floats, the one-row path's scores, m
 * and l; the lane path's queries and outputs transposed (LLM_ATT_GROUPS x
 * hd x 16), its scores (KT x 16), m and l (LLM_ATT_ROWS each); rounded up
 * to whole cache lines so that every thread's part stays aligned. */
size_t llm_attention_scratch(int hd)
{
    size_t n = 2 * (size_t)LLM_ATT_KT * (size_t)hd + LLM_ATT_KT + 2 * LLM_ATT_ROWS
             + 2 * (size_t)LLM_ATT_ROWS * (size_t)hd + (size_t)LLM_ATT_KT * LLM_ATT_LANES + 2 * LLM_ATT_ROWS;
    return (n + 15) / 16 * 16;
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

/* The prompt's path: 16 query rows of one KV head side by side, one per
 * lane, so that a score, the softmax's maximum, sum and rescale, and an
 * output element are each one vector over the rows and nothing is summed
 * across lanes. qT (hd x 16) holds the rows' queries times the scale
 * transposed, oT (hd x 16) their outputs so far; a key's element or a
 * value's is broadcast against them, eight keys at a time. Row (lane) r
 * sees the tile's key j if t0 + j < lim[r] (causal); every lane sees key 0,
 * so its maximum is finite after the first tile. st: room for nt x 16. */
LLM_AVX512 static void tile_lanes_avx512(int hd, const float *qT, const float *kr, size_t ks, const float *vr, size_t vs,
                                         int nt, int t0, const int32_t *lim, float *st, float *mv, float *lv, float *oT)
{
    int j = 0;
    for (; j + 8 <= nt; j += 8) {
        const float *k0 = kr + (size_t)j * ks, *k1 = k0 + ks, *k2 = k1 + ks, *k3 = k2 + ks;
        const float *k4 = k3 + ks, *k5 = k4 + ks, *k6 = k5 + ks, *k7 = k6 + ks;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int d = 0; d < hd; d++) {
            const __m512 q = _mm512_loadu_ps(qT + 16 * (size_t)d);
            a0 = _mm512_fmadd_ps(q, _mm512_set1_ps(k0[d]), a0);
            a1 = _mm512_fmadd_ps(q, _mm512_set1_ps(k1[d]), a1);
            a2 = _mm512_fmadd_ps(q, _mm512_set1_ps(k2[d]), a2);
            a3 = _mm512_fmadd_ps(q, _mm512_set1_ps(k3[d]), a3);
            a4 = _mm512_fmadd_ps(q, _mm512_set1_ps(k4[d]), a4);
            a5 = _mm512_fmadd_ps(q, _mm512_set1_ps(k5[d]), a5);
            a6 = _mm512_fmadd_ps(q, _mm512_set1_ps(k6[d]), a6);
            a7 = _mm512_fmadd_ps(q, _mm512_set1_ps(k7[d]), a7);
        }
        float *sj = st + 16 * (size_t)j;
        _mm512_storeu_ps(sj, a0);
        _mm512_storeu_ps(sj + 16, a1);
        _mm512_storeu_ps(sj + 32, a2);
        _mm512_storeu_ps(sj + 48, a3);
        _mm512_storeu_ps(sj + 64, a4);
        _mm512_storeu_ps(sj + 80, a5);
        _mm512_storeu_ps(sj + 96, a6);
        _mm512_storeu_ps(sj + 112, a7);
    }
    for (; j < nt; j++) {
        const float *k = kr + (size_t)j * ks;
        __m512 a = _mm512_setzero_ps();
        for (int d = 0; d < hd; d++)
            a = _mm512_fmadd_ps(_mm512_loadu_ps(qT + 16 * (size_t)d), _mm512_set1_ps(k[d]), a);
        _mm512_storeu_ps(st + 16 * (size_t)j, a);
    }
    /* the causal mask, the maximum, the rescale of what is summed so far */
    const __m512i lv_i = _mm512_loadu_si512((const void *)lim);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const int masked = _mm512_cmplt_epi32_mask(lv_i, _mm512_set1_epi32(t0 + nt)) != 0;
    const __m512 mold = _mm512_loadu_ps(mv);
    __m512 mx = mold;
    for (j = 0; j < nt; j++) {
        __m512 sj = _mm512_loadu_ps(st + 16 * (size_t)j);
        if (masked) {
            sj = _mm512_mask_mov_ps(ninf, _mm512_cmpgt_epi32_mask(lv_i, _mm512_set1_epi32(t0 + j)), sj);
            _mm512_storeu_ps(st + 16 * (size_t)j, sj);
        }
        mx = _mm512_max_ps(mx, sj);
    }
    const __m512 c = exp_avx512(_mm512_sub_ps(mold, mx)); /* m = -inf before the first tile: l and o are 0 */
    __m512 l = _mm512_mul_ps(_mm512_loadu_ps(lv), c);
    for (j = 0; j < nt; j++) {
        const __m512 sj = _mm512_loadu_ps(st + 16 * (size_t)j);
        __m512 p = exp_avx512(_mm512_sub_ps(sj, mx));
        if (masked)
            p = _mm512_maskz_mov_ps(_mm512_cmpgt_epi32_mask(lv_i, _mm512_set1_epi32(t0 + j)), p);
        l = _mm512_add_ps(l, p);
        _mm512_storeu_ps(st + 16 * (size_t)j, p);
    }
    _mm512_storeu_ps(mv, mx);
    _mm512_storeu_ps(lv, l);
    if (_mm512_cmp_ps_mask(mx, mold, _CMP_GT_OQ))
        for (int d = 0; d < hd; d++)
            _mm512_storeu_ps(oT + 16 * (size_t)d, _mm512_mul_ps(_mm512_loadu_ps(oT + 16 * (size_t)d), c));
    /* the weighted sum of the values */
    for (j = 0; j + 8 <= nt; j += 8) {
        const float *v0 = vr + (size_t)j * vs, *v1 = v0 + vs, *v2 = v1 + vs, *v3 = v2 + vs;
        const float *v4 = v3 + vs, *v5 = v4 + vs, *v6 = v5 + vs, *v7 = v6 + vs;
        const float *pj = st + 16 * (size_t)j;
        const __m512 p0 = _mm512_loadu_ps(pj), p1 = _mm512_loadu_ps(pj + 16), p2 = _mm512_loadu_ps(pj + 32), p3 = _mm512_loadu_ps(pj + 48);
        const __m512 p4 = _mm512_loadu_ps(pj + 64), p5 = _mm512_loadu_ps(pj + 80), p6 = _mm512_loadu_ps(pj + 96), p7 = _mm512_loadu_ps(pj + 112);
        for (int d = 0; d < hd; d++) {
            float *od = oT + 16 * (size_t)d;
            __m512 o0 = _mm512_fmadd_ps(p0, _mm512_set1_ps(v0[d]), _mm512_loadu_ps(od));
            __m512 o1 = _mm512_mul_ps(p1, _mm512_set1_ps(v1[d]));
            o0 = _mm512_fmadd_ps(p2, _mm512_set1_ps(v2[d]), o0);
            o1 = _mm512_fmadd_ps(p3, _mm512_set1_ps(v3[d]), o1);
            o0 = _mm512_fmadd_ps(p4, _mm512_set1_ps(v4[d]), o0);
            o1 = _mm512_fmadd_ps(p5, _mm512_set1_ps(v5[d]), o1);
            o0 = _mm512_fmadd_ps(p6, _mm512_set1_ps(v6[d]), o0);
            o1 = _mm512_fmadd_ps(p7, _mm512_set1_ps(v7[d]), o1);
            _mm512_storeu_ps(od, _mm512_add_ps(o0, o1));
        }
    }
    for (; j < nt; j++) {
        const float *v = vr + (size_t)j * vs;
        const __m512 p = _mm512_loadu_ps(st + 16 * (size_t)j);
        for (int d = 0; d < hd; d++)
            _mm512_storeu_ps(oT + 16 * (size_t)d, _mm512_fmadd_ps(p, _mm512_set1_ps(v[d]), _mm512_loadu_ps(oT + 16 * (size_t)d)));
    }
}

/* One work item on the lane path: its rows (tokens i0..i1 x heads hq0..hq0+nh
 * of KV head kvh) in groups of 16 lanes (a short last group repeats its
 * last row in the spare lanes, computed and dropped), the tiles converted
 * once for all the groups. */
LLM_AVX512 static void attend_lanes(const llm_attn_t *a, int kvh, int i0, int i1, int hq0, int nh, float *kbuf, float *vbuf, float *lanes)
{
    const int hd = a->hd, qd = a->nq * hd, R = (i1 - i0) * nh, ng = (R + LLM_ATT_LANES - 1) / LLM_ATT_LANES;
    const size_t gsz = (size_t)LLM_ATT_LANES * (size_t)hd;
    float *qT = lanes, *oT = qT + (size_t)LLM_ATT_ROWS * hd, *st = oT + (size_t)LLM_ATT_ROWS * hd;
    float *mv = st + (size_t)LLM_ATT_KT * LLM_ATT_LANES, *lv = mv + LLM_ATT_ROWS;
    int32_t lim[LLM_ATT_ROWS];
    int maxlim[LLM_ATT_GROUPS] = { 0 };
    for (int r = 0; r < ng * LLM_ATT_LANES; r++) {
        const int rr = r < R ? r : R - 1, i = i0 + rr / nh, h = hq0 + rr % nh, g = r / LLM_ATT_LANES, ln = r % LLM_ATT_LANES;
        const float *q = a->q + (size_t)i * qd + (size_t)h * hd;
        float *qg = qT + (size_t)g * gsz, *og = oT + (size_t)g * gsz;
        for (int d = 0; d < hd; d++) {
            qg[LLM_ATT_LANES * d + ln] = q[d] * a->scale;
            og[LLM_ATT_LANES * d + ln] = 0;
        }
        lim[r] = a->pos + i + 1;
        maxlim[g] = lim[r] > maxlim[g] ? lim[r] : maxlim[g];
        mv[r] = -INFINITY;
        lv[r] = 0;
    }
    const int t_end = a->pos + i1;
    for (int t0 = 0; t0 < t_end; t0 += LLM_ATT_KT) {
        const int nt = t_end - t0 < LLM_ATT_KT ? t_end - t0 : LLM_ATT_KT;
        size_t ks, vs;
        const float *kr = tile_rows(a, a->k, kvh, t0, nt, kbuf, &ks);
        const float *vr = tile_rows(a, a->v, kvh, t0, nt, vbuf, &vs);
        for (int g = 0; g < ng; g++)
            if (t0 < maxlim[g]) {
                const int ntg = maxlim[g] - t0 < nt ? maxlim[g] - t0 : nt;
                tile_lanes_avx512(hd, qT + (size_t)g * gsz, kr, ks, vr, vs, ntg, t0, lim + LLM_ATT_LANES * g, st,
                                  mv + LLM_ATT_LANES * g, lv + LLM_ATT_LANES * g, oT + (size_t)g * gsz);
            }
    }
    for (int r = 0; r < R; r++) {
        const int i = i0 + r / nh, h = hq0 + r % nh, g = r / LLM_ATT_LANES, ln = r % LLM_ATT_LANES;
        const float *og = oT + (size_t)g * gsz;
        float *o = a->o + (size_t)i * qd + (size_t)h * hd, inv = 1.0f / lv[r];
        for (int d = 0; d < hd; d++)
            o[d] = og[LLM_ATT_LANES * d + ln] * inv;
    }
}
#endif

int llm_attention_lanes = -1;

/* One work item of llm_attention: KV head wi / nblk, query block wi % nblk,
 * on thread th's scratch tiles. */
typedef struct {
    const llm_attn_t *a;
    int bq, nblk;
#ifdef LLM_X86
    int avx512, lanes;
#endif
} attn_work_t;

static void attention_item(void *arg, int64_t wi64, int th)
{
    const attn_work_t *w = arg;
    const llm_attn_t *a = w->a;
    const int wi = (int)wi64, bq = w->bq, nblk = w->nblk, hd = a->hd, qd = a->nq * hd;
#ifdef LLM_X86
    const int avx512 = w->avx512, lanes = w->lanes;
#endif
    const int kvh = wi / nblk, i0 = (wi % nblk) * bq, i1 = i0 + bq < a->b ? i0 + bq : a->b;
    float *kbuf = a->scratch + (size_t)th * llm_attention_scratch(hd);
    float *vbuf = kbuf + (size_t)LLM_ATT_KT * hd, *s = vbuf + (size_t)LLM_ATT_KT * hd;
    float *m = s + LLM_ATT_KT, *l = m + LLM_ATT_ROWS;
    /* this rank's query heads on KV head kvh (global kv0 + kvh) */
    int hq0 = (a->kv0 + kvh) * a->group - a->h0, hq1 = hq0 + a->group;
    hq0 = hq0 < 0 ? 0 : hq0;
    hq1 = hq1 > a->nq ? a->nq : hq1;
    const int nh = hq1 - hq0;
    if (nh <= 0)
        return;
#ifdef LLM_X86
    if (lanes && (i1 - i0) * nh >= LLM_ATT_LANES / 2) { /* fewer rows (a decoded token): one row at a time */
        attend_lanes(a, kvh, i0, i1, hq0, nh, kbuf, vbuf, l + LLM_ATT_ROWS);
        return;
    }
#endif
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

void llm_attention(const llm_attn_t *a)
{
    if (llm_attention_lanes < 0) {
        const char *e = getenv("LLM_ATT_LANES");
        llm_attention_lanes = e ? atoi(e) != 0 : 1;
    }
    /* The query heads of each KV head are consecutive: [hq0(k), hq1(k)). */
    int bq = LLM_ATT_ROWS / (a->group > 0 ? a->group : 1);
    bq = bq < 1 ? 1 : bq;
    const int nblk = (a->b + bq - 1) / bq, nwork = a->nkv * nblk;
    attn_work_t w = { .a = a, .bq = bq, .nblk = nblk };
#ifdef LLM_X86
    w.avx512 = llm_kernels_isa() == LLM_ISA_AVX512;
    w.lanes = w.avx512 && llm_attention_lanes;
#endif
    llm_team_dynamic(nwork, attention_item, &w);
}
