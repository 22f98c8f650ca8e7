/* Decode dots of several weight rows at once against the one activation
 * vector of a matrix-vector product (quantized once per matvec): AVX-512 VNNI
 * rows of Q8_0 and Q4_0. The activation's loads, sums and scales are shared
 * by the rows; each row keeps its own accumulators in the same order, so a
 * row's float does not depend on the rows computed beside it. (The K-quants'
 * rows are with their other kernels, in llm_kquant.c.) */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "llm_kern.h"
#ifdef LLM_X86
#include <immintrin.h>

#define LLM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define LLM_INLINE static inline __attribute__((always_inline))

LLM_AVX512 LLM_INLINE __m512i load2x256(const void *a, const void *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

LLM_AVX512 LLM_INLINE float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Two fp16 scales as 16 floats: lanes 0-7 the first, 8-15 the second. */
LLM_AVX512 LLM_INLINE __m512 f16x2(uint16_t h0, uint16_t h1)
{
    return _mm512_cvtph_ps(_mm256_mask_blend_epi16(0xff00, _mm256_set1_epi16((short)h0), _mm256_set1_epi16((short)h1)));
}

/* ================================================================ Q8_0 */

/* Weights q signed, activations x signed: dpbusd wants one unsigned operand,
 * so x + 128 (shared by the rows) times q, less 128 sum q. */
LLM_AVX512 LLM_INLINE void rows_q8_0(const char *w, size_t rb, const int R, const llm_block_q8x_t *xq, int64_t n, float *y)
{
    const int64_t nb = n / LLM_QK;
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    __m512 acc[LLM_ROWS_MAX];
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const __m512i xu = _mm512_xor_si512(load2x256(xq[i].qs, xq[i + 1].qs), flip);
        const __m512 dx = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(xq[i].d), _mm512_set1_ps(xq[i + 1].d));
        for (int r = 0; r < R; r++) {
            const llm_block_q8_0_t *b = (const llm_block_q8_0_t *)(const void *)(w + (size_t)r * rb) + i;
            if (llm_rows_prefetch) { /* the two lines of the 68 bytes */
                _mm_prefetch((const char *)b + llm_rows_prefetch, _MM_HINT_T0);
                _mm_prefetch((const char *)b + llm_rows_prefetch + 64, _MM_HINT_T0);
            }
            const __m512i q = load2x256(b[0].qs, b[1].qs);
            const __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(zero, xu, q), _mm512_dpbusd_epi32(zero, flip, q));
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dx, f16x2(b[0].d, b[1].d)), _mm512_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float s = _mm512_reduce_add_ps(acc[r]);
        if (i < nb) {
            const llm_block_q8_0_t *b = (const llm_block_q8_0_t *)(const void *)(w + (size_t)r * rb) + i;
            const __m256i f = _mm256_set1_epi8((char)0x80), z = _mm256_setzero_si256();
            const __m256i xu = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)xq[i].qs), f);
            const __m256i q = _mm256_loadu_si256((const __m256i *)b->qs);
            const __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(z, xu, q), _mm256_dpbusd_epi32(z, f, q));
            s += _cvtsh_ss(b->d) * xq[i].d * hsum256(_mm256_cvtepi32_ps(p));
        }
        y[r] = s;
    }
}

/* ================================================================ Q4_0 */

/* Four blocks a step: their 16-byte halves side by side in one register, the
 * low nibbles (elements 0-15 of each block) and the high (16-31) against the
 * activations rearranged to match (shared by the rows). The levels are
 * unsigned, q + 8: the offset comes off as 8 sum x, also shared. */
