/* Kernels: dot products of weight rows in every type with float (or
 * int8-quantized) activations, as a table per instruction set (portable C,
 * AVX2, AVX-512) chosen at run time; the matrix-vector product for decoding
 * and the panel-dequantizing sgemm for prompt processing. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "llm_kern.h"
#include "llm_team.h"
#include <stdatomic.h>
#ifdef LLM_X86
#include <immintrin.h>
#include <cpuid.h>
#endif

typedef void (*llm_deq_fn)(const void *row, float *y, int64_t n);

typedef struct {
    const char *name;
    llm_dot_fn f32, f16, bf16, q8_0, q4_0;
    llm_deq_fn deq_f16, deq_bf16, deq_q8_0, deq_q4_0; /* rows to float, for sgemm panels */
    uint64_t (*read_sum)(const uint64_t *buf, size_t n);
    void (*axpy)(float a, const float *x, float *y, int64_t n); /* y += a x, attention's weighted sum of values */
    void (*quant_q8x)(const float *x, llm_block_q8x_t *b, int64_t n);   /* the activations of the legacy dots */
    void (*quant_q8_K)(const float *x, llm_block_q8_K_t *b, int64_t n); /* ... and of the K-quant dots */
} llm_kernel_set_t;

const char *const llm_isa_names[] = { "auto", "c", "avx2", "avx512", NULL };

/* ================================================================ portable C */

static float llm_f16_table[65536]; /* fp16 -> fp32, filled by llm_kernels_select */

