/* Dot products of the K-quants (Q2_K..Q6_K, against Q8_K activations) and of
 * the legacy types with minimums or fifth bits (Q4_1, Q5_0, Q5_1, against
 * q8x activations): a portable C row built on llm_block_decode, and AVX2 and
 * AVX-512 rows. The SIMD rows treat every weight as an unsigned level u
 * (maddubs / dpbusd want one unsigned operand) and fold the offset of the
 * signed types, like the minimums, into the activations' block sums. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <string.h>
#include "llm_kern.h"
#ifdef LLM_X86
#include <immintrin.h>
#endif

/* ================================================================ portable C */

static float dot_kq_c(int type, const void *row, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q8_K_t *y = (const void *)xq;
    const size_t bb = llm_type_block_bytes(type);
    int8_t q[LLM_QK_K];
    int16_t sc[16], mn[16];
    float d, dmin, total = 0;
    for (int64_t i = 0; i < n / LLM_QK_K; i++) {
        llm_block_decode(type, (const char *)row + (size_t)i * bb, q, sc, mn, &d, &dmin);
        int isum = 0, msum = 0;
        for (int k = 0; k < 16; k++) {
            int s = 0;
            for (int e = 16 * k; e < 16 * k + 16; e++)
                s += q[e] * y[i].qs[e];
            isum += sc[k] * s;
            msum += mn[k] * y[i].bsums[k];
        }
        total += y[i].d * (d * (float)isum - dmin * (float)msum);
    }
    return total;
}

static float dot_legacy_c(int type, const void *row, const llm_block_q8x_t *xq, int64_t n)
{
    const size_t bb = llm_type_block_bytes(type);
    int8_t q[LLM_QK];
    int16_t sc[2], mn[2];
    float d, dmin, total = 0;
    for (int64_t i = 0; i < n / LLM_QK; i++) {
        llm_block_decode(type, (const char *)row + (size_t)i * bb, q, sc, mn, &d, &dmin);
        int isum = 0;
        for (int e = 0; e < LLM_QK; e++)
            isum += q[e] * xq[i].qs[e];
        total += xq[i].d * (d * (float)isum - dmin * (float)(xq[i].s[0] + xq[i].s[1]));
    }
    return total;
}

#define C_ROW(T, impl) \
    static float dot_##T##_c(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n) \
    { (void)x; return impl(LLM_##T, row, xq, n); }
C_ROW(Q4_1, dot_legacy_c)
C_ROW(Q5_0, dot_legacy_c)
C_ROW(Q5_1, dot_legacy_c)
C_ROW(Q2_K, dot_kq_c)
C_ROW(Q3_K, dot_kq_c)
C_ROW(Q4_K, dot_kq_c)
C_ROW(Q5_K, dot_kq_c)
C_ROW(Q6_K, dot_kq_c)

const llm_dot_entry_t llm_kquant_c[] = {
    { LLM_Q4_1, dot_Q4_1_c }, { LLM_Q5_0, dot_Q5_0_c }, { LLM_Q5_1, dot_Q5_1_c },
    { LLM_Q2_K, dot_Q2_K_c }, { LLM_Q3_K, dot_Q3_K_c }, { LLM_Q4_K, dot_Q4_K_c },
    { LLM_Q5_K, dot_Q5_K_c }, { LLM_Q6_K, dot_Q6_K_c }, { -1, NULL },
};

#ifdef LLM_X86
/* ================================================================ scales, shared by the SIMD rows */

/* Q4_K / Q5_K: the 8 six-bit scales and the 8 minimums as bytes. */
static inline void k4_scale_bytes(const uint8_t *b, uint32_t s[4])
{
    uint32_t w0, w1, w2;
    memcpy(&w0, b, 4);
    memcpy(&w1, b + 4, 4);
    memcpy(&w2, b + 8, 4);
    s[0] = w0 & 0x3f3f3f3fu;
    s[1] = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
    s[2] = w1 & 0x3f3f3f3fu;
    s[3] = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
}

/* Q3_K: the 16 scales, minus 32. */
static inline void k3_scales(const uint8_t *s, int16_t sc[16])
{
    for (int i = 0; i < 4; i++) {
        sc[i] = (int16_t)(((s[i] & 15) | ((s[i + 8] & 3) << 4)) - 32);
        sc[i + 4] = (int16_t)(((s[i + 4] & 15) | (((s[i + 8] >> 2) & 3) << 4)) - 32);
        sc[i + 8] = (int16_t)(((s[i] >> 4) | (((s[i + 8] >> 4) & 3) << 4)) - 32);
        sc[i + 12] = (int16_t)(((s[i + 4] >> 4) | (((s[i + 8] >> 6) & 3) << 4)) - 32);
    }
}

/* ================================================================ AVX2 */

#define LLM_AVX2 __attribute__((target("avx2,fma,f16c")))

LLM_AVX2 static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Per-16 scales (16 int16) of a super-block, ready for chunk c of 32:
 * the low 128 bits scale elements 32c..32c+15 with sc[2c], the high with sc[2c+1]. */
typedef struct { __m256i lo8, hi8; } k_scales_avx2_t;

LLM_AVX2 static inline k_scales_avx2_t k_scales_avx2(__m256i sc16)
{
    k_scales_avx2_t s;
    s.lo8 = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sc16));   /* sc[0..7] in both halves */
    s.hi8 = _mm256_broadcastsi128_si256(_mm256_extracti128_si256(sc16, 1)); /* sc[8..15] */
    return s;
}

