/* Tensor types and kernels: half-precision conversions round-trip exactly,
 * each type's quantization error stays within its bound, and every kernel
 * set the CPU has (C, AVX2, AVX-512) computes the dot products, the
 * matrix-vector and the matrix-matrix products of a float64 reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "../../llm/llm.h"
#include "../cb_check.h"

static uint64_t rng = 88172645463325252ull;
static float uniform(void) /* [-1, 1) */
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 8388608.0) - 1.0);
}

static void test_half(void)
{
    int bad16 = 0, bad_bf = 0;
    for (int h = 0; h < 65536; h++) {
        float f = llm_fp16_to_fp32((uint16_t)h);
        if (!isnan(f) && llm_fp32_to_fp16(f) != h)
            bad16++;
        float b = llm_bf16_to_fp32((uint16_t)h);
        if (!isnan(b) && llm_fp32_to_bf16(b) != h)
            bad_bf++;
    }
    CHECK(bad16 == 0);
    CHECK(bad_bf == 0);
    CHECK(llm_fp32_to_fp16(1.0f + 1.0f / 2048) == 0x3c00);          /* tie to even: down */
    CHECK(llm_fp32_to_fp16(1.0f + 3.0f / 2048) == 0x3c02);          /* tie to even: up */
    CHECK(llm_fp32_to_fp16(65520.0f) == 0x7c00);                    /* overflow to inf */
    CHECK(llm_fp16_to_fp32(0x0001) == ldexpf(1.0f, -24));           /* smallest subnormal */
    CHECK(llm_fp32_to_fp16(ldexpf(1.0f, -25)) == 0);                /* half of it: to even, 0 */
    CHECK(llm_fp32_to_fp16(ldexpf(3.0f, -26)) == 1);
}

/* Quantize and dequantize a row; the largest error of a block against the
 * bound the type promises, as a fraction of the block's largest magnitude. */
static void test_roundtrip(int type, double bound, double rms_bound)
{
    enum { N = 4096 };
    static float x[N], y[N];
    static unsigned char q[N * 4];
    for (int i = 0; i < N; i++)
        x[i] = uniform() * (1 + (i / 32) % 7); /* blocks of different scales */
    llm_quantize_row(type, x, q, N);
    llm_dequantize_row(type, q, y, N);
    double worst = 0, se = 0, sx = 0;
    for (int b = 0; b < N / 32; b++) {
        double amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmax(amax, fabs(x[b * 32 + j]));
        for (int j = 0; j < 32; j++) {
            double e = fabs((double)y[b * 32 + j] - x[b * 32 + j]);
            worst = fmax(worst, e / amax);
            se += e * e;
            sx += (double)x[b * 32 + j] * x[b * 32 + j];
        }
    }
    double rms = sqrt(se / sx);
    printf("%-5s round trip: worst %.3g of the block maximum (bound %.3g), rms %.3g (bound %.3g)\n",
           llm_type_name(type), worst, bound, rms, rms_bound);
    CHECK(worst <= bound);
    CHECK(rms <= rms_bound);
}

