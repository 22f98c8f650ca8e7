/* The MoE token step's kernels (llm_moe_kern.c) against the portable C
 * path: the Q8_0 dot with gathered scales for every block count 1..40 (the
 * 16-block steps, their masked tails, odd blocks), and the fused step
 * (gate, up, SwiGLU, down summed by weight) against products computed one by
 * one with the C kernels, in F32 and Q8_0; the fused step's bits are the same
 * for 1 and 2 threads. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "../../llm/llm.h"
#include "../../llm/llm_moe.h"

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static uint64_t rng = 88172645463325252ull;
static float uniform(void) /* in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void fill(float *v, int n, float scale)
{
    for (int i = 0; i < n; i++)
        v[i] = scale * uniform();
}

static void test_dot(void)
{
    enum { NBMAX = 40 };
    const int n = NBMAX * LLM_QK;
    float *w = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n), *xd = malloc(sizeof(float) * NBMAX);
    llm_block_q8_0_t *row = malloc(sizeof(llm_block_q8_0_t) * NBMAX);
    llm_block_q8x_t *xq = malloc(sizeof(llm_block_q8x_t) * NBMAX);
    int checked = 0;
    for (int nb = 1; nb <= NBMAX; nb++)
        for (int rep = 0; rep < 4; rep++) {
            const int len = nb * LLM_QK;
            /* Blocks of very different magnitudes, so that a scale applied
             * to the wrong block shows. */
            for (int b = 0; b < nb; b++) {
                fill(w + b * LLM_QK, LLM_QK, ldexpf(1.0f, (b * 7 + rep) % 9 - 4));
                fill(x + b * LLM_QK, LLM_QK, ldexpf(1.0f, (b * 5 + rep) % 7 - 3));
            }
            llm_quantize_row(LLM_Q8_0, w, row, len);
            llm_quantize_row_q8x(x, xq, len);
            for (int b = 0; b < nb; b++)
                xd[b] = xq[b].d;
            CHECK(llm_kernels_select(LLM_ISA_C) == CB_OK);
            float ref = llm_dot_row(LLM_Q8_0, row, x, xq, len), mag = 0;
            for (int b = 0; b < nb; b++)
                mag += fabsf(llm_fp16_to_fp32(row[b].d) * xq[b].d) * 127 * 127 * LLM_QK;
            for (int isa = LLM_ISA_C; isa <= LLM_ISA_AVX512; isa++) {
                if (llm_kernels_select((llm_isa_t)isa) != CB_OK) {
                    cb_error_clear();
                    continue;
                }
                float got = llm_moe_dot_row(LLM_Q8_0, row, x, xq, xd, len);
                if (!(fabsf(got - ref) <= 1e-6f * mag)) {
                    printf("FAIL: Q8_0 dot, %d blocks, %s: %.9g, the C path %.9g\n", nb, llm_isa_names[isa], got, ref);
                    failures++;
                }
                checked++;
            }
        }
    printf("Q8_0 dots of 1..%d blocks: %d checked against the C path\n", NBMAX, checked);
    free(xq);
    free(row);
    free(xd);
    free(x);
    free(w);
}

/* A matrix of rows x cols in `type` from random floats. */
static llm_mat_t mat(int type, int rows, int cols, float scale)
{
    llm_mat_t m = { type, rows, cols, llm_type_bytes(type, cols), NULL };
    float *f = malloc(sizeof(float) * (size_t)cols);
    m.data = malloc(m.row_bytes * (size_t)rows);
    for (int r = 0; r < rows; r++) {
        fill(f, cols, scale);
        llm_quantize_row(type, f, (char *)m.data + (size_t)r * m.row_bytes, cols);
    }
    free(f);
    return m;
}

static void test_step(int type, llm_isa_t isa)
{
    enum { DIM = 224, H = 96, N = 5 }; /* 7 and 3 blocks: odd counts, a tail */
    if (llm_kernels_select(isa) != CB_OK) {
        cb_error_clear();
        return;
    }
    const int widths[N] = { 96, 64, 96, 32, 96 };
    llm_mat_t g[N], u[N], d[N];
    llm_moe_token_t t;
    memset(&t, 0, sizeof t);
    t.n = N;
    t.hmax = H;
    for (int i = 0; i < N; i++) {
        g[i] = mat(type, widths[i], DIM, 0.2f);
        u[i] = mat(type, widths[i], DIM, 0.2f);
        d[i] = mat(type, DIM, widths[i], 0.2f);
        t.wg[i] = &g[i];
        t.wu[i] = &u[i];
        t.wd[i] = &d[i];
        t.a[i] = 0.1f + 0.2f * (float)i;
    }
    float x[DIM], y1[DIM], y2[DIM], ref[DIM] = { 0 }, hg[H], hu[H], yd[DIM];
    fill(x, DIM, 1.0f);
    t.hg = malloc(sizeof(float) * N * H);
    t.hu = malloc(sizeof(float) * N * H);
    t.xq = malloc(sizeof(llm_block_q8x_t) * (DIM / LLM_QK + 1));
    t.xd = malloc(sizeof(float) * (DIM / LLM_QK + 1));
    t.hq = malloc(sizeof(llm_block_q8x_t) * N * (H / LLM_QK + 1));
    t.hd = malloc(sizeof(float) * N * (H / LLM_QK + 1));
    CHECK(llm_moe_token_fusable(&t));
    /* The reference: product by product with the portable kernels. */
    llm_block_q8x_t xq[DIM / LLM_QK + 1];
    CHECK(llm_kernels_select(LLM_ISA_C) == CB_OK);
    float mag = 0;
    for (int i = 0; i < N; i++) {
        llm_matvec(&g[i], x, xq, hg);
        llm_matvec(&u[i], x, xq, hu);
        for (int j = 0; j < widths[i]; j++)
            hg[j] = hg[j] / (1.0f + expf(-hg[j])) * hu[j];
        llm_matvec(&d[i], hg, xq, yd);
        for (int r = 0; r < DIM; r++) {
            ref[r] += t.a[i] * yd[r];
            mag += fabsf(t.a[i] * yd[r]);
        }
    }
    mag /= DIM;
    CHECK(llm_kernels_select(isa) == CB_OK);
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    llm_moe_token_experts(&t, x, y1);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    llm_moe_token_experts(&t, x, y2);
    double worst = 0;
    for (int r = 0; r < DIM; r++)
        worst = fmax(worst, fabs(y1[r] - ref[r]));
    /* The same quantizer on both sides: only the order of the sums differs. */
    const double tol = 1e-5 * mag + 1e-6;
    if (!(worst <= tol)) {
        printf("FAIL: fused step %s %s: differs from the products one by one by %.3g (> %.3g)\n", llm_type_name(type),
               llm_isa_names[isa], worst, tol);
        failures++;
    }
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
    printf("fused step %s %s: within %.2g of the products one by one; 1 and 2 threads bitwise equal\n", llm_type_name(type),
           llm_isa_names[isa], worst);
    free(t.hd); free(t.hq); free(t.xd); free(t.xq); free(t.hu); free(t.hg);
    for (int i = 0; i < N; i++) {
        free(d[i].data);
        free(u[i].data);
        free(g[i].data);
    }
}

int main(void)
{
    test_dot();
    for (int isa = LLM_ISA_C; isa <= LLM_ISA_AVX512; isa++) {
        test_step(LLM_F32, (llm_isa_t)isa);
        test_step(LLM_Q8_0, (llm_isa_t)isa);
    }
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
