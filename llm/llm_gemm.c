/* The quantized matrix-matrix product of prompt processing and batched
 * decoding, Y = X W^T, without BLAS: every row of X is quantized once to
 * int8 blocks of 32 (a float scale and the block's sums); W stays in its
 * stored format and is unpacked, 16 rows at a time, into a per-thread panel
 * of unsigned integer levels with a float scale and offset per sub-block
 * (element = ws u + wc); a micro-kernel multiplies a panel by a tile of
 * tokens with integer dot products (AVX-512 VNNI dpbusd: 16 rows x 8 tokens;
 * AVX2 madd on int16: 8 rows x 4 tokens; portable C), turning each block's
 * integer sums into float once. Threads take panels; a panel (at most
 * 16 x 12288 levels, in L2) is reused across every token of the batch. */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <string.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "llm_kern.h"
#ifdef LLM_X86
#include <immintrin.h>
#endif

#define GR 16 /* weight rows per panel */
#define GT 8  /* tokens per AVX-512 and C tile */
#define GT2 4 /* tokens per AVX2 tile */

/* One block of 32 of an activation row: the int8 values, their scale and
 * the scale times the sums of all 32, of the first 16 and of the last 16. */
typedef struct {
    int8_t qs[LLM_QK];
    float d, ds, ds0, ds1;
} gemm_act_t;
/* The same with int16 values, for AVX2's madd. */
typedef struct {
    int16_t qs[LLM_QK];
    float d, ds, ds0, ds1;
} gemm_act16_t;

/* ================================================================ scratch */

static void *g_act;            /* (b, cols / 32) gemm_act_t or gemm_act16_t */
static size_t g_act_bytes;
static unsigned char **g_panel; /* (threads) panel buffers */
static size_t g_panel_bytes;
static int g_n_panel;

void llm_gemm_free(void)
{
    cb_free(g_act);
    g_act = NULL;
    g_act_bytes = 0;
    for (int t = 0; t < g_n_panel; t++)
        cb_free(g_panel[t]);
    cb_free(g_panel);
    g_panel = NULL;
    g_n_panel = 0;
    g_panel_bytes = 0;
}

/* Panel bytes for cols: levels (u8, or int16 for AVX2) then ws, wc. */
static size_t panel_bytes(int cols, int wide)
{
    size_t nkb = (size_t)cols / LLM_QK;
    return nkb * GR * LLM_QK * (wide ? 2 : 1) + 2 * nkb * 2 * GR * sizeof(float);
}

static int gemm_reserve(size_t act_bytes, size_t pbytes)
{
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    if (act_bytes > g_act_bytes) {
        cb_free(g_act);
        g_act = cb_alloc(act_bytes, 0, "quantized activations");
        g_act_bytes = g_act ? act_bytes : 0;
        if (!g_act)
            return -1;
    }
    if (pbytes > g_panel_bytes || nt > g_n_panel) {
        for (int t = 0; t < g_n_panel; t++)
            cb_free(g_panel[t]);
        cb_free(g_panel);
        g_n_panel = 0;
        g_panel = cb_alloc(sizeof(unsigned char *) * (size_t)nt, 1, "panel table");
        if (!g_panel)
            return -1;
        for (int t = 0; t < nt; t++) {
            g_panel[t] = cb_alloc(pbytes, 0, "weight panel");
            if (!g_panel[t])
                return -1;
            g_n_panel = t + 1;
        }
        g_panel_bytes = pbytes;
    }
    return 0;
}

/* ================================================================ activations */

static void act_quantize(const float *x, int cols, gemm_act_t *a)
{
    llm_block_q8x_t q;
    for (int k = 0; k < cols / LLM_QK; k++) {
        llm_quantize_row_q8x(x + (size_t)k * LLM_QK, &q, LLM_QK);
        memcpy(a[k].qs, q.qs, LLM_QK);
        a[k].d = q.d;
        a[k].ds0 = q.d * (float)q.s[0];
        a[k].ds1 = q.d * (float)q.s[1];
        a[k].ds = q.d * (float)(q.s[0] + q.s[1]);
    }
}