LLM_AVX512 LLM_INLINE void rows_q4_0(const char *w, size_t rb, const int R, const llm_block_q8x_t *xq, int64_t n, float *y)
{
    static const int64_t lo_idx[8] = { 0, 1, 4, 5, 8, 9, 12, 13 }, hi_idx[8] = { 2, 3, 6, 7, 10, 11, 14, 15 };
    static const int32_t quarter[16] = { 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3 };
    const __m512i ilo = _mm512_loadu_si512((const void *)lo_idx), ihi = _mm512_loadu_si512((const void *)hi_idx);
    const __m512i iq = _mm512_loadu_si512((const void *)quarter);
    const __m512i m4 = _mm512_set1_epi8(15), eight = _mm512_set1_epi8(8), zero = _mm512_setzero_si512();
    const int64_t nb = n / LLM_QK;
    __m512 acc[LLM_ROWS_MAX];
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m512i a = load2x256(xq[i].qs, xq[i + 1].qs), c = load2x256(xq[i + 2].qs, xq[i + 3].qs);
        const __m512i xlo = _mm512_permutex2var_epi64(a, ilo, c), xhi = _mm512_permutex2var_epi64(a, ihi, c);
        const __m512i cx = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, eight, xlo), eight, xhi);
        const __m512 dx = _mm512_permutexvar_ps(iq, _mm512_castps128_ps512(_mm_set_ps(xq[i + 3].d, xq[i + 2].d, xq[i + 1].d, xq[i].d)));
        for (int r = 0; r < R; r++) {
            const llm_block_q4_0_t *b = (const llm_block_q4_0_t *)(const void *)(w + (size_t)r * rb) + i;
            if (llm_rows_prefetch) { /* the two lines of the 72 bytes */
                _mm_prefetch((const char *)b + llm_rows_prefetch, _MM_HINT_T0);
                _mm_prefetch((const char *)b + llm_rows_prefetch + 64, _MM_HINT_T0);
            }
            __m512i q = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)b[0].qs));
            q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)b[1].qs), 1);
            q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)b[2].qs), 2);
            q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)b[3].qs), 3);
            const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            const __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, lo, xlo), hi, xhi), cx);
            const uint64_t h = (uint64_t)b[0].d | (uint64_t)b[1].d << 16 | (uint64_t)b[2].d << 32 | (uint64_t)b[3].d << 48;
            const __m512 dw = _mm512_permutexvar_ps(iq, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)h))));
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(p), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        float s = _mm512_reduce_add_ps(acc[r]);
        for (int64_t k = i; k < nb; k++) {
            const llm_block_q4_0_t *b = (const llm_block_q4_0_t *)(const void *)(w + (size_t)r * rb) + k;
            const __m128i t = _mm_loadu_si128((const __m128i *)b->qs);
            const __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(15));
            const __m256i x = _mm256_loadu_si256((const __m256i *)xq[k].qs), z = _mm256_setzero_si256();
            const __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(z, u, x), _mm256_dpbusd_epi32(z, _mm256_set1_epi8(8), x));
            s += _cvtsh_ss(b->d) * xq[k].d * hsum256(_mm256_cvtepi32_ps(p));
        }
        y[r] = s;
    }
}

/* ================================================================ the table */

/* One function per row count, so that the compiler unrolls over the rows. */
#define ROWS_FN(name, impl) \
    LLM_AVX512 static void name(const void *rows, size_t rb, int nr, const llm_block_q8x_t *xq, int64_t n, float *y) \
    { \
        const char *w = rows; \
        switch (nr) { \
        case 4: impl(w, rb, 4, xq, n, y); break; \
        case 3: impl(w, rb, 3, xq, n, y); break; \
        case 2: impl(w, rb, 2, xq, n, y); break; \
        default: impl(w, rb, 1, xq, n, y); break; \
        } \
    }
ROWS_FN(dotrows_q8_0_avx512, rows_q8_0)
ROWS_FN(dotrows_q4_0_avx512, rows_q4_0)

/* One row a call: rows interleaved two or four at a time measured 1.5 to 2
 * times slower in decoding on this machine (several read streams where one
 * row after the other is one), so the matvec walks the rows one by one and
 * the gain is the kernels' (four Q4_0 blocks a step, the Q8_0 sign by offset). */
const llm_rows_entry_t llm_dotrows_avx512[] = {
    { LLM_Q8_0, dotrows_q8_0_avx512, 1 }, { LLM_Q4_0, dotrows_q4_0_avx512, 1 }, { -1, NULL, 0 },
};
#endif /* LLM_X86 */
