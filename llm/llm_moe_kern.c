/* Kernels of the MoE unit's token step: the gate and up products of every
 * routed expert piece, SwiGLU, and the down products summed by the router's
 * weights, in one parallel region (one fork and three barriers per layer
 * instead of a region per product), with a Q8_0 dot for AVX-512 that
 * converts the scales of 16 blocks at once. */
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
#include "llm_moe.h"
#ifdef LLM_X86
#include <immintrin.h>
#endif

/* ================================================================ Q8_0 dot, AVX-512 */

#ifdef LLM_X86
#define MOE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Two blocks' products as 16 float lanes (8 per block): VNNI's dpbusd
 * multiplies unsigned by signed bytes, so w's sign moves onto x. */
MOE_AVX512 static inline __m512 moe_dot2(const int8_t *w0, const int8_t *w1, const int8_t *x0, const int8_t *x1)
{
    __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)w0)),
                                   _mm256_loadu_si256((const __m256i *)w1), 1);
    __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x0)),
                                   _mm256_loadu_si256((const __m256i *)x1), 1);
    __mmask64 neg = _mm512_movepi8_mask(w);
    __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), sx));
}

/* Row b (nb Q8_0 blocks) . xq, whose scales xd holds contiguously: per 16
 * blocks, one gather of the 16 half-precision scales (stride 34 bytes),
 * one conversion and one multiply; each pair of blocks then takes its two
 * scales by a permute, not by scalar conversions and a blend. */
MOE_AVX512 static float moe_dot_q8_0_avx512(const llm_block_q8_0_t *b, const llm_block_q8x_t *xq, const float *xd, int nb)
{
    const __m512i off = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int)sizeof(llm_block_q8_0_t)));
    const __m512i pair = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int i = 0; i < nb; i += 16) {
        const int m = nb - i < 16 ? nb - i : 16;
        const __mmask16 live = (__mmask16)((1u << m) - 1);
        /* Each lane reads 4 bytes at a block's start: d and its first two quants. */
        __m512i raw = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, off, (const void *)&b[i].d, 1);
        __m512 s = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(raw)), _mm512_maskz_loadu_ps(live, xd + i));
        int j = 0;
        for (; j + 4 <= m; j += 4) {
            __m512 p0 = moe_dot2(b[i + j].qs, b[i + j + 1].qs, xq[i + j].qs, xq[i + j + 1].qs);
            __m512 p1 = moe_dot2(b[i + j + 2].qs, b[i + j + 3].qs, xq[i + j + 2].qs, xq[i + j + 3].qs);
            acc0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_add_epi32(pair, _mm512_set1_epi32(j)), s), p0, acc0);
            acc1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_add_epi32(pair, _mm512_set1_epi32(j + 2)), s), p1, acc1);
        }
        for (; j + 2 <= m; j += 2) {
            __m512 p = moe_dot2(b[i + j].qs, b[i + j + 1].qs, xq[i + j].qs, xq[i + j + 1].qs);
            acc0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_add_epi32(pair, _mm512_set1_epi32(j)), s), p, acc0);
        }
        if (j < m) {
            /* An odd last block: its pair's second half weighs nothing. */
            __m512 p = moe_dot2(b[i + j].qs, b[i + j].qs, xq[i + j].qs, xq[i + j].qs);
            __m512 sc = _mm512_maskz_permutexvar_ps(0x00ff, _mm512_set1_epi32(j), s);
            acc1 = _mm512_fmadd_ps(sc, p, acc1);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}
#endif

/* ================================================================ dispatch */

typedef struct {
    int type;            /* the matrices' type */
    int fast;            /* 1: Q8_0 rows, q8x activations, AVX-512 selected */
} moe_kind_t;

static moe_kind_t moe_kind(int type)
{
    moe_kind_t k = { type, 0 };
#ifdef LLM_X86
    static int slow = -1;
    if (slow < 0)
        slow = getenv("LLM_MOE_SLOWDOT") != NULL; /* A/B: the dispatched dot instead */
    k.fast = !slow && type == LLM_Q8_0 && llm_kernels_isa() == LLM_ISA_AVX512;
#endif
    return k;
}

/* x (n elements) into xq in the activation form of k's type, and, for the
 * fast dot, its scales contiguous in xd. */
static void moe_quantize(moe_kind_t k, const float *x, llm_block_q8x_t *xq, float *xd, int n)
{
    llm_quantize_act(k.type, x, xq, n);
    if (k.fast)
        for (int i = 0; i < n / LLM_QK; i++)
            xd[i] = xq[i].d;
}