LLM_AVX2 static inline __m256i k_scale_chunk_avx2(const k_scales_avx2_t *s, int c)
{
    int k = c & 3; /* int16 lanes 2k (low half) and 2k + 1 (high half) of lo8 or hi8 */
    __m256i idx = _mm256_set_m128i(_mm_set1_epi16((short)(((4 * k + 3) << 8) | (4 * k + 2))),
                                   _mm_set1_epi16((short)(((4 * k + 1) << 8) | (4 * k))));
    return _mm256_shuffle_epi8(c < 4 ? s->lo8 : s->hi8, idx);
}

/* 8 bytes (each scale or minimum of a 32-element sub-block) as 16 int16, each twice. */
LLM_AVX2 static inline __m256i k_twice_avx2(uint32_t a, uint32_t b)
{
    __m128i v = _mm_set_epi32(0, 0, (int)b, (int)a);
    return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));
}

/* Levels u of the 8 chunks of 32 of one super-block, per type. */
LLM_AVX2 static inline void k_levels_avx2(int type, const void *blk, __m256i u[8])
{
    const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), m30 = _mm256_set1_epi8(0x30);
    switch (type) {
    case LLM_Q2_K: case LLM_Q3_K: {
        const uint8_t *qs = type == LLM_Q2_K ? ((const llm_block_q2_K_t *)blk)->qs : ((const llm_block_q3_K_t *)blk)->qs;
        __m256i h = type == LLM_Q3_K ? _mm256_loadu_si256((const __m256i *)((const llm_block_q3_K_t *)blk)->hmask) : _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int n = 0; n < 2; n++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * n));
#pragma GCC unroll 8
            for (int j = 0; j < 4; j++, q = _mm256_srli_epi16(q, 2), h = _mm256_srli_epi16(h, 1))
                u[4 * n + j] = _mm256_or_si256(_mm256_and_si256(q, m3), _mm256_slli_epi16(_mm256_and_si256(h, one), 2));
        }
        break;
    }
    case LLM_Q4_K: case LLM_Q5_K: {
        const int five = type == LLM_Q5_K;
        const uint8_t *qs = five ? ((const llm_block_q5_K_t *)blk)->qs : ((const llm_block_q4_K_t *)blk)->qs;
        __m256i h = five ? _mm256_loadu_si256((const __m256i *)((const llm_block_q5_K_t *)blk)->qh) : _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 4; g++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
            u[2 * g] = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
            h = _mm256_srli_epi16(h, 1);
            u[2 * g + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
            h = _mm256_srli_epi16(h, 1);
        }
        break;
    }
    case LLM_Q6_K: {
        const llm_block_q6_K_t *b = blk;
#pragma GCC unroll 8
        for (int n = 0; n < 2; n++) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * n));
            __m256i c = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * n + 32));
            __m256i h = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * n));
            u[4 * n + 0] = _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30));
            u[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(c, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30));
            u[4 * n + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), _mm256_and_si256(h, m30));
            u[4 * n + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), m4), _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
        }
        break;
    }
    }
}

/* Per super-block: sc16 (per-16 scales), mn16 (per-16 minimums), the offset
 * of the levels, d and dmin. */
LLM_AVX2 static inline void k_params_avx2(int type, const void *blk, __m256i *sc16, __m256i *mn16, int *off, float *d, float *dmin)
{
    *mn16 = _mm256_setzero_si256();
    *off = 0;
    *dmin = 0;
    switch (type) {
    case LLM_Q2_K: {
        const llm_block_q2_K_t *b = blk;
        __m128i s = _mm_loadu_si128((const __m128i *)b->scales);
        *sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(s, _mm_set1_epi8(15)));
        *mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(15)));
        *d = _cvtsh_ss(b->d);
        *dmin = _cvtsh_ss(b->dmin);
        break;
    }
    case LLM_Q3_K: {
        const llm_block_q3_K_t *b = blk;
        int16_t sc[16];
        k3_scales(b->scales, sc);
        *sc16 = _mm256_loadu_si256((const __m256i *)sc);
        *off = 4;
        *d = _cvtsh_ss(b->d);
        break;
    }
    case LLM_Q4_K: case LLM_Q5_K: {
        const llm_block_q4_K_t *b4 = blk;
        const llm_block_q5_K_t *b5 = blk;
        uint32_t s[4];
        k4_scale_bytes(type == LLM_Q4_K ? b4->scales : b5->scales, s);
        *sc16 = k_twice_avx2(s[0], s[1]);
        *mn16 = k_twice_avx2(s[2], s[3]);
        *d = _cvtsh_ss(type == LLM_Q4_K ? b4->d : b5->d);
        *dmin = _cvtsh_ss(type == LLM_Q4_K ? b4->dmin : b5->dmin);
        break;
    }
    case LLM_Q6_K: {
        const llm_block_q6_K_t *b = blk;
        *sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
        *off = 32;
        *d = _cvtsh_ss(b->d);
        break;
    }
    }
}