static void act_quantize16(const float *x, int cols, gemm_act16_t *a)
{
    llm_block_q8x_t q;
    for (int k = 0; k < cols / LLM_QK; k++) {
        llm_quantize_row_q8x(x + (size_t)k * LLM_QK, &q, LLM_QK);
        for (int j = 0; j < LLM_QK; j++)
            a[k].qs[j] = q.qs[j];
        a[k].d = q.d;
        a[k].ds0 = q.d * (float)q.s[0];
        a[k].ds1 = q.d * (float)q.s[1];
        a[k].ds = q.d * (float)(q.s[0] + q.s[1]);
    }
}

/* ================================================================ panels */

/* Rows [r0, r0 + nr) of w into panel p. Levels: byte (kb, g, row, j) is
 * element 32 kb + 4 g + j of the row (dpbusd's layout: a 64-byte vector is
 * 16 rows x 4 elements), or for `wide` the int16 (kb, pg, row, j), element
 * 32 kb + 2 pg + j (madd's layout: 16 rows x 2 elements). Then ws and wc,
 * (kb, half, row). Rows past nr are zero. */
static void panel_build(const llm_mat_t *w, int r0, int nr, int wide, unsigned char *p)
{
    const int cols = w->cols, nkb = cols / LLM_QK, blk = llm_type_block(w->type);
    const size_t bb = llm_type_block_bytes(w->type);
    const size_t lv = (size_t)nkb * GR * LLM_QK * (wide ? 2 : 1);
    float *ws = (float *)(void *)(p + lv), *wc = ws + (size_t)nkb * 2 * GR;
    uint8_t u[LLM_QK_K];
    float s[16], c[16];
#ifdef LLM_X86
    const int fast = llm_kernels_isa() != LLM_ISA_C;
#endif
    if (nr < GR) {
        memset(p, 0, lv);
        memset(ws, 0, sizeof(float) * (size_t)nkb * 2 * GR * 2);
    }
    for (int r = 0; r < nr; r++) {
        const char *row = (const char *)w->data + (size_t)(r0 + r) * w->row_bytes;
        for (int bi = 0; bi < cols / blk; bi++) {
#ifdef LLM_X86
            if (fast)
                llm_block_levels_avx2(w->type, row + (size_t)bi * bb, u, s, c);
            else
#endif
                llm_block_levels_c(w->type, row + (size_t)bi * bb, u, s, c);
            for (int kk = 0; kk < blk / LLM_QK; kk++) {
                const int kb = bi * (blk / LLM_QK) + kk;
                const uint8_t *uk = u + kk * LLM_QK;
                if (wide) {
                    int16_t *d16 = (int16_t *)(void *)p + (size_t)kb * GR * LLM_QK;
                    for (int pg = 0; pg < LLM_QK / 2; pg++) {
                        d16[pg * 2 * GR + 2 * r] = uk[2 * pg];
                        d16[pg * 2 * GR + 2 * r + 1] = uk[2 * pg + 1];
                    }
                } else {
                    unsigned char *d8 = p + (size_t)kb * GR * LLM_QK;
                    for (int g = 0; g < LLM_QK / 4; g++)
                        memcpy(d8 + g * 4 * GR + 4 * r, uk + 4 * g, 4);
                }
                for (int h = 0; h < 2; h++) {
                    ws[((size_t)kb * 2 + h) * GR + r] = s[2 * kk + h];
                    wc[((size_t)kb * 2 + h) * GR + r] = c[2 * kk + h];
                }
            }
        }
    }
}

/* ================================================================ micro-kernels */

