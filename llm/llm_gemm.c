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
#include <stdlib.h>
#include <string.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "llm_kern.h"
#include "llm_team.h"
#include <stdatomic.h>
#ifdef LLM_X86
#include <immintrin.h>
#define LLM_AVX2 __attribute__((target("avx2,fma,f16c")))
#define LLM_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#endif

#define GR 16 /* weight rows per panel */
#define GT 8  /* tokens per AVX-512 and C tile */
#define GT2 4 /* tokens per AVX2 tile */
#define GC 4  /* panels a thread builds and runs every token tile over, so
                 that a tile's activations come from L2 GC times (where one
                 panel at a time streamed all of them from L3 per panel) */

/* One block of 32 of an activation row: the int8 values, their scale and
 * the scale times the sums of all 32, of the first 16 and of the last 16. */
typedef struct {
    int8_t qs[LLM_QK];
    float d, ds, ds0, ds1;
    int32_t m; /* -128 times the sum of all 32: the offset of levels u = q + 128 in integers */
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
        a[k].m = -128 * (q.s[0] + q.s[1]);
    }
}

#ifdef LLM_X86
/* act_quantize on AVX-512: the same bits (the largest magnitude, d =
 * amax / 127, each value x / d rounded to nearest even as lrintf does in
 * the default rounding mode), a block in a few vector operations where the
 * scalar loop took a call per element. */
LLM_AVX512 static void act_quantize_avx512(const float *x, int cols, gemm_act_t *a)
{
    for (int k = 0; k < cols / LLM_QK; k++, x += LLM_QK) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
        const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
        _mm_storeu_si128((__m128i *)(void *)a[k].qs, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(void *)(a[k].qs + 16), _mm512_cvtepi32_epi8(q1));
        const int s0 = _mm512_reduce_add_epi32(q0), s1 = _mm512_reduce_add_epi32(q1);
        a[k].d = d;
        a[k].ds0 = d * (float)s0;
        a[k].ds1 = d * (float)s1;
        a[k].ds = d * (float)(s0 + s1);
        a[k].m = -128 * (s0 + s1);
    }
}
#endif

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
#ifdef LLM_X86
/* One block of 16 rows into the panel: R[r] the 32 levels of row r; vector
 * g of dst gets elements 4g..4g+3 of every row, an 8 x 16 transpose of
 * 32-bit groups in three rounds of shuffles (where 128 four-byte copies
 * cost the build a fifth of the kernel's time). */
LLM_AVX512 static inline __attribute__((always_inline)) void panel_put_block(const __m256i *R, unsigned char *dst)
{
    __m512i a[8], t[8], u[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) /* rows j and j + 8, one in each 256-bit half */
        a[j] = _mm512_inserti64x4(_mm512_castsi256_si512(R[j]), R[j + 8], 1);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        t[2 * j] = _mm512_unpacklo_epi32(a[2 * j], a[2 * j + 1]);
        t[2 * j + 1] = _mm512_unpackhi_epi32(a[2 * j], a[2 * j + 1]);
    }
    /* u[g], u[4 + g]: group g of rows 0-3 (and 8-11), 4-7 (and 12-15) in
     * 128-bit lane 0 (2), group g + 4 in lane 1 (3) */
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        const __m512i *s = t + 4 * h;
        u[4 * h] = _mm512_unpacklo_epi64(s[0], s[2]);
        u[4 * h + 1] = _mm512_unpackhi_epi64(s[0], s[2]);
        u[4 * h + 2] = _mm512_unpacklo_epi64(s[1], s[3]);
        u[4 * h + 3] = _mm512_unpackhi_epi64(s[1], s[3]);
    }
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        _mm512_storeu_si512((void *)(dst + g * 4 * GR), _mm512_permutex2var_epi64(u[g], lo, u[4 + g]));
        _mm512_storeu_si512((void *)(dst + (g + 4) * 4 * GR), _mm512_permutex2var_epi64(u[g], hi, u[4 + g]));
    }
}