/* sum_e x[e] = d dx (sum_k sc_k sum u x - off sum_k sc_k bsum_k) - dmin dx sum_k mn_k bsum_k */
LLM_AVX2 static inline __attribute__((always_inline)) float dot_kq_avx2(int type, const void *row, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q8_K_t *y = (const void *)xq;
    const size_t bb = llm_type_block_bytes(type);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LLM_QK_K; i++) {
        const void *blk = (const char *)row + (size_t)i * bb;
        __m256i sc16, mn16, u[8];
        int off;
        float d, dmin;
        k_params_avx2(type, blk, &sc16, &mn16, &off, &d, &dmin);
        k_levels_avx2(type, blk, u);
        k_scales_avx2_t s = k_scales_avx2(sc16);
        __m256i bs = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            __m256i p = _mm256_maddubs_epi16(u[c], _mm256_loadu_si256((const __m256i *)(y[i].qs + 32 * c)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, k_scale_chunk_avx2(&s, c)));
        }
        if (off)
            isum = _mm256_sub_epi32(isum, _mm256_mullo_epi32(_mm256_madd_epi16(sc16, bs), _mm256_set1_epi32(off)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * y[i].d), _mm256_cvtepi32_ps(isum), acc);
        if (dmin != 0)
            accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin * y[i].d), _mm256_cvtepi32_ps(_mm256_madd_epi16(mn16, bs)), accm);
    }
    return hsum_ps(_mm256_sub_ps(acc, accm));
}

/* The 32 fifth bits of a Q5 block as bytes 0 / 16. */
LLM_AVX2 static inline __m256i fifth_bits_avx2(const uint8_t *qh)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    const __m256i pick = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll, 0x0101010101010101ll, 0);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), pick);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(16));
}

/* Levels of a legacy block in element order; sets d and the per-sum
 * coefficient c (x = d u + c, so sum = dx (d sum u q + c sum q)). */
LLM_AVX2 static inline __m256i legacy_levels_avx2(int type, const void *blk, float *d, float *c)
{
    const uint8_t *qs;
    __m256i h = _mm256_setzero_si256();
    switch (type) {
    case LLM_Q4_1: { const llm_block_q4_1_t *b = blk; qs = b->qs; *d = _cvtsh_ss(b->d); *c = _cvtsh_ss(b->m); break; }
    case LLM_Q5_0: { const llm_block_q5_0_t *b = blk; qs = b->qs; *d = _cvtsh_ss(b->d); *c = -16.0f * *d; h = fifth_bits_avx2(b->qh); break; }
    default: { const llm_block_q5_1_t *b = blk; qs = b->qs; *d = _cvtsh_ss(b->d); *c = _cvtsh_ss(b->m); h = fifth_bits_avx2(b->qh); break; }
    }
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(15));
    return _mm256_or_si256(q, h);
}

LLM_AVX2 static inline __attribute__((always_inline)) float dot_legacy_avx2(int type, const void *row, const llm_block_q8x_t *xq, int64_t n)
{
    const size_t bb = llm_type_block_bytes(type);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    float extra = 0;
    for (int64_t i = 0; i < n / LLM_QK; i++) {
        float d, c;
        __m256i u = legacy_levels_avx2(type, (const char *)row + (size_t)i * bb, &d, &c);
        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)xq[i].qs)), ones);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * xq[i].d), _mm256_cvtepi32_ps(p), acc);
        extra += c * xq[i].d * (float)(xq[i].s[0] + xq[i].s[1]);
    }
    return hsum_ps(acc) + extra;
}