/* Portable: the panel's 16 rows times GT tokens (a[t]: the token's blocks). */
static void mk_c(const unsigned char *p, int nkb, int sub16, const gemm_act_t *const *a, float acc[GT][GR])
{
    const float *ws = (const float *)(const void *)(p + (size_t)nkb * GR * LLM_QK), *wc = ws + (size_t)nkb * 2 * GR;
    memset(acc, 0, sizeof(float) * GT * GR);
    for (int kb = 0; kb < nkb; kb++) {
        const unsigned char *u = p + (size_t)kb * GR * LLM_QK;
        for (int t = 0; t < GT; t++) {
            const gemm_act_t *x = &a[t][kb];
            for (int r = 0; r < GR; r++) {
                int s0 = 0, s1 = 0;
                for (int g = 0; g < 8; g++)
                    for (int j = 0; j < 4; j++) {
                        int v = u[g * 4 * GR + 4 * r + j] * x->qs[4 * g + j];
                        if (g < 4)
                            s0 += v;
                        else
                            s1 += v;
                    }
                const float *s = ws + (size_t)kb * 2 * GR, *c = wc + (size_t)kb * 2 * GR;
                if (sub16)
                    acc[t][r] += s[r] * x->d * (float)s0 + c[r] * x->ds0 + s[GR + r] * x->d * (float)s1 + c[GR + r] * x->ds1;
                else
                    acc[t][r] += s[r] * x->d * (float)(s0 + s1) + c[r] * x->ds;
            }
        }
    }
}

#ifdef LLM_X86
#define LLM_AVX2 __attribute__((target("avx2,fma,f16c")))
#define LLM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

static inline int32_t load4(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

LLM_AVX512 static inline __attribute__((always_inline)) void mk_avx512_t(const unsigned char *p, int nkb, const int sub16,
                                                                          const gemm_act_t *const *a, float *const *y, int nr)
{
    const float *ws = (const float *)(const void *)(p + (size_t)nkb * GR * LLM_QK), *wc = ws + (size_t)nkb * 2 * GR;
    __m512 f[GT];
#pragma GCC unroll 16
    for (int t = 0; t < GT; t++)
        f[t] = _mm512_setzero_ps();
    for (int kb = 0; kb < nkb; kb++) {
        const unsigned char *u = p + (size_t)kb * GR * LLM_QK;
        const float *s = ws + (size_t)kb * 2 * GR, *c = wc + (size_t)kb * 2 * GR;
        __m512i i[GT];
#pragma GCC unroll 16
        for (int h = 0; h < 2; h++) {
            if (h == 0 || sub16)
#pragma GCC unroll 16
                for (int t = 0; t < GT; t++)
                    i[t] = _mm512_setzero_si512();
#pragma GCC unroll 16
            for (int g = 4 * h; g < 4 * h + 4; g++) {
                __m512i wv = _mm512_loadu_si512((const void *)(u + g * 4 * GR));
#pragma GCC unroll 16
                for (int t = 0; t < GT; t++)
                    i[t] = _mm512_dpbusd_epi32(i[t], wv, _mm512_set1_epi32(load4(a[t][kb].qs + 4 * g)));
            }
            if (sub16) {
                __m512 sv = _mm512_loadu_ps(s + h * GR), cv = _mm512_loadu_ps(c + h * GR);
#pragma GCC unroll 16
                for (int t = 0; t < GT; t++) {
                    const gemm_act_t *x = &a[t][kb];
                    f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i[t]), _mm512_mul_ps(sv, _mm512_set1_ps(x->d)), f[t]);
                    f[t] = _mm512_fmadd_ps(cv, _mm512_set1_ps(h ? x->ds1 : x->ds0), f[t]);
                }
            }
        }
        if (!sub16) {
            __m512 sv = _mm512_loadu_ps(s), cv = _mm512_loadu_ps(c);
#pragma GCC unroll 16
            for (int t = 0; t < GT; t++) {
                const gemm_act_t *x = &a[t][kb];
                f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i[t]), _mm512_mul_ps(sv, _mm512_set1_ps(x->d)), f[t]);
                f[t] = _mm512_fmadd_ps(cv, _mm512_set1_ps(x->ds), f[t]);
            }
        }
    }
    const __mmask16 m = (__mmask16)((1u << nr) - 1);
#pragma GCC unroll 16
    for (int t = 0; t < GT; t++)
        if (y[t])
            _mm512_mask_storeu_ps(y[t], m, f[t]);
}

LLM_AVX512 static void mk_avx512(const unsigned char *p, int nkb, int sub16, const gemm_act_t *const *a, float *const *y, int nr)
{
    if (sub16)
        mk_avx512_t(p, nkb, 1, a, y, nr);
    else
        mk_avx512_t(p, nkb, 0, a, y, nr);
}