static void test_kernels(llm_isa_t isa)
{
    static const int types[] = { LLM_F32, LLM_F16, LLM_BF16, LLM_Q8_0, LLM_Q4_0 };
    static const int lens[] = { 32, 64, 96, 160, 4096, 4128 };
    if (llm_kernels_select(isa) != CB_OK) {
        printf("kernels %s: not on this CPU, skipped\n", llm_isa_names[isa]);
        cb_error_clear();
        return;
    }
    enum { NMAX = 4128, ROWS = 70, B = 5 };
    float *x = malloc(sizeof(float) * NMAX * B), *w = malloc(sizeof(float) * NMAX * ROWS);
    float *wd = malloc(sizeof(float) * NMAX), *xd = malloc(sizeof(float) * NMAX), *y = malloc(sizeof(float) * ROWS * B);
    unsigned char *q = malloc(NMAX * 4 * ROWS);
    llm_block_q8x_t *xq = malloc(sizeof(llm_block_q8x_t) * (NMAX / 32));
    CHECK(llm_kernels_init_scratch(NMAX) == CB_OK);
    int bad = 0;
    for (int ti = 0; ti < 5; ti++) {
        int type = types[ti];
        for (int li = 0; li < 6; li++) {
            int n = lens[li];
            size_t rb = llm_type_bytes(type, n);
            for (int i = 0; i < n * B; i++)
                x[i] = uniform();
            for (int i = 0; i < n * ROWS; i++)
                w[i] = uniform();
            for (int r = 0; r < ROWS; r++)
                llm_quantize_row(type, w + (size_t)r * n, q + r * rb, n);
            int quant_x = type == LLM_Q8_0 || type == LLM_Q4_0;
            /* x as the integer kernels see it */
            if (quant_x) {
                llm_quantize_row_q8x(x, xq, n);
                for (int b = 0; b < n / 32; b++)
                    for (int j = 0; j < 32; j++)
                        xd[b * 32 + j] = xq[b].d * xq[b].qs[j];
            } else {
                memcpy(xd, x, sizeof(float) * (size_t)n);
            }
            llm_mat_t m = { type, ROWS, n, rb, q };
            llm_matvec(&m, x, xq, y);
            for (int r = 0; r < ROWS; r++) {
                llm_dequantize_row(type, q + r * rb, wd, n);
                double ref = 0, mag = 0;
                for (int i = 0; i < n; i++) {
                    ref += (double)wd[i] * xd[i];
                    mag += fabs((double)wd[i] * xd[i]);
                }
                float got = llm_dot_row(type, q + r * rb, x, xq, n);
                if (fabs(got - ref) > 1e-5 * mag + 1e-6 || fabs(y[r] - ref) > 1e-5 * mag + 1e-6) {
                    if (bad++ < 5)
                        fprintf(stderr, "FAIL kernels %s %s n=%d row %d: dot %g matvec %g reference %g\n",
                                llm_isa_names[isa], llm_type_name(type), n, r, got, y[r], ref);
                }
            }
            /* The same rows as three matrices in one region: the same floats. */
            {
                float y3[ROWS];
                llm_mat_t m0 = { type, 9, n, rb, q }, m1 = { type, 0, n, rb, NULL },
                          m2 = { type, ROWS - 9, n, rb, q + 9 * rb };
                const llm_mat_t *ms[3] = { &m0, &m1, &m2 };
                float *const ys[3] = { y3, NULL, y3 + 9 };
                llm_matvec_n(3, ms, x, xq, ys);
                for (int r = 0; r < ROWS; r++)
                    if (y3[r] != y[r] && bad++ < 5)
                        fprintf(stderr, "FAIL matvec_n %s %s n=%d row %d: %g, matvec %g\n", llm_isa_names[isa],
                                llm_type_name(type), n, r, y3[r], y[r]);
            }
            /* Matrix-matrix (float activations, dequantized weights). */
            llm_matmul(&m, x, B, y, ROWS);
            for (int b = 0; b < B; b++)
                for (int r = 0; r < ROWS; r++) {
                    llm_dequantize_row(type, q + r * rb, wd, n);
                    double ref = 0, mag = 0;
                    for (int i = 0; i < n; i++) {
                        ref += (double)wd[i] * x[(size_t)b * n + i];
                        mag += fabs((double)wd[i] * x[(size_t)b * n + i]);
                    }
                    if (fabs(y[b * ROWS + r] - ref) > 1e-5 * mag + 1e-6 && bad++ < 5)
                        fprintf(stderr, "FAIL matmul %s %s n=%d (%d, %d): %g reference %g\n", llm_isa_names[isa],
                                llm_type_name(type), n, b, r, y[b * ROWS + r], ref);
                }
        }
    }
    /* The helpers: axpy (attention) and the roofline's read sum. */
    for (int n = 0; n <= 40; n += 5) {
        for (int i = 0; i < n; i++) {
            x[i] = uniform();
            y[i] = wd[i] = uniform();
        }
        llm_axpy(0.375f, x, y, n);
        for (int i = 0; i < n; i++)
            if (fabsf(y[i] - (wd[i] + 0.375f * x[i])) > 1e-6f && bad++ < 5)
                fprintf(stderr, "FAIL axpy %s n=%d [%d]: %g\n", llm_isa_names[isa], n, i, y[i]);
    }
    uint64_t *words = cb_alloc(sizeof(uint64_t) * 32 * 40, 0, "words"), want = 0; /* 64-byte aligned */
    CHECK(words != NULL);
    for (int i = 0; words && i < 32 * 40; i++)
        want += words[i] = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    if (words && llm_read_sum(words, 32 * 40) != want && bad++ < 5)
        fprintf(stderr, "FAIL read_sum %s\n", llm_isa_names[isa]);
    cb_free(words);
    printf("kernels %s: dot, matvec, matvec_n and matmul of every type, axpy, read_sum %s\n", llm_isa_names[isa], bad ? "DIFFER" : "agree");
    CHECK(bad == 0);
    llm_kernels_free_scratch();
    free(xq); free(q); free(y); free(xd); free(wd); free(w); free(x);
}

int main(void)
{
    test_half();
    test_roundtrip(LLM_F32, 0, 0);
    test_roundtrip(LLM_F16, 1.0 / 2048, 1.0 / 2048);
    test_roundtrip(LLM_BF16, 1.0 / 256, 1.0 / 256);
    /* Q8_0: half a step of amax/127, plus the fp16 rounding of the scale. */
    test_roundtrip(LLM_Q8_0, 0.5 / 127 + 1.0 / 1024, 0.01);
    /* Q4_0: the largest magnitude maps to -8, so its opposite can clip at +7. */
    test_roundtrip(LLM_Q4_0, 1.0 / 8 + 1.0 / 1024, 0.12);
    test_kernels(LLM_ISA_C);
    test_kernels(LLM_ISA_AVX2);
    test_kernels(LLM_ISA_AVX512);
    return cb_check_exit();
}