static float dot_f32_c(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const float *w = row;
    float s[8] = { 0 };
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += w[i + j] * x[i + j];
    for (; i < n; i++)
        s[0] += w[i] * x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot_f16_c(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const uint16_t *w = row;
    float s = 0;
    for (int64_t i = 0; i < n; i++)
        s += llm_f16_table[w[i]] * x[i];
    return s;
}

static float dot_bf16_c(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const uint16_t *w = row;
    float s = 0;
    for (int64_t i = 0; i < n; i++)
        s += llm_bf16_to_fp32(w[i]) * x[i];
    return s;
}

static float dot_q8_0_c(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q8_0_t *b = row;
    float s = 0;
    for (int64_t i = 0; i < n / LLM_QK; i++) {
        int sum = 0;
        for (int j = 0; j < LLM_QK; j++)
            sum += b[i].qs[j] * xq[i].qs[j];
        s += llm_f16_table[b[i].d] * xq[i].d * (float)sum;
    }
    return s;
}

static float dot_q4_0_c(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q4_0_t *b = row;
    float s = 0;
    for (int64_t i = 0; i < n / LLM_QK; i++) {
        int sum = 0;
        for (int j = 0; j < LLM_QK / 2; j++)
            sum += ((b[i].qs[j] & 0x0f) - 8) * xq[i].qs[j]
                 + ((b[i].qs[j] >> 4) - 8) * xq[i].qs[j + LLM_QK / 2];
        s += llm_f16_table[b[i].d] * xq[i].d * (float)sum;
    }
    return s;
}

static void deq_f16_c(const void *row, float *y, int64_t n)
{
    const uint16_t *w = row;
    for (int64_t i = 0; i < n; i++)
        y[i] = llm_f16_table[w[i]];
}
static void deq_bf16_c(const void *row, float *y, int64_t n) { llm_dequantize_row(LLM_BF16, row, y, n); }
static void deq_q8_0_c(const void *row, float *y, int64_t n) { llm_dequantize_row(LLM_Q8_0, row, y, n); }
static void deq_q4_0_c(const void *row, float *y, int64_t n) { llm_dequantize_row(LLM_Q4_0, row, y, n); }

static uint64_t read_sum_c(const uint64_t *buf, size_t n)
{
    uint64_t s[8] = { 0 };
    for (size_t i = 0; i < n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += buf[i + j];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static void axpy_c(float a, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static const llm_kernel_set_t llm_kernels_c = { "c", dot_f32_c, dot_f16_c, dot_bf16_c, dot_q8_0_c, dot_q4_0_c,
                                                deq_f16_c, deq_bf16_c, deq_q8_0_c, deq_q4_0_c, read_sum_c, axpy_c,
                                                llm_quantize_row_q8x, llm_quantize_row_q8_K };

#ifdef LLM_X86
/* ================================================================ AVX2 */

#define LLM_AVX2 __attribute__((target("avx2,fma,f16c")))

LLM_AVX2 static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

LLM_AVX2 static float dot_f32_avx2(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const float *w = row;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += w[i] * x[i];
    return s;
}

LLM_AVX2 static float dot_f16_avx2(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const uint16_t *w = row;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += llm_f16_table[w[i]] * x[i];
    return s;
}

LLM_AVX2 static inline __m256 bf16x8_avx2(const uint16_t *p)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

LLM_AVX2 static float dot_bf16_avx2(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const uint16_t *w = row;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(bf16x8_avx2(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(bf16x8_avx2(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += llm_bf16_to_fp32(w[i]) * x[i];
    return s;
}

/* Sum of products of 32 signed bytes, as 8 int32 lanes turned to float:
 * maddubs needs one unsigned operand, so move w's sign onto x. */
LLM_AVX2 static inline __m256 dot32_i8_avx2(__m256i w, __m256i x)
{
    __m256i aw = _mm256_sign_epi8(w, w);
    __m256i sx = _mm256_sign_epi8(x, w);
    __m256i p16 = _mm256_maddubs_epi16(aw, sx);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

LLM_AVX2 static float dot_q8_0_avx2(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q8_0_t *b = row;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LLM_QK; i++) {
        __m256 p = dot32_i8_avx2(_mm256_loadu_si256((const __m256i *)b[i].qs),
                                 _mm256_loadu_si256((const __m256i *)xq[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[i].d) * xq[i].d), p, acc);
    }
    return hsum256(acc);
}

LLM_AVX2 static inline __m256i q4_unpack_avx2(const uint8_t *qs)
{
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i q = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    q = _mm256_and_si256(q, _mm256_set1_epi8(0x0f));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(8));
}

LLM_AVX2 static float dot_q4_0_avx2(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q4_0_t *b = row;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / LLM_QK; i++) {
        __m256 p = dot32_i8_avx2(q4_unpack_avx2(b[i].qs), _mm256_loadu_si256((const __m256i *)xq[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b[i].d) * xq[i].d), p, acc);
    }
    return hsum256(acc);
}

LLM_AVX2 static void deq_f16_avx2(const void *row, float *y, int64_t n)
{
    const uint16_t *w = row;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))));
    for (; i < n; i++)
        y[i] = llm_f16_table[w[i]];
}

LLM_AVX2 static void deq_bf16_avx2(const void *row, float *y, int64_t n)
{
    const uint16_t *w = row;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, bf16x8_avx2(w + i));
    for (; i < n; i++)
        y[i] = llm_bf16_to_fp32(w[i]);
}

LLM_AVX2 static void deq_q8_0_avx2(const void *row, float *y, int64_t n)
{
    const llm_block_q8_0_t *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, y += LLM_QK) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
        for (int j = 0; j < LLM_QK; j += 8) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b[i].qs + j)));
            _mm256_storeu_ps(y + j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
        }
    }
}

LLM_AVX2 static void deq_q4_0_avx2(const void *row, float *y, int64_t n)
{
    const llm_block_q4_0_t *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, y += LLM_QK) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(b[i].d));
        __m256i q = q4_unpack_avx2(b[i].qs);
        int8_t t[32];
        _mm256_storeu_si256((__m256i *)t, q);
        for (int j = 0; j < LLM_QK; j += 8) {
            __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(t + j)));
            _mm256_storeu_ps(y + j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(v)));
        }
    }
}

LLM_AVX2 static uint64_t read_sum_avx2(const uint64_t *buf, size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(buf + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(buf + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(buf + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(buf + i + 12)));
    }
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
    return t[0] + t[1] + t[2] + t[3];
}