/* AVX2: rows [8 hr, 8 hr + 8) of the panel times GT2 tokens. */
LLM_AVX2 static inline __attribute__((always_inline)) void mk_avx2_t(const unsigned char *p, int nkb, const int sub16, int hr,
                                                                      const gemm_act16_t *const *a, float *const *y, int nr)
{
    const int16_t *lv = (const int16_t *)(const void *)p;
    const float *ws = (const float *)(const void *)(p + (size_t)nkb * GR * LLM_QK * 2), *wc = ws + (size_t)nkb * 2 * GR;
    __m256 f[GT2];
#pragma GCC unroll 16
    for (int t = 0; t < GT2; t++)
        f[t] = _mm256_setzero_ps();
    for (int kb = 0; kb < nkb; kb++) {
        const int16_t *u = lv + (size_t)kb * GR * LLM_QK + 8 * 2 * hr;
        const float *s = ws + (size_t)kb * 2 * GR + 8 * hr, *c = wc + (size_t)kb * 2 * GR + 8 * hr;
        __m256i i[GT2];
#pragma GCC unroll 16
        for (int h = 0; h < 2; h++) {
            if (h == 0 || sub16)
#pragma GCC unroll 16
                for (int t = 0; t < GT2; t++)
                    i[t] = _mm256_setzero_si256();
#pragma GCC unroll 1
            for (int pg = 8 * h; pg < 8 * h + 8; pg++) {
                __m256i wv = _mm256_loadu_si256((const __m256i *)(u + pg * 2 * GR));
#pragma GCC unroll 16
                for (int t = 0; t < GT2; t++)
                    i[t] = _mm256_add_epi32(i[t], _mm256_madd_epi16(wv, _mm256_set1_epi32(load4(a[t][kb].qs + 2 * pg))));
            }
            if (sub16) {
                __m256 sv = _mm256_loadu_ps(s + h * GR), cv = _mm256_loadu_ps(c + h * GR);
#pragma GCC unroll 16
                for (int t = 0; t < GT2; t++) {
                    const gemm_act16_t *x = &a[t][kb];
                    f[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i[t]), _mm256_mul_ps(sv, _mm256_set1_ps(x->d)), f[t]);
                    f[t] = _mm256_fmadd_ps(cv, _mm256_set1_ps(h ? x->ds1 : x->ds0), f[t]);
                }
            }
        }
        if (!sub16) {
            __m256 sv = _mm256_loadu_ps(s), cv = _mm256_loadu_ps(c);
#pragma GCC unroll 16
            for (int t = 0; t < GT2; t++) {
                const gemm_act16_t *x = &a[t][kb];
                f[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i[t]), _mm256_mul_ps(sv, _mm256_set1_ps(x->d)), f[t]);
                f[t] = _mm256_fmadd_ps(cv, _mm256_set1_ps(x->ds), f[t]);
            }
        }
    }
    int n = nr - 8 * hr;
    n = n < 0 ? 0 : n > 8 ? 8 : n;
#pragma GCC unroll 16
    for (int t = 0; t < GT2; t++) {
        if (!y[t] || n == 0)
            continue;
        if (n == 8) {
            _mm256_storeu_ps(y[t] + 8 * hr, f[t]);
        } else {
            float tmp[8];
            _mm256_storeu_ps(tmp, f[t]);
            memcpy(y[t] + 8 * hr, tmp, sizeof(float) * (size_t)n);
        }
    }
}

LLM_AVX2 static void mk_avx2(const unsigned char *p, int nkb, int sub16, int hr, const gemm_act16_t *const *a, float *const *y, int nr)
{
    if (sub16)
        mk_avx2_t(p, nkb, 1, hr, a, y, nr);
    else
        mk_avx2_t(p, nkb, 0, hr, a, y, nr);
}
#endif /* LLM_X86 */

/* ================================================================ the product */

/* n matrices of the same cols on the same X: X quantized once, the panels
 * of all of them shared out among the threads in one parallel region. */