#define X_ROW(T, impl, isa, attr) \
    attr static float dot_##T##_##isa(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n) \
    { (void)x; return impl(LLM_##T, row, xq, n); }
X_ROW(Q4_1, dot_legacy_avx2, avx2, LLM_AVX2)
X_ROW(Q5_0, dot_legacy_avx2, avx2, LLM_AVX2)
X_ROW(Q5_1, dot_legacy_avx2, avx2, LLM_AVX2)
X_ROW(Q2_K, dot_kq_avx2, avx2, LLM_AVX2)
X_ROW(Q3_K, dot_kq_avx2, avx2, LLM_AVX2)
X_ROW(Q4_K, dot_kq_avx2, avx2, LLM_AVX2)
X_ROW(Q5_K, dot_kq_avx2, avx2, LLM_AVX2)
X_ROW(Q6_K, dot_kq_avx2, avx2, LLM_AVX2)

const llm_dot_entry_t llm_kquant_avx2[] = {
    { LLM_Q4_1, dot_Q4_1_avx2 }, { LLM_Q5_0, dot_Q5_0_avx2 }, { LLM_Q5_1, dot_Q5_1_avx2 },
    { LLM_Q2_K, dot_Q2_K_avx2 }, { LLM_Q3_K, dot_Q3_K_avx2 }, { LLM_Q4_K, dot_Q4_K_avx2 },
    { LLM_Q5_K, dot_Q5_K_avx2 }, { LLM_Q6_K, dot_Q6_K_avx2 }, { -1, NULL },
};

/* ================================================================ AVX-512 */

#define LLM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Levels of pair p of chunks (elements 64p..64p+63) of a super-block. */
LLM_AVX512 static inline void k_levels_avx512(int type, const void *blk, __m512i u[4])
{
    const __m512i m4 = _mm512_set1_epi8(15), m30 = _mm512_set1_epi8(0x30);
    switch (type) {
    case LLM_Q4_K: {
        const llm_block_q4_K_t *b = blk;
#pragma GCC unroll 8
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * p));
            u[p] = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1), m4);
        }
        break;
    }
    case LLM_Q6_K: {
        const llm_block_q6_K_t *b = blk;
        const __m512i sh01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
        const __m512i sh23 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
#pragma GCC unroll 8
        for (int n = 0; n < 2; n++) {
            __m512i ab = _mm512_loadu_si512((const void *)(b->ql + 64 * n));
            __m512i hh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * n)));
            u[2 * n] = _mm512_or_si512(_mm512_and_si512(ab, m4), _mm512_and_si512(_mm512_sllv_epi16(hh, sh01), m30));
            u[2 * n + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ab, 4), m4),
                                           _mm512_and_si512(_mm512_srlv_epi16(hh, sh23), m30));
        }
        break;
    }
    default: {
        __m256i v[8];
        k_levels_avx2(type, blk, v);
#pragma GCC unroll 8
        for (int p = 0; p < 4; p++)
            u[p] = _mm512_inserti64x4(_mm512_castsi256_si512(v[2 * p]), v[2 * p + 1], 1);
        break;
    }
    }
}

LLM_AVX512 static inline __attribute__((always_inline)) float dot_kq_avx512(int type, const void *row, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q8_K_t *y = (const void *)xq;
    const size_t bb = llm_type_block_bytes(type);
    /* k_pair_idx[p]: int16 lane i of pair p takes scale 4p + i / 8 */
    static const int16_t k_pair_idx[4][32] = {
        { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3 },
        { 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7 },
        { 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11 },
        { 12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13, 14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15 },
    };
    __m512i idx[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++)
        idx[p] = _mm512_loadu_si512((const void *)k_pair_idx[p]);
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LLM_QK_K; i++) {
        const void *blk = (const char *)row + (size_t)i * bb;
        __m256i sc16, mn16;
        __m512i u[4];
        int off;
        float d, dmin;
        k_params_avx2(type, blk, &sc16, &mn16, &off, &d, &dmin);
        k_levels_avx512(type, blk, u);
        __m512i sc = _mm512_castsi256_si512(sc16), isum = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int p = 0; p < 4; p++) {
            __m512i pr = _mm512_maddubs_epi16(u[p], _mm512_loadu_si512((const void *)(y[i].qs + 64 * p)));
            isum = _mm512_dpwssd_epi32(isum, pr, _mm512_permutexvar_epi16(idx[p], sc));
        }
        __m256i bs = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        if (off)
            isum = _mm512_sub_epi32(isum, _mm512_castsi256_si512(_mm256_mullo_epi32(_mm256_madd_epi16(sc16, bs), _mm256_set1_epi32(off))));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d * y[i].d), _mm512_cvtepi32_ps(isum), acc);
        if (dmin != 0)
            accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin * y[i].d), _mm256_cvtepi32_ps(_mm256_madd_epi16(mn16, bs)), accm);
    }
    return _mm512_reduce_add_ps(acc) - hsum_ps(accm);
}

