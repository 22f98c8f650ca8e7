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
#include "../../llm/llm_kern.h"
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
 * bound the type promises, as a fraction of the block's largest magnitude
 * (the super-block's for the K-quants). */
static void test_roundtrip(int type, double bound, double rms_bound)
{
    const int G = llm_type_block(type) == LLM_QK_K ? LLM_QK_K : 32;
    enum { N = 4096 };
    static float x[N], y[N];
    static unsigned char q[N * 4];
    for (int i = 0; i < N; i++)
        x[i] = uniform() * (1 + (i / 32) % 7); /* blocks of different scales */
    llm_quantize_row(type, x, q, N);
    llm_dequantize_row(type, q, y, N);
    double worst = 0, se = 0, sx = 0;
    for (int b = 0; b < N / G; b++) {
        double amax = 0;
        for (int j = 0; j < G; j++)
            amax = fmax(amax, fabs(x[b * G + j]));
        for (int j = 0; j < G; j++) {
            double e = fabs((double)y[b * G + j] - x[b * G + j]);
            worst = fmax(worst, e / amax);
            se += e * e;
            sx += (double)x[b * G + j] * x[b * G + j];
        }
    }
    double rms = sqrt(se / sx);
    printf("%-5s round trip: worst %.3g of the block maximum (bound %.3g), rms %.3g (bound %.3g)\n",
           llm_type_name(type), worst, bound, rms, rms_bound);
    CHECK(worst <= bound);
    CHECK(rms <= rms_bound);
}

/* Random block bytes (every bit pattern of levels and sub-block scales),
 * with the fp16 scale fields set to finite values of either sign. */
static void random_blocks(int type, unsigned char *q, int64_t n)
{
    size_t bb = llm_type_block_bytes(type), nb = (size_t)(n / llm_type_block(type));
    for (size_t i = 0; i < nb * bb; i++)
        q[i] = (unsigned char)(uniform() * 128 + 128);
    for (size_t i = 0; i < nb; i++) {
        unsigned char *b = q + i * bb;
        uint16_t h0 = llm_fp32_to_fp16(uniform() * 0.05f), h1 = llm_fp32_to_fp16(uniform() * 0.05f);
        size_t o0 = 0, o1 = 2; /* offsets of d and (dmin | m) */
        switch (type) {
        case LLM_Q2_K: o0 = 80; o1 = 82; break;
        case LLM_Q3_K: o0 = 108; o1 = SIZE_MAX; break;
        case LLM_Q6_K: o0 = 208; o1 = SIZE_MAX; break;
        case LLM_Q4_0: case LLM_Q8_0: case LLM_Q5_0: o1 = SIZE_MAX; break;
        }
        memcpy(b + o0, &h0, 2);
        if (o1 != SIZE_MAX)
            memcpy(b + o1, &h1, 2);
    }
}

static const int kernel_types[] = { LLM_F32, LLM_F16, LLM_BF16, LLM_Q8_0, LLM_Q4_0, LLM_Q4_1, LLM_Q5_0, LLM_Q5_1,
                                    LLM_Q2_K, LLM_Q3_K, LLM_Q4_K, LLM_Q5_K, LLM_Q6_K };
#define N_KTYPES ((int)(sizeof kernel_types / sizeof kernel_types[0]))
enum { N_LENS = 6, ROWS = 70, B = 37 };
static float c_dots[N_KTYPES][N_LENS][2][ROWS]; /* the portable path's dots: [type][len][random bytes?][row] */
static float c_mm[N_KTYPES][N_LENS][B * ROWS];  /* and its matrix products of 37 tokens */

static void test_kernels(llm_isa_t isa)
{
    static const int lens[N_LENS] = { 32, 64, 96, 160, 4096, 4128 };
    static const int lens_k[N_LENS] = { 256, 512, 768, 1280, 4096, 4352 };
    if (llm_kernels_select(isa) != CB_OK) {
        printf("kernels %s: not on this CPU, skipped\n", llm_isa_names[isa]);
        cb_error_clear();
        return;
    }
    enum { NMAX = 4352 };
    float *x = malloc(sizeof(float) * NMAX * B), *w = malloc(sizeof(float) * NMAX * ROWS);
    float *wd = malloc(sizeof(float) * NMAX), *xd = malloc(sizeof(float) * NMAX), *y = malloc(sizeof(float) * ROWS * B);
    unsigned char *q = malloc(NMAX * 4 * ROWS);
    llm_block_q8x_t *xq = malloc(sizeof(llm_block_q8x_t) * (NMAX / 32));
    CHECK(llm_kernels_init_scratch(NMAX) == CB_OK);
    int bad = 0;
    for (int ti = 0; ti < N_KTYPES; ti++) {
        int type = kernel_types[ti];
        for (int li = 0; li < N_LENS; li++)
        for (int rnd = 0; rnd < 2; rnd++) {
            int n = llm_type_block(type) == LLM_QK_K ? lens_k[li] : lens[li];
            if (rnd && llm_type_block(type) == 1)
                continue;
            rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(ti * 1000 + li * 10 + rnd); /* the same data for every ISA */
            size_t rb = llm_type_bytes(type, n);
            for (int i = 0; i < n * B; i++)
                x[i] = uniform();
            for (int i = 0; i < n * ROWS; i++)
                w[i] = uniform();
            for (int r = 0; r < ROWS; r++)
                if (rnd)
                    random_blocks(type, q + r * rb, n);
                else
                    llm_quantize_row(type, w + (size_t)r * n, q + r * rb, n);
            /* x as the integer kernels see it */
            int act = llm_type_act(type);
            llm_quantize_act(type, x, xq, n);
            if (act == LLM_ACT_Q8X) {
                for (int b = 0; b < n / 32; b++)
                    for (int j = 0; j < 32; j++)
                        xd[b * 32 + j] = xq[b].d * xq[b].qs[j];
            } else if (act == LLM_ACT_Q8K) {
                const llm_block_q8_K_t *k = (const void *)xq;
                for (int b = 0; b < n / 256; b++)
                    for (int j = 0; j < 256; j++)
                        xd[b * 256 + j] = k[b].d * k[b].qs[j];
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
                /* float64 of the same integers: 1e-5 of the magnitude */
                if (fabs(got - ref) > 1e-5 * mag + 1e-6 || fabs(y[r] - ref) > 1e-5 * mag + 1e-6) {
                    if (bad++ < 5)
                        fprintf(stderr, "FAIL kernels %s %s n=%d%s row %d: dot %g matvec %g reference %g\n",
                                llm_isa_names[isa], llm_type_name(type), n, rnd ? " random" : "", r, got, y[r], ref);
                }
                /* against the portable path: the same sums in another order
                 * (the matvec's several-row kernels too, where the type has one) */
                if (isa == LLM_ISA_C)
                    c_dots[ti][li][rnd][r] = got;
                else if ((fabs(got - c_dots[ti][li][rnd][r]) > 2e-6 * mag + 1e-6 ||
                          fabs(y[r] - c_dots[ti][li][rnd][r]) > 2e-6 * mag + 1e-6) && bad++ < 5)
                    fprintf(stderr, "FAIL kernels %s %s n=%d%s row %d: dot %g matvec %g, portable C %g\n", llm_isa_names[isa],
                            llm_type_name(type), n, rnd ? " random" : "", r, got, y[r], c_dots[ti][li][rnd][r]);
            }
            /* A row's float does not depend on the rows beside it: the
             * first 1..6 rows alone (every tail of the several-row kernels). */
            for (int nr = 1; nr <= 6; nr++) {
                float ys[6];
                llm_mat_t mr = { type, nr, n, rb, q + (size_t)(ROWS - nr) * rb };
                llm_matvec(&mr, x, xq, ys);
                for (int r = 0; r < nr; r++)
                    if (ys[r] != y[ROWS - nr + r] && bad++ < 5)
                        fprintf(stderr, "FAIL matvec %s %s n=%d: row %d of %d rows %g, of %d rows %g\n", llm_isa_names[isa],
                                llm_type_name(type), n, ROWS - nr + r, nr, ys[r], ROWS, y[ROWS - nr + r]);
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
            if (rnd)
                continue;
            /* Matrix-matrix: the quantized types' GEMM sees each token
             * quantized per block of 32 (whatever the weight type), the float
             * types' sgemm the floats. Batches of 1, 5 (one partial tile),
             * 13 (a tile of 8 and a partial one; a partial AMX tile of 16) and
             * 37 tokens (tiles of 4, 8 and 16 and a partial one of each), 70
             * rows (four panels of 16 and a partial one; an AMX chunk of 64
             * rows and a partial one). Tolerance against float64: 1e-5 of the
             * magnitude; the offset form (ws u + wc, u = q + 128 for the
             * signed types) sums terms up to 2^8 times the products. */
            for (int bi = 0; bi < 4; bi++) {
                static const int batches[4] = { 1, 5, 13, B };
                const int nbt = batches[bi];
                llm_matmul(&m, x, nbt, y, ROWS);
                for (int b = 0; b < nbt; b++) {
                    const float *xb = x + (size_t)b * n;
                    if (act != LLM_ACT_F32) {
                        llm_quantize_row_q8x(xb, xq, n);
                        for (int k = 0; k < n / 32; k++)
                            for (int j = 0; j < 32; j++)
                                xd[k * 32 + j] = xq[k].d * xq[k].qs[j];
                        xb = xd;
                    }
                    for (int r = 0; r < ROWS; r++) {
                        llm_dequantize_row(type, q + r * rb, wd, n);
                        double ref = 0, mag = 0;
                        for (int i = 0; i < n; i++) {
                            ref += (double)wd[i] * xb[i];
                            mag += fabs((double)wd[i] * xb[i]);
                        }
                        float got = y[b * ROWS + r];
                        double tol = (act != LLM_ACT_F32 ? 2e-5 : 1e-5) * mag + 1e-6;
                        if (fabs(got - ref) > tol && bad++ < 5)
                            fprintf(stderr, "FAIL matmul %s %s n=%d b=%d (%d, %d): %g reference %g\n", llm_isa_names[isa],
                                    llm_type_name(type), n, nbt, b, r, got, ref);
                        if (bi == 3 && isa == LLM_ISA_C)
                            c_mm[ti][li][b * ROWS + r] = got;
                        else if (bi == 3 && fabs(got - c_mm[ti][li][b * ROWS + r]) > tol && bad++ < 5)
                            fprintf(stderr, "FAIL matmul %s %s n=%d (%d, %d): %g, portable C %g\n", llm_isa_names[isa],
                                    llm_type_name(type), n, b, r, got, c_mm[ti][li][b * ROWS + r]);
                    }
                }
            }
        }
    }
    /* Mixed activation forms in one llm_matvec_n: Q8_0, Q4_K, F32. */
    {
        int n = 512;
        size_t rb8 = llm_type_bytes(LLM_Q8_0, n), rbk = llm_type_bytes(LLM_Q4_K, n);
        unsigned char *q8 = q, *qk = q + 8 * rb8;
        float *wf = w, y8[8], yk[8], yf[8], r8[8], rk[8], rf[8];
        for (int i = 0; i < n; i++)
            x[i] = uniform();
        for (int r = 0; r < 8; r++) {
            llm_quantize_row(LLM_Q8_0, w + 8 * n, q8 + r * rb8, n);
            llm_quantize_row(LLM_Q4_K, w + 9 * n, qk + r * rbk, n);
        }
        llm_mat_t a = { LLM_Q8_0, 8, n, rb8, q8 }, k = { LLM_Q4_K, 8, n, rbk, qk }, f = { LLM_F32, 8, n, sizeof(float) * n, wf };
        const llm_mat_t *ms[3] = { &a, &k, &f };
        float *const ys[3] = { y8, yk, yf };
        llm_matvec_n(3, ms, x, xq, ys);
        llm_matvec(&a, x, xq, r8);
        llm_matvec(&k, x, xq, rk);
        llm_matvec(&f, x, xq, rf);
        for (int r = 0; r < 8; r++)
            if ((y8[r] != r8[r] || yk[r] != rk[r] || yf[r] != rf[r]) && bad++ < 5)
                fprintf(stderr, "FAIL mixed matvec_n %s row %d\n", llm_isa_names[isa], r);
        /* llm_matmul_n: the quantized ones in one region, the same floats as one by one */
        for (int i = 0; i < n * B; i++)
            x[i] = uniform();
        static float g1[B * 8], g2[B * 8], h1[B * 8], h2[B * 8];
        const llm_mat_t *mq[2] = { &a, &k };
        float *const yq[2] = { g1, g2 };
        llm_matmul_n(2, mq, x, B, yq);
        llm_matmul(&a, x, B, h1, 8);
        llm_matmul(&k, x, B, h2, 8);
        for (int i = 0; i < B * 8; i++)
            if ((g1[i] != h1[i] || g2[i] != h2[i]) && bad++ < 5)
                fprintf(stderr, "FAIL matmul_n %s element %d\n", llm_isa_names[isa], i);
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
    printf("kernels %s%s: dot, matvec, matvec_n and matmul of every type, axpy, read_sum %s\n", llm_isa_names[isa],
           llm_gemm_amx() ? " (GEMM on AMX tiles)" : "", bad ? "DIFFER" : "agree");
    CHECK(bad == 0);
    llm_kernels_free_scratch();
    free(xq); free(q); free(y); free(xd); free(wd); free(w); free(x);
}

/* The activation quantizers of an instruction set give the portable bytes
 * exactly: random rows at several scales, a block of zeros, a block of
 * exact ties (x * id = k + 1/2, rounded to even), denormals, and one large
 * value among small ones. */
static void test_quantize_act(llm_isa_t isa)
{
    if (llm_kernels_select(isa) != CB_OK) {
        printf("activation quantizers %s: not on this CPU, skipped\n", llm_isa_names[isa]);
        return;
    }
    enum { N = 4096 + 256 };
    float *x = malloc(sizeof(float) * N);
    llm_block_q8x_t *a = calloc(N / LLM_QK, sizeof *a), *b = calloc(N / LLM_QK, sizeof *b);
    llm_block_q8_K_t *c = calloc(N / LLM_QK_K, sizeof *c), *d = calloc(N / LLM_QK_K, sizeof *d);
    int bad = 0;
    for (int trial = 0; trial < 8; trial++) {
        const float scale = trial == 7 ? 1e-39f : (float)pow(10.0, trial - 3);
        for (int i = 0; i < N; i++)
            x[i] = uniform() * scale;
        for (int i = 256; i < 512; i++) /* a zero super-block */
            x[i] = trial & 1 ? -0.0f : 0.0f;
        x[512] = 127.0f; /* d = 1: ties at k + 0.5 */
        for (int i = 513; i < 768; i++)
            x[i] = (float)((i % 200) - 100) + 0.5f;
        x[1024 + trial] = 1e4f * scale;
        memset(a, 0x5a, sizeof *a * (N / LLM_QK));
        memset(b, 0xa5, sizeof *b * (N / LLM_QK));
        memset(c, 0x5a, sizeof *c * (N / LLM_QK_K));
        memset(d, 0xa5, sizeof *d * (N / LLM_QK_K));
        llm_quantize_row_q8x(x, a, N);
        llm_kernels_quantize_q8x(x, b, N);
        llm_quantize_row_q8_K(x, c, N);
        llm_kernels_quantize_q8_K(x, d, N);
        for (int i = 0; i < N / LLM_QK; i++)
            if (a[i].d != b[i].d || a[i].s[0] != b[i].s[0] || a[i].s[1] != b[i].s[1] || memcmp(a[i].qs, b[i].qs, LLM_QK)) {
                fprintf(stderr, "FAIL q8x %s trial %d block %d: d %g %g sums %d,%d %d,%d\n", llm_isa_names[isa], trial, i,
                        a[i].d, b[i].d, a[i].s[0], a[i].s[1], b[i].s[0], b[i].s[1]);
                bad++;
                break;
            }
        for (int i = 0; i < N / LLM_QK_K; i++)
            if (memcmp(&c[i], &d[i], sizeof c[i])) {
                fprintf(stderr, "FAIL q8_K %s trial %d block %d: d %g %g\n", llm_isa_names[isa], trial, i, c[i].d, d[i].d);
                bad++;
                break;
            }
    }
    printf("activation quantizers %s: q8x and Q8_K %s the portable bytes\n", llm_isa_names[isa], bad ? "DIFFER from" : "give");
    CHECK(bad == 0);
    free(x); free(a); free(b); free(c); free(d);
}

/* test_quant dequant TYPE IN OUT: llm_dequantize_row of the blocks in IN,
 * as float32 to OUT (for quant_numpy.py). */
static int dequant_file(const char *name, const char *in, const char *out)
{
    int type = llm_type_from_name(name);
    FILE *f = fopen(in, "rb"), *g = NULL;
    if (type < 0 || !f) {
        fprintf(stderr, "test_quant: %s: unknown type or unreadable\n", type < 0 ? name : in);
        return 2;
    }
    size_t bb = llm_type_block_bytes(type), blk = (size_t)llm_type_block(type), nb = 0;
    unsigned char *buf = malloc(bb * 4096);
    float *y = malloc(sizeof(float) * blk * 4096);
    nb = fread(buf, bb, 4096, f);
    fclose(f);
    llm_dequantize_row(type, buf, y, (int64_t)(nb * blk));
    g = fopen(out, "wb");
    int ok = g && fwrite(y, sizeof(float) * blk, nb, g) == nb;
    if (g)
        fclose(g);
    free(buf);
    free(y);
    return ok ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "dequant") == 0)
        return dequant_file(argv[2], argv[3], argv[4]);
    test_half();
    test_roundtrip(LLM_F32, 0, 0);
    test_roundtrip(LLM_F16, 1.0 / 2048, 1.0 / 2048);
    test_roundtrip(LLM_BF16, 1.0 / 256, 1.0 / 256);
    /* Q8_0: half a step of amax/127, plus the fp16 rounding of the scale. */
    test_roundtrip(LLM_Q8_0, 0.5 / 127 + 1.0 / 1024, 0.01);
    /* Q4_0: the largest magnitude maps to -8, so its opposite can clip at +7. */
    test_roundtrip(LLM_Q4_0, 1.0 / 8 + 1.0 / 1024, 0.12);
    /* The rest: half a step of their range (largest over the block, or
     * 2 amax over a sub-block for the types with a minimum), plus the
     * rounding of the scale. The rms: a uniform error of one step over a
     * uniform signal (step / sqrt(12) against amax / sqrt(3)), 20% margin. */
    test_roundtrip(LLM_Q4_1, 1.0 / 15 + 1.0 / 512, 0.08);
    test_roundtrip(LLM_Q5_0, 1.0 / 16 + 1.0 / 1024, 0.05);
    test_roundtrip(LLM_Q5_1, 1.0 / 31 + 1.0 / 512, 0.04);
    /* K-quants, against the super-block maximum A (sub-block ranges <= 2A):
     * half a level step, the rounding of the quantized scale times the
     * largest level, of the minimum, and (Q3_K, Q6_K) the clip of the
     * opposite extreme at the top level; plus fp16 rounding. */
    test_roundtrip(LLM_Q2_K, 1.0 / 3 + 1.0 / 15 + 1.0 / 30 + 1.0 / 512, 0.4);
    test_roundtrip(LLM_Q3_K, 1.0 / 4 + 1.0 / 64 + 1.0 / 512, 0.15);
    test_roundtrip(LLM_Q4_K, 1.0 / 15 + 1.0 / 63 + 1.0 / 126 + 1.0 / 512, 0.08);
    test_roundtrip(LLM_Q5_K, 1.0 / 31 + 1.0 / 63 + 1.0 / 126 + 1.0 / 512, 0.04);
    test_roundtrip(LLM_Q6_K, 1.0 / 32 + 1.0 / 64 + 1.0 / 256 + 1.0 / 512, 0.02);
    test_quantize_act(LLM_ISA_C);
    test_quantize_act(LLM_ISA_AVX2);
    test_quantize_act(LLM_ISA_AVX512);
    test_kernels(LLM_ISA_C);
    test_kernels(LLM_ISA_AVX2);
    test_kernels(LLM_ISA_AVX512);
    /* Where the GEMM ran on AMX tiles: again on AVX-512 VNNI alone. */
    if (llm_gemm_amx()) {
        llm_gemm_set_amx(0);
        test_kernels(LLM_ISA_AVX512);
        llm_gemm_set_amx(1);
    }
    /* The AVX-512 one-row dots in the matvec too, in place of the several-row kernels. */
    setenv("LLM_NO_DOTROWS", "all", 1);
    test_kernels(LLM_ISA_AVX512);
    unsetenv("LLM_NO_DOTROWS");
    /* The matvec's threads taking chunks in turn (of 1000 bytes: many, ending mid-row and mid-matrix). */
    setenv("LLM_MATVEC_CHUNK", "1000", 1);
    test_kernels(LLM_ISA_C);
    test_kernels(LLM_ISA_AVX512);
    unsetenv("LLM_MATVEC_CHUNK");
    /* And the several-row kernels four rows a call (their tails: 1..3). */
    setenv("LLM_DOTROWS_NR", "4", 1);
    test_kernels(LLM_ISA_AVX512);
    unsetenv("LLM_DOTROWS_NR");
    return cb_check_exit();
}