/* panel_build's byte layout on AVX-512. Q8_0 and Q4_0 are unpacked here
 * (Q4_0's levels stored as u + 120, so that for both wc = -128 ws and the
 * VNNI kernel takes the offset in integers); the other types through
 * llm_block_levels_avx2, 16 rows of a block at a time. Rows past nr repeat
 * row 0's levels with ws = wc = 0. */
LLM_AVX512 static void panel_build_avx512(const llm_mat_t *w, int r0, int nr, unsigned char *p)
{
    const int cols = w->cols, nkb = cols / LLM_QK, blk = llm_type_block(w->type);
    const size_t bb = llm_type_block_bytes(w->type);
    float *ws = (float *)(void *)(p + (size_t)nkb * GR * LLM_QK), *wc = ws + (size_t)nkb * 2 * GR;
    const int q8 = w->type == LLM_Q8_0, q4 = w->type == LLM_Q4_0;
    const __mmask16 live = (__mmask16)((1u << nr) - 1);
    const char *row[GR];
    for (int r = 0; r < GR; r++)
        row[r] = (const char *)w->data + (size_t)(r0 + (r < nr ? r : 0)) * w->row_bytes;
    if (q8 || q4) {
        for (int kb = 0; kb < nkb; kb++) {
            __m256i R[GR];
            uint16_t dh[GR];
#pragma GCC unroll 16
            for (int r = 0; r < GR; r++) {
                const char *b = row[r] + (size_t)kb * bb;
                memcpy(&dh[r], b, 2);
                if (q4) {
                    const __m128i t = _mm_loadu_si128((const __m128i *)(const void *)(b + 2)), f = _mm_set1_epi8(15);
                    R[r] = _mm256_add_epi8(_mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(t, 4), f), _mm_and_si128(t, f)),
                                           _mm256_set1_epi8(120));
                } else {
                    R[r] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(b + 2)), _mm256_set1_epi8((char)0x80));
                }
            }
            panel_put_block(R, p + (size_t)kb * GR * LLM_QK);
            const __m512 d = _mm512_maskz_mov_ps(live, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)dh)));
            const __m512 c = _mm512_mul_ps(d, _mm512_set1_ps(-128.0f));
            _mm512_storeu_ps(ws + (size_t)kb * 2 * GR, d);
            _mm512_storeu_ps(ws + (size_t)kb * 2 * GR + GR, d);
            _mm512_storeu_ps(wc + (size_t)kb * 2 * GR, c);
            _mm512_storeu_ps(wc + (size_t)kb * 2 * GR + GR, c);
        }
        return;
    }
    uint8_t u[GR][LLM_QK_K] __attribute__((aligned(64)));
    float s[16], c[16];
    for (int bi = 0; bi < cols / blk; bi++) {
        const int nsub = blk / 16; /* ws and wc of a block: one per 16 elements */
        for (int r = 0; r < GR; r++) {
            llm_block_levels_avx2(w->type, row[r] + (size_t)bi * bb, u[r], s, c);
            for (int k = 0; k < nsub; k++) {
                /* (kb, half, row): sub-block k is half k & 1 of block bi * blk / 32 + k / 2 */
                const size_t o = ((size_t)bi * (blk / LLM_QK) * 2 + (size_t)k) * GR + (size_t)r;
                ws[o] = r < nr ? s[k] : 0.0f;
                wc[o] = r < nr ? c[k] : 0.0f;
            }
        }
        for (int kk = 0; kk < blk / LLM_QK; kk++) {
            __m256i R[GR];
#pragma GCC unroll 16
            for (int r = 0; r < GR; r++)
                R[r] = _mm256_load_si256((const __m256i *)(const void *)(u[r] + kk * LLM_QK));
            panel_put_block(R, p + ((size_t)bi * (blk / LLM_QK) + (size_t)kk) * GR * LLM_QK);
        }
    }
}
#endif