LLM_AVX512 static inline __attribute__((always_inline)) float dot_legacy_avx512(int type, const void *row, const llm_block_q8x_t *xq, int64_t n)
{
    const size_t bb = llm_type_block_bytes(type);
    const int64_t nb = n / LLM_QK;
    __m512 acc = _mm512_setzero_ps();
    float extra = 0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        float d0, c0, d1, c1;
        __m256i u0 = legacy_levels_avx2(type, (const char *)row + (size_t)i * bb, &d0, &c0);
        __m256i u1 = legacy_levels_avx2(type, (const char *)row + (size_t)(i + 1) * bb, &d1, &c1);
        __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)xq[i].qs)),
                                       _mm256_loadu_si256((const __m256i *)xq[i + 1].qs), 1);
        __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_inserti64x4(_mm512_castsi256_si512(u0), u1, 1), x);
        __m512 s = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(d0 * xq[i].d), _mm512_set1_ps(d1 * xq[i + 1].d));
        acc = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(p), acc);
        extra += c0 * xq[i].d * (float)(xq[i].s[0] + xq[i].s[1]) + c1 * xq[i + 1].d * (float)(xq[i + 1].s[0] + xq[i + 1].s[1]);
    }
    float total = _mm512_reduce_add_ps(acc) + extra;
    if (i < nb)
        total += dot_legacy_avx2(type, (const char *)row + (size_t)i * bb, xq + i, LLM_QK);
    return total;
}

/* The same sums for nr rows at once (the decode matvec): the activations'
 * levels and block sums loaded once for the rows, every row's floats in the
 * order of dot_kq_avx512. */
LLM_AVX512 static inline __attribute__((always_inline)) void rows_kq_avx512(int type, const char *w, size_t rb, const int R,
                                                                            const llm_block_q8x_t *xq, int64_t n, float *out)
{
    const llm_block_q8_K_t *y = (const void *)xq;
    const size_t bb = llm_type_block_bytes(type);
    static const int16_t k_pair_idx[4][32] = {
        { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3 },
        { 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7 },
        { 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11 },
        { 12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13, 14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15 },
    };
    __m512i idx[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++)
        idx[p] = _mm512_loadu_si512((const void *)k_pair_idx[p]);
    __m512 acc[LLM_ROWS_MAX];
    __m256 accm[LLM_ROWS_MAX];
    for (int r = 0; r < R; r++) {
        acc[r] = _mm512_setzero_ps();
        accm[r] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < n / LLM_QK_K; i++) {
        __m512i yq[4];
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++)
            yq[p] = _mm512_loadu_si512((const void *)(y[i].qs + 64 * p));
        const __m256i bs = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        for (int r = 0; r < R; r++) {
            const void *blk = w + (size_t)r * rb + (size_t)i * bb;
            if (llm_rows_prefetch) { /* every line of the block (144 to 210 bytes) */
                const char *ahead = (const char *)blk + llm_rows_prefetch;
                _mm_prefetch(ahead, _MM_HINT_T0);
                _mm_prefetch(ahead + 64, _MM_HINT_T0);
                _mm_prefetch(ahead + 128, _MM_HINT_T0);
                if (bb > 192)
                    _mm_prefetch(ahead + 192, _MM_HINT_T0);
            }
            __m256i sc16, mn16;
            __m512i u[4];
            int off;
            float d, dmin;
            k_params_avx2(type, blk, &sc16, &mn16, &off, &d, &dmin);
            k_levels_avx512(type, blk, u);
            __m512i sc = _mm512_castsi256_si512(sc16), isum = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int p = 0; p < 4; p++)
                isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(u[p], yq[p]), _mm512_permutexvar_epi16(idx[p], sc));
            if (off)
                isum = _mm512_sub_epi32(isum, _mm512_castsi256_si512(_mm256_mullo_epi32(_mm256_madd_epi16(sc16, bs), _mm256_set1_epi32(off))));
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(d * y[i].d), _mm512_cvtepi32_ps(isum), acc[r]);
            if (dmin != 0)
                accm[r] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * y[i].d), _mm256_cvtepi32_ps(_mm256_madd_epi16(mn16, bs)), accm[r]);
        }
    }
    for (int r = 0; r < R; r++)
        out[r] = _mm512_reduce_add_ps(acc[r]) - hsum_ps(accm[r]);
}