void llm_gemm_q_n(int n, const llm_mat_t *const *w, const float *x, int b, float *const *y, const int *ldy)
{
    const int cols = w[0]->cols, nkb = cols / LLM_QK;
    const llm_isa_t isa = llm_kernels_isa();
    const int wide = isa == LLM_ISA_AVX2;
    const size_t act_b = wide ? sizeof(gemm_act16_t) : sizeof(gemm_act_t);
    int n_panels = 0, start[17];
    if (n > 16 || b <= 0)
        return;
    for (int m = 0; m < n; m++) {
        start[m] = n_panels;
        n_panels += (w[m]->rows + GR - 1) / GR;
    }
    start[n] = n_panels;
    if (n_panels == 0)
        return;
    if (gemm_reserve(act_b * (size_t)b * (size_t)nkb, panel_bytes(cols, wide)) != 0) {
        /* out of memory for scratch: the dot products, row by row */
        llm_block_q8x_t *xq = cb_alloc(sizeof(llm_block_q8x_t) * (size_t)nkb, 0, "activation");
        for (int m = 0; m < n; m++)
            for (int t = 0; xq && t < b; t++) {
                llm_quantize_act(w[m]->type, x + (size_t)t * cols, xq, cols);
                for (int r = 0; r < w[m]->rows; r++)
                    y[m][(size_t)t * ldy[m] + r] = llm_dot_row(w[m]->type, (const char *)w[m]->data + (size_t)r * w[m]->row_bytes,
                                                               x + (size_t)t * cols, xq, cols);
            }
        cb_free(xq);
        return;
    }
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int t = 0; t < b; t++) {
            if (wide)
                act_quantize16(x + (size_t)t * cols, cols, (gemm_act16_t *)g_act + (size_t)t * nkb);
            else
                act_quantize(x + (size_t)t * cols, cols, (gemm_act_t *)g_act + (size_t)t * nkb);
        }
        int th = 0;
#ifdef _OPENMP
        th = omp_get_thread_num();
#endif
        unsigned char *p = g_panel[th];
#pragma omp for schedule(dynamic, 1)
        for (int pi = 0; pi < n_panels; pi++) {
            int m = 0;
            while (pi >= start[m + 1])
                m++;
            const llm_mat_t *wm = w[m];
            const int rows = wm->rows, sub16 = llm_type_subblock(wm->type) == 16;
            const int r0 = (pi - start[m]) * GR, nr = rows - r0 < GR ? rows - r0 : GR;
            panel_build(wm, r0, nr, wide, p);
            const int tile = wide ? GT2 : GT;
            for (int t0 = 0; t0 < b; t0 += tile) {
                /* a tile past the last token repeats it and stores nothing */
                const gemm_act_t *a[GT];
                const gemm_act16_t *a16[GT];
                float *yt[GT];
                for (int t = 0; t < tile; t++) {
                    int tt = t0 + t < b ? t0 + t : b - 1;
                    a[t] = (const gemm_act_t *)g_act + (size_t)tt * nkb;
                    a16[t] = (const gemm_act16_t *)g_act + (size_t)tt * nkb;
                    yt[t] = t0 + t < b ? y[m] + (size_t)(t0 + t) * ldy[m] + r0 : NULL;
                }
#ifdef LLM_X86
                if (isa == LLM_ISA_AVX512) {
                    mk_avx512(p, nkb, sub16, a, yt, nr);
                    continue;
                }
                if (isa == LLM_ISA_AVX2) {
                    mk_avx2(p, nkb, sub16, 0, a16, yt, nr);
                    if (nr > 8)
                        mk_avx2(p, nkb, sub16, 1, a16, yt, nr);
                    continue;
                }
#endif
                float acc[GT][GR];
                mk_c(p, nkb, sub16, a, acc);
                for (int t = 0; t < tile; t++)
                    if (yt[t])
                        memcpy(yt[t], acc[t], sizeof(float) * (size_t)nr);
            }
        }
    }
}

void llm_gemm_q(const llm_mat_t *w, const float *x, int b, float *y, int ldy)
{
    if (w->rows > 0)
        llm_gemm_q_n(1, &w, x, b, &y, &ldy);
}