LLM_AVX2 static void axpy_avx2(float a, const float *x, float *y, int64_t n)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

static const llm_kernel_set_t llm_kernels_avx2 = { "avx2", dot_f32_avx2, dot_f16_avx2, dot_bf16_avx2, dot_q8_0_avx2, dot_q4_0_avx2,
                                                   deq_f16_avx2, deq_bf16_avx2, deq_q8_0_avx2, deq_q4_0_avx2, read_sum_avx2, axpy_avx2,
                                                   llm_quantize_q8x_avx2, llm_quantize_q8_K_avx2 };

/* ================================================================ AVX-512 */

#define LLM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

LLM_AVX512 static float dot_f32_avx512(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const float *w = row;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++)
        s += w[i] * x[i];
    return s;
}

LLM_AVX512 static float dot_f16_avx512(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const uint16_t *w = row;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i))), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i + 16))), _mm512_loadu_ps(x + i + 16), a1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++)
        s += llm_f16_table[w[i]] * x[i];
    return s;
}

LLM_AVX512 static inline __m512 bf16x16_avx512(const uint16_t *p)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

LLM_AVX512 static float dot_bf16_avx512(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const uint16_t *w = row;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(bf16x16_avx512(w + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(bf16x16_avx512(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++)
        s += llm_bf16_to_fp32(w[i]) * x[i];
    return s;
}

/* Two blocks per step: VNNI's dpbusd takes |w| unsigned and x with w's sign. */
LLM_AVX512 static inline __m512 dot64_i8_avx512(__m512i w, __m512i x)
{
    __mmask64 neg = _mm512_movepi8_mask(w);
    __m512i aw = _mm512_abs_epi8(w);
    __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sx));
}

LLM_AVX512 static inline __m512i load2x256(const void *a, const void *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

LLM_AVX512 static inline __m512 scale2(float s0, float s1)
{
    return _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(s0), _mm512_set1_ps(s1));
}

LLM_AVX512 static float dot_q8_0_avx512(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q8_0_t *b = row;
    int64_t nb = n / LLM_QK, i = 0;
    __m512 acc = _mm512_setzero_ps();
    for (; i + 2 <= nb; i += 2) {
        __m512 p = dot64_i8_avx512(load2x256(b[i].qs, b[i + 1].qs), load2x256(xq[i].qs, xq[i + 1].qs));
        acc = _mm512_fmadd_ps(scale2(_cvtsh_ss(b[i].d) * xq[i].d, _cvtsh_ss(b[i + 1].d) * xq[i + 1].d), p, acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    if (i < nb) {
        __m256 p = dot32_i8_avx2(_mm256_loadu_si256((const __m256i *)b[i].qs),
                                 _mm256_loadu_si256((const __m256i *)xq[i].qs));
        s += _cvtsh_ss(b[i].d) * xq[i].d * hsum256(p);
    }
    return s;
}

LLM_AVX512 static float dot_q4_0_avx512(const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    const llm_block_q4_0_t *b = row;
    int64_t nb = n / LLM_QK, i = 0;
    __m512 acc = _mm512_setzero_ps();
    for (; i + 2 <= nb; i += 2) {
        __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(q4_unpack_avx2(b[i].qs)), q4_unpack_avx2(b[i + 1].qs), 1);
        __m512 p = dot64_i8_avx512(w, load2x256(xq[i].qs, xq[i + 1].qs));
        acc = _mm512_fmadd_ps(scale2(_cvtsh_ss(b[i].d) * xq[i].d, _cvtsh_ss(b[i + 1].d) * xq[i + 1].d), p, acc);
    }
    float s = _mm512_reduce_add_ps(acc);
    if (i < nb) {
        __m256 p = dot32_i8_avx2(q4_unpack_avx2(b[i].qs), _mm256_loadu_si256((const __m256i *)xq[i].qs));
        s += _cvtsh_ss(b[i].d) * xq[i].d * hsum256(p);
    }
    return s;
}

LLM_AVX512 static void deq_f16_avx512(const void *row, float *y, int64_t n)
{
    const uint16_t *w = row;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i))));
    for (; i < n; i++)
        y[i] = llm_f16_table[w[i]];
}