/* One function per type and row count, so that the compiler unrolls over the rows. */
#define KROWS(T) \
    LLM_AVX512 static void rows_##T##_avx512(const void *rows, size_t rb, int nr, const llm_block_q8x_t *xq, int64_t n, float *y) \
    { \
        switch (nr) { \
        case 4: rows_kq_avx512(LLM_##T, rows, rb, 4, xq, n, y); break; \
        case 3: rows_kq_avx512(LLM_##T, rows, rb, 3, xq, n, y); break; \
        case 2: rows_kq_avx512(LLM_##T, rows, rb, 2, xq, n, y); break; \
        default: rows_kq_avx512(LLM_##T, rows, rb, 1, xq, n, y); break; \
        } \
    }
KROWS(Q2_K)
KROWS(Q3_K)
KROWS(Q5_K)
KROWS(Q6_K)

/* Q4_K rows one after the other, any number a call: the activations are
 * rearranged once per call (a thread's whole share of the matvec) to the
 * order of the weights' bytes, so that a super-block's levels are two 64-byte
 * loads, two shifts and four masks, with no lane inserts: register L0 holds
 * the low nibbles of bytes 0-63 (sub-blocks 0 and 2), H0 their high nibbles
 * (1 and 3), L1 and H1 those of bytes 64-127 (4, 6 and 5, 7). The integer
 * sums per super-block are those of dot_kq_avx512 (exact, in other lanes);
 * a row's float does not depend on the rows beside it or on nr. */
#define Q4K_ROWS_MAX_COLS 65536
LLM_AVX512 static void rows_q4_K_avx512(const void *rows, size_t rb, int nr, const llm_block_q8x_t *xq, int64_t n, float *out)
{
    static __thread int8_t yr[Q4K_ROWS_MAX_COLS] __attribute__((aligned(64)));
    if (n > Q4K_ROWS_MAX_COLS) {
        for (int r = 0; r < nr; r++)
            rows_kq_avx512(LLM_Q4_K, (const char *)rows + (size_t)r * rb, rb, 1, xq, n, out + r);
        return;
    }
    const llm_block_q8_K_t *y = (const void *)xq;
    const int64_t nb = n / LLM_QK_K;
    /* per super-block: elements of sub-blocks 0,2 | 1,3 | 4,6 | 5,7 (32 each) */
    for (int64_t i = 0; i < nb; i++) {
        const int8_t *src = y[i].qs;
        int8_t *dst = yr + 256 * i;
        static const int order[8] = { 0, 2, 1, 3, 4, 6, 5, 7 };
        for (int k = 0; k < 8; k++)
            _mm256_store_si256((__m256i *)(dst + 32 * k), _mm256_loadu_si256((const __m256i *)(src + 32 * order[k])));
    }
    /* int16 lane i of register p takes sc16 entry (sub-block j's scale is at 2j and 2j + 1) */
    static const int16_t k_idx[4][32] = {
        { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4 },
        { 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6 },
        { 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12 },
        { 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14 },
    };
    __m512i idx[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++)
        idx[p] = _mm512_loadu_si512((const void *)k_idx[p]);
    const __m512i m4 = _mm512_set1_epi8(15);
    for (int r = 0; r < nr; r++) {
        const char *w = (const char *)rows + (size_t)r * rb;
        __m512 acc = _mm512_setzero_ps();
        __m256 accm = _mm256_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            const llm_block_q4_K_t *b = (const llm_block_q4_K_t *)(const void *)w + i;
            if (llm_rows_prefetch) {
                const char *ahead = (const char *)b + llm_rows_prefetch;
                _mm_prefetch(ahead, _MM_HINT_T0);
                _mm_prefetch(ahead + 64, _MM_HINT_T0);
                _mm_prefetch(ahead + 128, _MM_HINT_T0);
            }
            __m256i sc16, mn16;
            int off;
            float d, dmin;
            k_params_avx2(LLM_Q4_K, b, &sc16, &mn16, &off, &d, &dmin);
            const __m512i q0 = _mm512_loadu_si512((const void *)b->qs), q1 = _mm512_loadu_si512((const void *)(b->qs + 64));
            __m512i u[4];
            u[0] = _mm512_and_si512(q0, m4);
            u[1] = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4);
            u[2] = _mm512_and_si512(q1, m4);
            u[3] = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4);
            const __m512i sc = _mm512_castsi256_si512(sc16);
            const int8_t *yi = yr + 256 * i;
            __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int p = 0; p < 4; p++)
                isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(u[p], _mm512_load_si512((const void *)(yi + 64 * p))),
                                           _mm512_permutexvar_epi16(idx[p], sc));
            acc = _mm512_fmadd_ps(_mm512_set1_ps(d * y[i].d), _mm512_cvtepi32_ps(isum), acc);
            if (dmin != 0) {
                const __m256i bs = _mm256_loadu_si256((const __m256i *)y[i].bsums);
                accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin * y[i].d), _mm256_cvtepi32_ps(_mm256_madd_epi16(mn16, bs)), accm);
            }
        }
        out[r] = _mm512_reduce_add_ps(acc) - hsum_ps(accm);
    }
}

/* Made for 4 rows a call, but dispatched one (see llm_dotrows.c): several
 * interleaved rows decoded slower. Kept for the A/B (LLM_DOTROWS_NR), and checked. */