static void panel_build(const llm_mat_t *w, int r0, int nr, int wide, unsigned char *p)
{
#ifdef LLM_X86
    if (!wide && llm_kernels_isa() == LLM_ISA_AVX512) {
        panel_build_avx512(w, r0, nr, p);
        return;
    }
#endif
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
static inline int32_t load4(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* sym: wc = -128 ws (Q8_0, Q4_0 as panel_build_avx512 lays them out): the
 * integer sums start from the activation's -128 sum instead of zero, and
 * the offset costs no vector operation. */
LLM_AVX512 static inline __attribute__((always_inline)) void mk_avx512_t(const unsigned char *p, int nkb, const int sub16,
                                                                          const int sym, const gemm_act_t *const *a,
                                                                          float *const *y, int nr)
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
                    i[t] = sym ? _mm512_set1_epi32(a[t][kb].m) : _mm512_setzero_si512();
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
                if (!sym)
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

LLM_AVX512 static void mk_avx512(const unsigned char *p, int nkb, int sub16, int sym, const gemm_act_t *const *a,
                                 float *const *y, int nr)
{
    if (sub16)
        mk_avx512_t(p, nkb, 1, 0, a, y, nr);
    else if (sym)
        mk_avx512_t(p, nkb, 0, 1, a, y, nr);
    else
        mk_avx512_t(p, nkb, 0, 0, a, y, nr);
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

/* What a step of the product shares with its threads. */
typedef struct {
    int n, b, cols, nkb, n_chunks, wide;
    const llm_mat_t *const *w;
    const float *x;
    float *const *y;
    const int *ldy;
    const int *start;
    llm_isa_t isa;
    size_t pbytes;
    int8_t *q;         /* AMX: the quantized tokens */
    float *sc;         /* AMX: their scales */
    int ntt;           /* AMX: token tiles */
    _Atomic int next;  /* the next chunk to take */
} gemm_step_t;

/* ================================================================ AMX */

/* Sapphire Rapids' tile unit: TDPBSUD multiplies a tile of 16 tokens x 32
 * signed activation bytes (one block) by a tile of 8 x 64 unsigned weight
 * bytes (the panel's block as it is: 16 rows x 4 elements per 64 bytes,
 * the layout dpbusd reads) into 16 x 16 int32, one block's integer sums of
 * 16 tokens by 16 rows; the vector unit then turns them into floats with
 * the block's scales, as the VNNI kernel does. Activations for it are laid
 * out as rows of int8 (tokens padded to a multiple of 16 with zeros) and,
 * per 16 tokens and block, their d, ds, ds0, ds1 side by side. */
#ifdef LLM_X86
#include <sys/syscall.h>
#include <unistd.h>
#include <cpuid.h>
#define LLM_AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define GA 16 /* tokens per AMX tile */
#define GP 4  /* 16-row panels a thread builds and works through together */

static int g_amx = -1;     /* -1 unknown, 0 unavailable, 1 usable */
static int g_amx_off = -1; /* LLM_GEMM_AMX=0 in the environment, or llm_gemm_set_amx(0) */

/* CPUID leaf 7 EDX bits 24 (AMX-TILE) and 25 (AMX-INT8), then Linux's
 * permission for the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM). */
static int amx_probe(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((d >> 24) & 1) || !((d >> 25) & 1))
        return 0;
#ifdef SYS_arch_prctl
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#else
    return 0;
#endif
}

int llm_gemm_amx(void)
{
    if (g_amx < 0)
        g_amx = amx_probe();
    if (g_amx_off < 0) {
        const char *e = getenv("LLM_GEMM_AMX");
        g_amx_off = e && strcmp(e, "0") == 0;
    }
    return g_amx && !g_amx_off && llm_kernels_isa() == LLM_ISA_AVX512;
}

int llm_gemm_set_amx(int on)
{
    (void)llm_gemm_amx();
    g_amx_off = !on;
    return llm_gemm_amx();
}

typedef struct {
    uint8_t palette, start;
    uint8_t res[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg_t;

/* Tokens [t0, t0 + GA) of x (b rows, zeros past b) into AMX form, each
 * block of the 16 tokens one A tile: q[kb][t][32] int8 (512 contiguous
 * bytes, which a tile load streams, where rows of tokens a whole width
 * apart missed L1 line by line), scales sc[kb][4][t]: d, ds, ds0, ds1. */
static void act_quantize_amx(const float *x, int b, int t0, int cols, int8_t *q, float *sc)
{
    const int nkb = cols / LLM_QK;
    llm_block_q8x_t blk;
    for (int t = 0; t < GA; t++) {
        int8_t *qt = q + (size_t)t0 * cols + (size_t)t * LLM_QK;
        for (int k = 0; k < nkb; k++) {
            float *s = sc + (size_t)k * 4 * GA + t;
            if (t0 + t >= b) {
                memset(qt + (size_t)k * GA * LLM_QK, 0, LLM_QK);
                s[0] = s[GA] = s[2 * GA] = s[3 * GA] = 0;
                continue;
            }
            llm_quantize_row_q8x(x + (size_t)(t0 + t) * cols + (size_t)k * LLM_QK, &blk, LLM_QK);
            memcpy(qt + (size_t)k * GA * LLM_QK, blk.qs, LLM_QK);
            s[0] = blk.d;
            s[GA] = blk.d * (float)(blk.s[0] + blk.s[1]);
            s[2 * GA] = blk.d * (float)blk.s[0];
            s[3 * GA] = blk.d * (float)blk.s[1];
        }
    }
}

/* GCC 12's tile intrinsics tell the compiler of no memory they read or
 * write: a barrier orders the plain loads and stores around them. */
#define AMX_BARRIER() __asm__ volatile("" ::: "memory")

/* The two tile configurations: units of a whole block (32 bytes of a
 * token, 8 x 64 bytes of the panel) or of half a block (16, 4 x 64), for
 * the types with scales per 16. tmm0, tmm1: A, 16 tokens; tmm2, tmm3: B;
 * tmm4..7: C, 16 tokens x 16 rows of int32. */
static amx_cfg_t g_amx_cfgs[2] __attribute__((aligned(64)));
static __thread int g_amx_cur = -1; /* this thread's loaded configuration */

static void amx_config_fill(void)
{
    for (int h = 0; h < 2; h++) {
        amx_cfg_t *cfg = &g_amx_cfgs[h];
        const int k = h ? LLM_QK / 2 : LLM_QK;
        memset(cfg, 0, sizeof *cfg);
        cfg->palette = 1;
        for (int t = 0; t < 2; t++) {
            cfg->rows[t] = GA;
            cfg->colsb[t] = (uint16_t)k;
            cfg->rows[2 + t] = (uint8_t)(k / 4);
            cfg->colsb[2 + t] = 64;
        }
        for (int t = 4; t < 8; t++) {
            cfg->rows[t] = GA;
            cfg->colsb[t] = 64;
        }
    }
}

LLM_AMX static void amx_config(int half)
{
    if (g_amx_cur != half) {
        AMX_BARRIER();
        _tile_loadconfig(&g_amx_cfgs[half]);
        g_amx_cur = half;
    }
}

LLM_AMX static void amx_release(void)
{
    _tile_release();
    g_amx_cur = -1;
}

/* The panel p (16 rows) times 16 tokens: q their A tiles (act_quantize_amx),
 * sc their scales; y[t] the token's output row (NULL: a padding token).
 * A unit is a block (sub16 = 0) or half a block: its int32 sums of 16
 * tokens x 16 rows, times ws d[t] plus wc ds[t], are added to f[t]. Four
 * units go to the tile unit at a time (C in tmm4..7), and the vector unit
 * scales the previous four meanwhile (double-buffered through cb). */
LLM_AMX static void mk_amx(const unsigned char *p, int nkb, int sub16, const int8_t *q, const float *sc,
                           float *const *y, int nr)
{
    const float *ws = (const float *)(const void *)(p + (size_t)nkb * GR * LLM_QK), *wc = ws + (size_t)nkb * 2 * GR;
    const int nu = sub16 ? 2 * nkb : nkb, ng = nu / 4;
    int32_t cb[2][4][GA * 16] __attribute__((aligned(64)));
    __m512 f[GA];
#pragma GCC unroll 16
    for (int t = 0; t < GA; t++)
        f[t] = _mm512_setzero_ps();
    amx_config(sub16);
    AMX_BARRIER();
/* unit u: its A and B tiles, weight scales, activation d and sums */
#define UA(u) (q + (sub16 ? (size_t)((u) >> 1) * GA * LLM_QK + (size_t)((u) & 1) * (LLM_QK / 2) : (size_t)(u) * GA * LLM_QK))
#define UB(u) (p + (sub16 ? (size_t)((u) >> 1) * GR * LLM_QK + (size_t)((u) & 1) * (GR * LLM_QK / 2) : (size_t)(u) * GR * LLM_QK))
#define UW(u) ((size_t)(u) * (sub16 ? GR : 2 * GR))
#define UD(u) (sc + (size_t)(sub16 ? (u) >> 1 : (u)) * 4 * GA)
#define US(u) (sub16 ? UD(u) + (2 + ((u) & 1)) * GA : UD(u) + GA)
#define TDP(u, ta, tb, tc)                    \
    do {                                      \
        _tile_loadd(ta, UA(u), LLM_QK);       \
        _tile_loadd(tb, UB(u), 64);           \
        _tile_zero(tc);                       \
        _tile_dpbsud(tc, ta, tb);             \
    } while (0)
#define SCALE(u, c)                                                                                  \
    do {                                                                                             \
        const __m512 sv = _mm512_loadu_ps(ws + UW(u)), cv = _mm512_loadu_ps(wc + UW(u));             \
        const float *dv = UD(u), *sv2 = US(u);                                                       \
        _Pragma("GCC unroll 16") for (int t = 0; t < GA; t++)                                        \
        {                                                                                            \
            __m512 ci = _mm512_cvtepi32_ps(_mm512_load_si512((const void *)((c) + 16 * t)));         \
            f[t] = _mm512_fmadd_ps(ci, _mm512_mul_ps(sv, _mm512_set1_ps(dv[t])), f[t]);              \
            f[t] = _mm512_fmadd_ps(cv, _mm512_set1_ps(sv2[t]), f[t]);                                \
        }                                                                                            \
    } while (0)
    for (int g = 0; g < ng; g++) {
        const int u = 4 * g;
        TDP(u, 0, 2, 4);
        TDP(u + 1, 1, 3, 5);
        TDP(u + 2, 0, 2, 6);
        TDP(u + 3, 1, 3, 7);
        if (g > 0) {
            int32_t(*c)[GA * 16] = cb[(g - 1) & 1];
            for (int k = 0; k < 4; k++)
                SCALE(u - 4 + k, c[k]);
        }
        AMX_BARRIER();
        int32_t(*c)[GA * 16] = cb[g & 1];
        _tile_stored(4, c[0], 64);
        _tile_stored(5, c[1], 64);
        _tile_stored(6, c[2], 64);
        _tile_stored(7, c[3], 64);
        AMX_BARRIER();
    }
    if (ng > 0) {
        int32_t(*c)[GA * 16] = cb[(ng - 1) & 1];
        for (int k = 0; k < 4; k++)
            SCALE(4 * (ng - 1) + k, c[k]);
    }
    for (int u = 4 * ng; u < nu; u++) {
        TDP(u, 0, 2, 4);
        _tile_stored(4, cb[0][0], 64);
        AMX_BARRIER();
        SCALE(u, cb[0][0]);
    }
#undef UA
#undef UB
#undef UW
#undef UD
#undef US
#undef TDP
#undef SCALE
    const __mmask16 m = (__mmask16)((1u << nr) - 1);
#pragma GCC unroll 16
    for (int t = 0; t < GA; t++)
        if (y[t])
            _mm512_mask_storeu_ps(y[t], m, f[t]);
}

static void gemm_step_amx(void *arg, int th, int nt)
{
    gemm_step_t *g = arg;
    const int n = g->n, b = g->b, cols = g->cols, nkb = g->nkb, n_chunks = g->n_chunks, ntt = g->ntt;
    const llm_mat_t *const *w = g->w;
    const float *x = g->x;
    float *const *y = g->y;
    const int *ldy = g->ldy, *start = g->start;
    int8_t *q = g->q;
    float *sc = g->sc;
    (void)n;
    int64_t lo, hi;
    llm_team_split(ntt, th, nt, &lo, &hi);
    for (int tt = (int)lo; tt < (int)hi; tt++)
        act_quantize_amx(x, b, tt * GA, cols, q, sc + (size_t)tt * nkb * 4 * GA);
    llm_team_barrier(th); /* every token quantized before any panel uses it */
    unsigned char *pb = g_panel[th];
    const size_t pbytes = panel_bytes(cols, 0);
    for (int ci; (ci = atomic_fetch_add_explicit(&g->next, 1, memory_order_relaxed)) < n_chunks;) {
        int m = 0;
        while (ci >= start[m + 1])
            m++;
        const llm_mat_t *wm = w[m];
        const int rows = wm->rows, sub16 = llm_type_subblock(wm->type) == 16;
        const int c0 = (ci - start[m]) * GR * GP;
        int np = 0, nrs[GP];
        for (int j = 0; j < GP && c0 + j * GR < rows; j++, np++) {
            const int r0 = c0 + j * GR;
            nrs[j] = rows - r0 < GR ? rows - r0 : GR;
            panel_build(wm, r0, nrs[j], 0, pb + (size_t)j * pbytes);
        }
        for (int tt = 0; tt < ntt; tt++) {
            for (int j = 0; j < np; j++) {
                float *yt[GA];
                for (int t = 0; t < GA; t++)
                    yt[t] = tt * GA + t < b ? y[m] + (size_t)(tt * GA + t) * ldy[m] + c0 + j * GR : NULL;
                mk_amx(pb + (size_t)j * pbytes, nkb, sub16, q + (size_t)tt * GA * cols,
                       sc + (size_t)tt * nkb * 4 * GA, yt, nrs[j]);
            }
        }
    }
    amx_release();
}

/* llm_gemm_q_n on the tile unit: X quantized once into AMX form, then
 * threads take GP panels (64 rows) at a time, build them, and run every
 * 16-token tile over them, so that a tile's activations are read from L2
 * GP times. */
static int gemm_q_n_amx(int n, const llm_mat_t *const *w, const float *x, int b, float *const *y, const int *ldy)
{
    const int cols = w[0]->cols, nkb = cols / LLM_QK, bp = (b + GA - 1) / GA * GA, ntt = bp / GA;
    const size_t qbytes = (size_t)bp * cols, scbytes = sizeof(float) * (size_t)ntt * nkb * 4 * GA;
    int n_chunks = 0, start[17];
    for (int m = 0; m < n; m++) {
        start[m] = n_chunks;
        n_chunks += (w[m]->rows + GR * GP - 1) / (GR * GP);
    }
    start[n] = n_chunks;
    if (gemm_reserve(qbytes + scbytes + 64, GP * panel_bytes(cols, 0)) != 0)
        return -1;
    amx_config_fill();
    int8_t *q = g_act;
    float *sc = (float *)(void *)((char *)g_act + (qbytes + 63) / 64 * 64);
    gemm_step_t g = { .n = n, .b = b, .cols = cols, .nkb = nkb, .n_chunks = n_chunks, .w = w, .x = x, .y = y,
                      .ldy = ldy, .start = start, .q = q, .sc = sc, .ntt = ntt };
    llm_team_run(gemm_step_amx, &g);
    return 0;
}
#else
int llm_gemm_amx(void) { return 0; }
int llm_gemm_set_amx(int on) { (void)on; return 0; }
#endif /* LLM_X86 */

/* ================================================================ the product */

static void gemm_step(void *arg, int th, int nt)
{
    gemm_step_t *g = arg;
    const int n = g->n, b = g->b, cols = g->cols, nkb = g->nkb, n_chunks = g->n_chunks, wide = g->wide;
    const llm_mat_t *const *w = g->w;
    const float *x = g->x;
    float *const *y = g->y;
    const int *ldy = g->ldy, *start = g->start;
    const llm_isa_t isa = g->isa;
    const size_t pbytes = g->pbytes;
    (void)n, (void)isa;
    int64_t lo, hi;
    llm_team_split(b, th, nt, &lo, &hi);
    for (int t = (int)lo; t < (int)hi; t++) {
        if (wide)
            act_quantize16(x + (size_t)t * cols, cols, (gemm_act16_t *)g_act + (size_t)t * nkb);
#ifdef LLM_X86
        else if (isa == LLM_ISA_AVX512)
            act_quantize_avx512(x + (size_t)t * cols, cols, (gemm_act_t *)g_act + (size_t)t * nkb);
#endif
        else
            act_quantize(x + (size_t)t * cols, cols, (gemm_act_t *)g_act + (size_t)t * nkb);
    }
    llm_team_barrier(th); /* every token quantized before any panel uses it */
    unsigned char *pb = g_panel[th];
    for (int ci; (ci = atomic_fetch_add_explicit(&g->next, 1, memory_order_relaxed)) < n_chunks;) {
        int m = 0;
        while (ci >= start[m + 1])
            m++;
        const llm_mat_t *wm = w[m];
        const int rows = wm->rows, sub16 = llm_type_subblock(wm->type) == 16;
        const int c0 = (ci - start[m]) * GR * GC;
        int np = 0;
        for (; np < GC && c0 + np * GR < rows; np++) {
            const int r0 = c0 + np * GR;
            panel_build(wm, r0, rows - r0 < GR ? rows - r0 : GR, wide, pb + (size_t)np * pbytes);
        }
        const int tile = wide ? GT2 : GT;
        for (int t0 = 0; t0 < b; t0 += tile)
        for (int j = 0; j < np; j++) {
            const unsigned char *p = pb + (size_t)j * pbytes;
            const int r0 = c0 + j * GR, nr = rows - r0 < GR ? rows - r0 : GR;
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
                mk_avx512(p, nkb, sub16, wm->type == LLM_Q8_0 || wm->type == LLM_Q4_0, a, yt, nr);
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

/* n matrices of the same cols on the same X: X quantized once, the panels
 * of all of them shared out among the threads in one parallel region. */
void llm_gemm_q_n(int n, const llm_mat_t *const *w, const float *x, int b, float *const *y, const int *ldy)
{
    const int cols = w[0]->cols, nkb = cols / LLM_QK;
    const llm_isa_t isa = llm_kernels_isa();
    const int wide = isa == LLM_ISA_AVX2;
    const size_t act_b = wide ? sizeof(gemm_act16_t) : sizeof(gemm_act_t);
    int n_chunks = 0, start[17];
    if (n > 16 || b <= 0)
        return;
    for (int m = 0; m < n; m++) {
        start[m] = n_chunks;
        n_chunks += (w[m]->rows + GR * GC - 1) / (GR * GC);
    }
    start[n] = n_chunks;
    if (n_chunks == 0)
        return;
#ifdef LLM_X86
    if (isa == LLM_ISA_AVX512 && llm_gemm_amx() && gemm_q_n_amx(n, w, x, b, y, ldy) == 0)
        return;
#endif
    const size_t pbytes = panel_bytes(cols, wide);
    if (gemm_reserve(act_b * (size_t)b * (size_t)nkb, GC * pbytes) != 0) {
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
    gemm_step_t g = { .n = n, .b = b, .cols = cols, .nkb = nkb, .n_chunks = n_chunks, .wide = wide, .w = w, .x = x, .y = y,
                      .ldy = ldy, .start = start, .isa = isa, .pbytes = pbytes };
    llm_team_run(gemm_step, &g);
}

void llm_gemm_q(const llm_mat_t *w, const float *x, int b, float *y, int ldy)
{
    if (w->rows > 0)
        llm_gemm_q_n(1, &w, x, b, &y, &ldy);
}