LLM_AVX512 static void deq_q8_0_avx512(const void *row, float *y, int64_t n)
{
    const llm_block_q8_0_t *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, y += LLM_QK) {
        __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
        __m512i q0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b[i].qs));
        __m512i q1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b[i].qs + 16)));
        _mm512_storeu_ps(y, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q0)));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(q1)));
    }
}

LLM_AVX512 static uint64_t read_sum_avx512(const uint64_t *buf, size_t n)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n; i += 32) {
        a0 = _mm512_add_epi64(a0, _mm512_load_si512((const void *)(buf + i)));
        a1 = _mm512_add_epi64(a1, _mm512_load_si512((const void *)(buf + i + 8)));
        a2 = _mm512_add_epi64(a2, _mm512_load_si512((const void *)(buf + i + 16)));
        a3 = _mm512_add_epi64(a3, _mm512_load_si512((const void *)(buf + i + 24)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
}

LLM_AVX512 static void axpy_avx512(float a, const float *x, float *y, int64_t n)
{
    __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

static const llm_kernel_set_t llm_kernels_avx512 = { "avx512", dot_f32_avx512, dot_f16_avx512, dot_bf16_avx512, dot_q8_0_avx512, dot_q4_0_avx512,
                                                     deq_f16_avx512, deq_bf16_avx2, deq_q8_0_avx512, deq_q4_0_avx2, read_sum_avx512, axpy_avx512,
                                                     llm_quantize_q8x_avx512, llm_quantize_q8_K_avx512 };
#endif /* LLM_X86 */

/* ================================================================ selection */

static const llm_kernel_set_t *llm_kernels = &llm_kernels_c;
static llm_isa_t llm_isa_selected = LLM_ISA_C;
static llm_dot_fn llm_dots[LLM_TYPE_IDS]; /* by type id: the selected set's row, f32 for the rest */
static llm_rows_entry_t llm_rows[LLM_TYPE_IDS]; /* by type id: the selected set's several-row kernel, or none */

int llm_rows_prefetch = LLM_ROWS_PREFETCH;
size_t llm_matvec_chunk = 0;

/* The several-row kernels of a table, unless the environment names the type
 * in LLM_NO_DOTROWS (comma-separated, or "all": to compare with the one-row
 * dots); LLM_DOTROWS_NR=1..4 sets the rows per call (to compare, and test);
 * LLM_DOTROWS_PF=bytes their prefetch distance (0: none, to compare). */
static void llm_rows_fill(const llm_rows_entry_t *t)
{
    const char *off = getenv("LLM_NO_DOTROWS"), *nr = getenv("LLM_DOTROWS_NR");
    const char *pf = getenv("LLM_DOTROWS_PF");
    llm_rows_prefetch = pf ? atoi(pf) : LLM_ROWS_PREFETCH;
    const int want = nr ? atoi(nr) : 0;
    for (; t->type >= 0; t++) {
        const char *name = llm_type_name(t->type);
        int skip = 0;
        for (const char *p = off; p && *p && !skip; p += strcspn(p, ","), p += *p == ',') {
            size_t len = strcspn(p, ",");
            skip = (len == 3 && strncasecmp(p, "all", 3) == 0) || (len == strlen(name) && strncasecmp(p, name, len) == 0);
        }
        if (!skip) {
            llm_rows[t->type] = *t;
            if (want >= 1 && want <= LLM_ROWS_MAX)
                llm_rows[t->type].nr = want;
        }
    }
}

static void llm_dots_fill(const llm_kernel_set_t *k, const llm_dot_entry_t *more)
{
    for (int t = 0; t < LLM_TYPE_IDS; t++)
        llm_dots[t] = k->f32;
    llm_dots[LLM_F16] = k->f16;
    llm_dots[LLM_BF16] = k->bf16;
    llm_dots[LLM_Q8_0] = k->q8_0;
    llm_dots[LLM_Q4_0] = k->q4_0;
    for (; more->type >= 0; more++)
        llm_dots[more->type] = more->dot;
}

#ifdef LLM_X86
/* AVX512-VNNI: CPUID leaf 7, ECX bit 11 (asked directly: not every
 * compiler's __builtin_cpu_supports knows its name). */
static int llm_cpu_has_vnni(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (c >> 11) & 1;
}

/* F16C: CPUID leaf 1, ECX bit 29. */
static int llm_cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c >> 29) & 1;
}
#endif

static int llm_cpu_has(llm_isa_t isa)
{
#ifdef LLM_X86
    __builtin_cpu_init();
    if (isa == LLM_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && llm_cpu_has_f16c();
    if (isa == LLM_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && llm_cpu_has_vnni() &&
               llm_cpu_has(LLM_ISA_AVX2);
#endif
    return isa == LLM_ISA_C;
}

cb_status_t llm_kernels_select(llm_isa_t isa)
{
    for (int i = 0; i < 65536; i++)
        llm_f16_table[i] = llm_fp16_to_fp32((uint16_t)i);
    if (isa == LLM_ISA_AUTO)
        isa = llm_cpu_has(LLM_ISA_AVX512) ? LLM_ISA_AVX512 : llm_cpu_has(LLM_ISA_AVX2) ? LLM_ISA_AVX2 : LLM_ISA_C;
    if (!llm_cpu_has(isa)) {
        cb_error("--isa %s: this CPU (or this build) lacks it", llm_isa_names[isa]);
        return CB_ERR_UNSUPPORTED;
    }
    llm_kernels = &llm_kernels_c;
    llm_isa_selected = isa;
    llm_dots_fill(llm_kernels, llm_kquant_c);
    memset(llm_rows, 0, sizeof llm_rows);
    const char *mc = getenv("LLM_MATVEC_CHUNK");
    llm_matvec_chunk = mc ? (size_t)atol(mc) : LLM_MATVEC_CHUNK;
#ifdef LLM_X86
    if (isa == LLM_ISA_AVX2) {
        llm_kernels = &llm_kernels_avx2;
        llm_dots_fill(llm_kernels, llm_kquant_avx2);
    }
    if (isa == LLM_ISA_AVX512) {
        llm_kernels = &llm_kernels_avx512;
        llm_dots_fill(llm_kernels, llm_kquant_avx512);
        llm_rows_fill(llm_dotrows_avx512);
        llm_rows_fill(llm_kquant_rows_avx512);
    }
#endif
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    /* Threads come from OpenMP around the BLAS calls, one panel each. */
    openblas_set_num_threads(1);
#endif
    return CB_OK;
}

const char *llm_kernels_name(void) { return llm_kernels->name; }

llm_isa_t llm_kernels_isa(void) { return llm_isa_selected; }

uint64_t llm_read_sum(const uint64_t *buf, size_t n) { return llm_kernels->read_sum(buf, n); }

void llm_axpy(float a, const float *x, float *y, int64_t n) { llm_kernels->axpy(a, x, y, n); }

void llm_kernels_quantize_q8x(const float *x, llm_block_q8x_t *b, int64_t n) { llm_kernels->quant_q8x(x, b, n); }

void llm_kernels_quantize_q8_K(const float *x, llm_block_q8_K_t *b, int64_t n) { llm_kernels->quant_q8_K(x, b, n); }

void llm_kernels_quantize_act(int type, const float *x, llm_block_q8x_t *xq, int64_t n)
{
    int act = llm_type_act(type);
    if (act == LLM_ACT_Q8X)
        llm_kernels->quant_q8x(x, xq, n);
    else if (act == LLM_ACT_Q8K)
        llm_kernels->quant_q8_K(x, (llm_block_q8_K_t *)(void *)xq, n);
}

void llm_row_to_float(int type, const void *row, float *y, int64_t n)
{
    switch (type) {
    case LLM_F32: memcpy(y, row, sizeof(float) * (size_t)n); break;
    case LLM_F16: llm_kernels->deq_f16(row, y, n); break;
    case LLM_BF16: llm_kernels->deq_bf16(row, y, n); break;
    case LLM_Q8_0: llm_kernels->deq_q8_0(row, y, n); break;
    case LLM_Q4_0: llm_kernels->deq_q4_0(row, y, n); break;
    default: llm_dequantize_row(type, row, y, n); break;
    }
}

static llm_dot_fn llm_dot_for(int type)
{
    return type >= 0 && type < LLM_TYPE_IDS && llm_dots[type] ? llm_dots[type] : llm_kernels->f32;
}

float llm_dot_row(int type, const void *row, const float *x, const llm_block_q8x_t *xq, int64_t n)
{
    return llm_dot_for(type)(row, x, xq, n);
}

/* ================================================================ products */

/* The first stacked row of n matrices that starts at or after byte `at`. */
static int matvec_row_at(int n, const llm_mat_t *const *w, size_t at)
{
    int base = 0;
    for (int m = 0; m < n; m++) {
        const int rows = w[m]->rows > 0 ? w[m]->rows : 0;
        const size_t bytes = (size_t)rows * w[m]->row_bytes;
        if (at < bytes)
            return base + (int)((at + w[m]->row_bytes - 1) / w[m]->row_bytes);
        at -= bytes;
        base += rows;
    }
    return base;
}

/* Stacked rows [lo, hi) of n matrices: each matrix's part with its
 * several-row kernel where it has one, else row by row. */
static void matvec_rows(int n, const llm_mat_t *const *w, const float *x, const llm_block_q8x_t *xq, float *const *y, int lo, int hi)
{
    for (int m = 0, base = 0; m < n && lo < hi; m++) {
        const int rows = w[m]->rows > 0 ? w[m]->rows : 0;
        if (lo < base + rows) {
            int r1 = hi < base + rows ? hi : base + rows;
            llm_dot_fn dot = llm_dot_for(w[m]->type);
            const llm_rows_entry_t *re = w[m]->type >= 0 && w[m]->type < LLM_TYPE_IDS && llm_rows[w[m]->type].rows
                                       ? &llm_rows[w[m]->type] : NULL;
            const char *data = w[m]->data;
            const size_t rb = w[m]->row_bytes;
            const int cols = w[m]->cols;
            float *ym = y[m];
            int r = lo - base;
            if (re) /* nr 0: the kernel takes any number of rows a call, so all of them */
                for (int step = re->nr > 0 ? re->nr : r1 - base - r; r < r1 - base; r += step) {
                    int nr = r1 - base - r < step ? r1 - base - r : step;
                    re->rows(data + (size_t)r * rb, rb, nr, xq, cols, ym + r);
                }
            for (; r < r1 - base; r++)
                ym[r] = dot(data + (size_t)r * rb, x, xq, cols);
            lo = r1;
        }
        base += rows;
    }
}

/* One step of matvec_group on the team: the matrices' rows, stacked. */
typedef struct {
    int n;
    const llm_mat_t *const *w;
    const float *x;
    llm_block_q8x_t *xq;
    float *const *y;
    int total;
    size_t bytes, nc;      /* the rows' bytes; chunks of about llm_matvec_chunk (0: one share each) */
    _Atomic size_t next;   /* the next chunk to take */
} matvec_step_t;

static void matvec_step(void *arg, int t, int nt)
{
    matvec_step_t *ms = arg;
    const int n = ms->n, total = ms->total;
    const llm_mat_t *const *w = ms->w;
    const size_t bytes = ms->bytes, nc = ms->nc;
    if (nc > (size_t)nt) {
        /* Chunks of about llm_matvec_chunk bytes, taken in turn: a thread
         * slowed by another process on its core leaves its chunks to the
         * others instead of making them wait at the join. */
        for (size_t ch; (ch = atomic_fetch_add_explicit(&ms->next, 1, memory_order_relaxed)) < nc;)
            matvec_rows(n, w, ms->x, ms->xq, ms->y, matvec_row_at(n, w, bytes / nc * ch + bytes % nc * ch / nc),
                        ch + 1 == nc ? total : matvec_row_at(n, w, bytes / nc * (ch + 1) + bytes % nc * (ch + 1) / nc));
        return;
    }
    /* Thread t takes stacked rows [lo, hi), as even in bytes as whole rows
     * allow (a Q4_K_M's Q6_K attn_v rows are longer than the Q4_K attn_q and
     * attn_k rows beside them); in rows when they are alike. */
    int lo = (int)((int64_t)total * t / nt), hi = (int)((int64_t)total * (t + 1) / nt);
    if (n > 1) {
        lo = matvec_row_at(n, w, bytes / (size_t)nt * (size_t)t + bytes % (size_t)nt * (size_t)t / (size_t)nt);
        hi = t + 1 == nt ? total : matvec_row_at(n, w, bytes / (size_t)nt * (size_t)(t + 1) + bytes % (size_t)nt * (size_t)(t + 1) / (size_t)nt);
    }
    matvec_rows(n, w, ms->x, ms->xq, ms->y, lo, hi);
}

/* One team step over the rows of n matrices whose dots take the same
 * activation form, as if stacked: one fork/join and one quantization of x. */
static void matvec_group(int n, const llm_mat_t *const *w, const float *x, llm_block_q8x_t *xq, float *const *y)
{
    int total = 0, act = LLM_ACT_F32;
    for (int m = 0; m < n; m++)
        if (w[m]->rows > 0) {
            total += w[m]->rows;
            act = llm_type_act(w[m]->type);
        }
    if (total <= 0)
        return;
    if (act == LLM_ACT_Q8X)
        llm_kernels->quant_q8x(x, xq, w[0]->cols);
    else if (act == LLM_ACT_Q8K)
        llm_kernels->quant_q8_K(x, (llm_block_q8_K_t *)(void *)xq, w[0]->cols);
    matvec_step_t ms = { n, w, x, xq, y, total, 0, 0, 0 };
    for (int m = 0; m < n; m++)
        ms.bytes += w[m]->rows > 0 ? (size_t)w[m]->rows * w[m]->row_bytes : 0;
    const int nt = llm_team_size();
    ms.nc = llm_matvec_chunk > 0 && nt > 1 ? (ms.bytes + llm_matvec_chunk - 1) / llm_matvec_chunk : 0;
    llm_team_run(matvec_step, &ms);
}

void llm_matvec_n(int n, const llm_mat_t *const *w, const float *x, llm_block_q8x_t *xq, float *const *y)
{
    /* Mixed files (a Q4_K_M's Q6_K attn_v beside Q4_K attn_q) are grouped by
     * the activation form their dots take; the common case is one group. */
    enum { MAXN = 16 };
    int done[MAXN] = { 0 };
    if (n > MAXN) {
        for (int m = 0; m < n; m++)
            matvec_group(1, &w[m], x, xq, &y[m]);
        return;
    }
    for (int m = 0; m < n; m++) {
        if (done[m])
            continue;
        const llm_mat_t *gw[MAXN];
        float *gy[MAXN];
        int g = 0, act = llm_type_act(w[m]->type);
        for (int k = m; k < n; k++)
            if (!done[k] && llm_type_act(w[k]->type) == act) {
                gw[g] = w[k];
                gy[g++] = y[k];
                done[k] = 1;
            }
        matvec_group(g, gw, x, xq, gy);
    }
}

void llm_matvec(const llm_mat_t *w, const float *x, llm_block_q8x_t *xq, float *y)
{
    llm_matvec_n(1, &w, x, xq, &y);
}

#define LLM_PANEL 128 /* rows dequantized at a time per thread for sgemm */

static float **llm_panels;   /* (threads) buffers of LLM_PANEL * max_cols floats */
static int llm_n_panels, llm_panel_cols;

size_t llm_matmul_scratch(int cols) { return (size_t)LLM_PANEL * (size_t)cols; }

cb_status_t llm_kernels_init_scratch(int max_cols)
{
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    llm_kernels_free_scratch();
    llm_panels = cb_alloc(sizeof(float *) * (size_t)nt, 1, "panel table");
    if (!llm_panels)
        return CB_ERR_NOMEM;
    llm_n_panels = nt;
    llm_panel_cols = max_cols;
    for (int t = 0; t < nt; t++) {
        llm_panels[t] = cb_alloc(sizeof(float) * llm_matmul_scratch(max_cols), 0, "dequantized panel");
        if (!llm_panels[t])
            return CB_ERR_NOMEM;
    }
    return CB_OK;
}

void llm_kernels_free_scratch(void)
{
    llm_gemm_free();
    if (!llm_panels)
        return;
    for (int t = 0; t < llm_n_panels; t++)
        cb_free(llm_panels[t]);
    cb_free(llm_panels);
    llm_panels = NULL;
    llm_n_panels = 0;
}

void llm_matmul_n(int n, const llm_mat_t *const *w, const float *x, int b, float *const *y)
{
    /* One quantization of X and one parallel region where every matrix is
     * quantized with rows; the rest one by one. */
    int q = n <= 16, ldy[16];
    for (int m = 0; m < n && q; m++) {
        q = llm_type_act(w[m]->type) != LLM_ACT_F32 && w[m]->cols == w[0]->cols && w[m]->rows > 0;
        ldy[m] = w[m]->rows;
    }
    if (q && b > 0) {
        llm_gemm_q_n(n, w, x, b, y, ldy);
        return;
    }
    for (int m = 0; m < n; m++)
        llm_matmul(w[m], x, b, y[m], w[m]->rows);
}

/* Panel p (LLM_PANEL rows) of llm_matmul's F32 path: dequantized into
 * thread th's buffer, multiplied by OpenBLAS's sgemm. */
typedef struct {
    const llm_mat_t *w;
    const float *x;
    int b;
    float *y;
    int ldy;
} matmul_work_t;

static void matmul_panel(void *arg, int64_t p, int th)
{
    const matmul_work_t *mw = arg;
    const llm_mat_t *w = mw->w;
    const int rows = w->rows, cols = w->cols;
    const char *data = w->data;
    int r0 = (int)p * LLM_PANEL, nr = rows - r0 < LLM_PANEL ? rows - r0 : LLM_PANEL;
    const float *wp;
    if (w->type == LLM_F32) {
        wp = (const float *)(data + (size_t)r0 * w->row_bytes);
    } else {
        float *buf = llm_panels[th];
        llm_deq_fn deq = w->type == LLM_F16 ? llm_kernels->deq_f16 : w->type == LLM_BF16 ? llm_kernels->deq_bf16
                       : w->type == LLM_Q8_0 ? llm_kernels->deq_q8_0 : w->type == LLM_Q4_0 ? llm_kernels->deq_q4_0 : NULL;
        for (int r = 0; r < nr; r++)
            if (deq)
                deq(data + (size_t)(r0 + r) * w->row_bytes, buf + (size_t)r * cols, cols);
            else
                llm_dequantize_row(w->type, data + (size_t)(r0 + r) * w->row_bytes, buf + (size_t)r * cols, cols);
        wp = buf;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mw->b, nr, cols, 1.0f,
                mw->x, cols, wp, cols, 0.0f, mw->y + r0, mw->ldy);
}

void llm_matmul(const llm_mat_t *w, const float *x, int b, float *y, int ldy)
{
    if (w->rows <= 0 || b <= 0)
        return;
    if (llm_type_act(w->type) != LLM_ACT_F32) {
        llm_gemm_q(w, x, b, y, ldy);
        return;
    }
    matmul_work_t mw = { w, x, b, y, ldy };
    llm_team_dynamic((w->rows + LLM_PANEL - 1) / LLM_PANEL, matmul_panel, &mw);
}