const llm_rows_entry_t llm_kquant_rows_avx512[] = {
    { LLM_Q2_K, rows_Q2_K_avx512, 1 }, { LLM_Q3_K, rows_Q3_K_avx512, 1 }, { LLM_Q4_K, rows_q4_K_avx512, 0 },
    { LLM_Q5_K, rows_Q5_K_avx512, 1 }, { LLM_Q6_K, rows_Q6_K_avx512, 1 }, { -1, NULL, 0 },
};

X_ROW(Q4_1, dot_legacy_avx512, avx512, LLM_AVX512)
X_ROW(Q5_0, dot_legacy_avx512, avx512, LLM_AVX512)
X_ROW(Q5_1, dot_legacy_avx512, avx512, LLM_AVX512)
X_ROW(Q2_K, dot_kq_avx512, avx512, LLM_AVX512)
X_ROW(Q3_K, dot_kq_avx512, avx512, LLM_AVX512)
X_ROW(Q4_K, dot_kq_avx512, avx512, LLM_AVX512)
X_ROW(Q5_K, dot_kq_avx512, avx512, LLM_AVX512)
X_ROW(Q6_K, dot_kq_avx512, avx512, LLM_AVX512)

const llm_dot_entry_t llm_kquant_avx512[] = {
    { LLM_Q4_1, dot_Q4_1_avx512 }, { LLM_Q5_0, dot_Q5_0_avx512 }, { LLM_Q5_1, dot_Q5_1_avx512 },
    { LLM_Q2_K, dot_Q2_K_avx512 }, { LLM_Q3_K, dot_Q3_K_avx512 }, { LLM_Q4_K, dot_Q4_K_avx512 },
    { LLM_Q5_K, dot_Q5_K_avx512 }, { LLM_Q6_K, dot_Q6_K_avx512 }, { -1, NULL },
};
#endif /* LLM_X86 */

/* ================================================================ activations, quantized for the dots */

/* llm_quantize_row_q8x and llm_quantize_row_q8_K in vectors, bit for bit:
 * the maximum is exact in any order, d and 1 / d are the same scalar
 * divisions, x * id the same products, rounded to nearest-even as lrintf is
 * in the default rounding mode, and each int32 cut to its low byte as the
 * portable (int8_t) cast does (levels are within +-127 for finite input).
 * The portable ones call lrintf through the PLT once an element. */
#ifdef LLM_X86
LLM_AVX512 void llm_quantize_q8x_avx512(const float *x, llm_block_q8x_t *b, int64_t n)
{
    for (int64_t i = 0; i < n / LLM_QK; i++, x += LLM_QK) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        const __m512 vid = _mm512_set1_ps(id);
        const __m128i q0 = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)));
        const __m128i q1 = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vid)));
        b[i].d = d;
        _mm_storeu_si128((__m128i *)b[i].qs, q0);
        _mm_storeu_si128((__m128i *)(b[i].qs + 16), q1);
        b[i].s[0] = (int16_t)_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(q0));
        b[i].s[1] = (int16_t)_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(q1));
    }
}

/* The sum of 16 signed bytes: sad of the bytes + 128 against zero, in two halves. */
LLM_AVX2 static inline int sum16_i8(__m128i q)
{
    const __m128i s = _mm_sad_epu8(_mm_xor_si128(q, _mm_set1_epi8((char)0x80)), _mm_setzero_si128());
    return _mm_cvtsi128_si32(s) + _mm_extract_epi16(s, 4) - 16 * 128;
}

LLM_AVX512 void llm_quantize_q8_K_avx512(const float *x, llm_block_q8_K_t *b, int64_t n)
{
    for (int64_t i = 0; i < n / LLM_QK_K; i++, x += LLM_QK_K) {
        __m512 m = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++)
            m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * k)), m);
        const float amax = _mm512_reduce_max_ps(m);
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        const __m512 vid = _mm512_set1_ps(id);
        b[i].d = d;
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) {
            const __m128i q = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * k), vid)));
            _mm_storeu_si128((__m128i *)(b[i].qs + 16 * k), q);
            b[i].bsums[k] = (int16_t)sum16_i8(q);
        }
    }
}

/* 16 int32 (each within a byte's range) to their low bytes, in order. */
LLM_AVX2 static inline __m128i low_bytes_avx2(__m256i a, __m256i b)
{
    const __m256i ff = _mm256_set1_epi32(0xff);
    __m256i w = _mm256_packus_epi32(_mm256_and_si256(a, ff), _mm256_and_si256(b, ff)); /* a0-3 b0-3 | a4-7 b4-7 */
    w = _mm256_permute4x64_epi64(w, 0xd8);                                              /* a0-7 | b0-7 */
    return _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

LLM_AVX2 static inline float hmax_ps(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

LLM_AVX2 void llm_quantize_q8x_avx2(const float *x, llm_block_q8x_t *b, int64_t n)
{
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / LLM_QK; i++, x += LLM_QK) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            m = _mm256_max_ps(_mm256_and_ps(v[k], sign), m);
        }
        const float amax = hmax_ps(m);
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        const __m256 vid = _mm256_set1_ps(id);
        b[i].d = d;
        for (int h = 0; h < 2; h++) {
            const __m128i q = low_bytes_avx2(_mm256_cvtps_epi32(_mm256_mul_ps(v[2 * h], vid)), _mm256_cvtps_epi32(_mm256_mul_ps(v[2 * h + 1], vid)));
            _mm_storeu_si128((__m128i *)(b[i].qs + 16 * h), q);
            b[i].s[h] = (int16_t)sum16_i8(q);
        }
    }
}