static inline float moe_dot(moe_kind_t k, const void *row, const float *x, const llm_block_q8x_t *xq, const float *xd, int n)
{
#ifdef LLM_X86
    if (k.fast)
        return moe_dot_q8_0_avx512(row, xq, xd, n / LLM_QK);
#endif
    return llm_dot_row(k.type, row, x, xq, n);
}

float llm_moe_dot_row(int type, const void *row, const float *x, const llm_block_q8x_t *xq, const float *xd, int n)
{
    return moe_dot(moe_kind(type), row, x, xq, xd, n);
}

/* ================================================================ the experts of one token */

int llm_moe_token_fusable(const llm_moe_token_t *t)
{
    if (t->n <= 0)
        return 0;
    const int tg = t->wg[0]->type, td = t->wd[0]->type;
    for (int i = 0; i < t->n; i++)
        if (t->wg[i]->type != tg || t->wu[i]->type != tg || t->wd[i]->type != td || t->wg[i]->rows > t->hmax ||
            t->wd[i]->cols != t->wg[i]->rows || t->wd[i]->rows != t->wd[0]->rows)
            return 0;
    return 1;
}

void llm_moe_token_experts(const llm_moe_token_t *t, const float *x, float *y)
{
    const int n = t->n, H = t->hmax, dim = t->wg[0]->cols, rows = t->wd[0]->rows;
    const moe_kind_t kg = moe_kind(t->wg[0]->type), kd = moe_kind(t->wd[0]->type);
    const int hb = H / LLM_QK + 1; /* q8x blocks per piece's quantized activation */
    int total = 0;
    for (int i = 0; i < n; i++)
        total += 2 * t->wg[i]->rows;
#pragma omp parallel
    {
        int nt = 1, th = 0;
#ifdef _OPENMP
        nt = omp_get_num_threads();
        th = omp_get_thread_num();
#endif
#pragma omp single
        moe_quantize(kg, x, t->xq, t->xd, dim);
        /* Gate and up: thread th takes rows [lo, hi) of the matrices
         * stacked in the order g0 u0 g1 u1 ... */
        int lo = (int)((int64_t)total * th / nt), hi = (int)((int64_t)total * (th + 1) / nt), base = 0;
        for (int m = 0; m < 2 * n && lo < hi; m++) {
            const llm_mat_t *w = m & 1 ? t->wu[m / 2] : t->wg[m / 2];
            float *o = (m & 1 ? t->hu : t->hg) + (size_t)(m / 2) * H;
            if (lo < base + w->rows) {
                const int r1 = hi < base + w->rows ? hi : base + w->rows;
                for (int r = lo - base; r < r1 - base; r++)
                    o[r] = moe_dot(kg, (const char *)w->data + (size_t)r * w->row_bytes, x, t->xq, t->xd, dim);
                lo = r1;
            }
            base += w->rows;
        }
#pragma omp barrier
        /* SwiGLU and the down products' activations, a piece per thread. */
#pragma omp for schedule(static)
        for (int i = 0; i < n; i++) {
            float *g = t->hg + (size_t)i * H;
            const float *u = t->hu + (size_t)i * H;
            const int w = t->wg[i]->rows;
            for (int j = 0; j < w; j++)
                g[j] = g[j] / (1.0f + expf(-g[j])) * u[j];
            moe_quantize(kd, g, t->hq + (size_t)i * hb, t->hd + (size_t)i * hb, w);
        }
        /* Down, summed by weight in piece order (the same bits for any
         * thread count): y[r] = sum_i a_i Wd_i[r] . h_i. A thread keeps its
         * rows [r0, r1) over the pieces and streams each piece's rows in
         * turn (one memory stream at a time, as the prefetchers like). */
        const int r0 = (int)((int64_t)rows * th / nt), r1 = (int)((int64_t)rows * (th + 1) / nt);
        for (int r = r0; r < r1; r++)
            y[r] = 0;
        for (int i = 0; i < n; i++) {
            const llm_mat_t *w = t->wd[i];
            const char *data = w->data;
            const float a = t->a[i], *h = t->hg + (size_t)i * H, *hd = t->hd + (size_t)i * hb;
            const llm_block_q8x_t *hq = t->hq + (size_t)i * hb;
            for (int r = r0; r < r1; r++)
                y[r] += a * moe_dot(kd, data + (size_t)r * w->row_bytes, h, hq, hd, w->cols);
        }
    }
}