LLM_AVX2 void llm_quantize_q8_K_avx2(const float *x, llm_block_q8_K_t *b, int64_t n)
{
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / LLM_QK_K; i++, x += LLM_QK_K) {
        __m256 m0 = _mm256_setzero_ps(), m1 = m0;
        for (int k = 0; k < 32; k += 2) {
            m0 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + 8 * k), sign), m0);
            m1 = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + 8 * k + 8), sign), m1);
        }
        const float amax = hmax_ps(_mm256_max_ps(m0, m1));
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        const __m256 vid = _mm256_set1_ps(id);
        b[i].d = d;
        for (int k = 0; k < 16; k++) {
            const __m128i q = low_bytes_avx2(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * k), vid)),
                                             _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * k + 8), vid)));
            _mm_storeu_si128((__m128i *)(b[i].qs + 16 * k), q);
            b[i].bsums[k] = (int16_t)sum16_i8(q);
        }
    }
}
#endif

/* ================================================================ levels, for the GEMM's weight panels */

/* Element e of a block is ws[e / 16] * u[e] + wc[e / 16], u unsigned. The
 * portable form: u = q + 128 over llm_block_decode's integers. */
void llm_block_levels_c(int type, const void *blk, uint8_t *u, float *ws, float *wc)
{
    int8_t q[LLM_QK_K];
    int16_t sc[16], mn[16];
    float d, dmin;
    int ne = llm_block_decode(type, blk, q, sc, mn, &d, &dmin);
    for (int e = 0; e < ne; e++)
        u[e] = (uint8_t)(q[e] + 128);
    for (int k = 0; k < ne / 16; k++) {
        ws[k] = d * (float)sc[k];
        wc[k] = -128.0f * ws[k] - dmin * (float)mn[k];
    }
}

#ifdef LLM_X86
/* The same values from the SIMD level extraction: u is each type's own level. */
LLM_AVX2 void llm_block_levels_avx2(int type, const void *blk, uint8_t *u, float *ws, float *wc)
{
    switch (type) {
    case LLM_Q8_0: {
        const llm_block_q8_0_t *b = blk;
        __m256i q = _mm256_loadu_si256((const __m256i *)b->qs);
        _mm256_storeu_si256((__m256i *)u, _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
        ws[0] = ws[1] = _cvtsh_ss(b->d);
        wc[0] = wc[1] = -128.0f * ws[0];
        return;
    }
    case LLM_Q4_0: {
        const llm_block_q4_0_t *b = blk;
        __m128i t = _mm_loadu_si128((const __m128i *)b->qs);
        _mm256_storeu_si256((__m256i *)u, _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(15)));
        ws[0] = ws[1] = _cvtsh_ss(b->d);
        wc[0] = wc[1] = -8.0f * ws[0];
        return;
    }
    case LLM_Q4_1: case LLM_Q5_0: case LLM_Q5_1: {
        float d, c;
        _mm256_storeu_si256((__m256i *)u, legacy_levels_avx2(type, blk, &d, &c));
        ws[0] = ws[1] = d;
        wc[0] = wc[1] = c;
        return;
    }
    case LLM_Q2_K: case LLM_Q3_K: case LLM_Q4_K: case LLM_Q5_K: case LLM_Q6_K: {
        __m256i sc16, mn16, v[8];
        int off;
        float d, dmin;
        int16_t sc[16], mn[16];
        k_params_avx2(type, blk, &sc16, &mn16, &off, &d, &dmin);
        k_levels_avx2(type, blk, v);
        for (int c = 0; c < 8; c++)
            _mm256_storeu_si256((__m256i *)(u + 32 * c), v[c]);
        _mm256_storeu_si256((__m256i *)sc, sc16);
        _mm256_storeu_si256((__m256i *)mn, mn16);
        for (int k = 0; k < 16; k++) {
            ws[k] = d * (float)sc[k];
            wc[k] = -(float)off * ws[k] - dmin * (float)mn[k];
        }
        return;
    }
    default:
        llm_block_levels_c(type, blk, u, ws, wc);
    }
}
#endif
