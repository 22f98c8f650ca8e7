/* hpl's own DGEMM against a triple loop in long double, on every ISA path
 * this CPU has, over shapes that hit every edge of the tiles and blocks.
 * `test_dgemm bench M N K [REPS]` times it against the BLAS instead (median
 * Gflops of alternating runs; a benchmark, not a test). */
#include <cblas.h>
#include <float.h>
#include <stdlib.h>
#include "hpl.h"
#include "../cb_check.h"

/* A reproducible fill in [-0.5, 0.5) */
static uint64_t lcg = 12345;
static double rnd(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) / 9007199254740992.0 - 0.5;
}

/* The largest error over C's m x n part in units of the bound
 * (k + 2) eps (|alpha| (|A| |op B|)_ij + |C0_ij|) (the error of a sum of k
 * products each rounded, then alpha applied and C added); the padding rows
 * of ldc must be untouched. Returns -1 when they were. */
static double worst_ratio(int transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                          const double *b, int64_t ldb, const double *c0, const double *c, int64_t ldc)
{
    double worst = 0.0;
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < m; i++) {
            long double s = 0.0L, mag = 0.0L;
            for (int64_t p = 0; p < k; p++) {
                double bv = transb ? b[j + p * ldb] : b[p + j * ldb];
                s += (long double)a[i + p * lda] * bv;
                mag += fabsl((long double)a[i + p * lda] * bv);
            }
            long double want = (long double)c0[i + j * ldc] + (long double)alpha * s;
            long double bound = (k + 2) * DBL_EPSILON * (fabsl((long double)alpha) * mag + fabsl((long double)c0[i + j * ldc]));
            if (bound == 0.0L) bound = DBL_MIN;
            double r = (double)(fabsl((long double)c[i + j * ldc] - want) / bound);
            if (!(r <= worst)) worst = r;   /* NaN counts as worst */
        }
        for (int64_t i = m; i < ldc; i++)
            if (memcmp(&c[i + j * ldc], &c0[i + j * ldc], sizeof(double)) != 0) return -1.0;
    }
    return worst;
}

typedef struct { int64_t m, n, k; } shape_t;

/* One case on the selected path: random A, B, C with odd leading
 * dimensions; the worst error ratio (<= 1 passes), or -1. */
static double run_case(int transb, shape_t s, double alpha, int pad, int perturb)
{
    int64_t lda = s.m + pad, ldb = (transb ? s.n : s.k) + pad, ldc = s.m + pad;
    int64_t bcols = transb ? s.k : s.n;
    double *a = malloc(sizeof(double) * (size_t)(lda * s.k));
    double *b = malloc(sizeof(double) * (size_t)(ldb * bcols));
    double *c = malloc(sizeof(double) * (size_t)(ldc * s.n));
    double *c0 = malloc(sizeof(double) * (size_t)(ldc * s.n));
    for (int64_t i = 0; i < lda * s.k; i++) a[i] = rnd();
    for (int64_t i = 0; i < ldb * bcols; i++) b[i] = rnd();
    for (int64_t i = 0; i < ldc * s.n; i++) c0[i] = c[i] = rnd();
    CHECK(hpl_dgemm(transb, s.m, s.n, s.k, alpha, a, lda, b, ldb, c, ldc) == CB_OK);
    if (perturb) c[(s.m - 1) + (s.n - 1) * ldc] += 1e-6;
    double r = worst_ratio(transb, s.m, s.n, s.k, alpha, a, lda, b, ldb, c0, c, ldc);
    free(c0);
    free(c);
    free(b);
    free(a);
    return r;
}

static int bench(int argc, char **argv)
{
    int64_t m = atoll(argv[2]), n = atoll(argv[3]), k = atoll(argv[4]);
    int reps = argc > 5 ? atoi(argv[5]) : 5;
    if (m <= 0 || n <= 0 || k <= 0 || reps <= 0 || reps > 100) {
        fprintf(stderr, "usage: test_dgemm bench M N K [REPS 1-100]\n");
        return 2;
    }
    double *a = malloc(sizeof(double) * (size_t)(m * k)), *b = malloc(sizeof(double) * (size_t)(k * n));
    double *c = calloc((size_t)(m * n), sizeof(double));
    for (int64_t i = 0; i < m * k; i++) a[i] = rnd();
    for (int64_t i = 0; i < k * n; i++) b[i] = rnd();
    double g[2][100];
    for (int rep = -1; rep < reps; rep++)
        for (int own = 0; own < 2; own++) {
            hpl_dgemm_use_own(own);
            double t0 = cb_now();
            hpl_gemm(0, m, n, k, -1.0, a, m, b, k, c, m);
            double el = cb_now() - t0;
            if (rep >= 0) g[own][rep] = 2.0 * m * n * k / el * 1e-9;
        }
    cb_stats_t so, sb;
    cb_stats_compute(g[1], reps, &so);
    cb_stats_compute(g[0], reps, &sb);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("# M=%lld N=%lld K=%lld, %d alternating reps, one thread, median (min-max) Gflops\n", (long long)m,
           (long long)n, (long long)k, reps);
    printf("own %-7s %7.2f (%.2f-%.2f)\nblas %-6s %7.2f (%.2f-%.2f)  [%s, OPENBLAS_CORETYPE=%s]\nown/blas %.3f\n",
           hpl_dgemm_isa_name(), so.p50, so.min, so.max, "", sb.p50, sb.min, sb.max, cb_blas_coretype(),
           ct ? ct : "(unset)", so.p50 / sb.p50);
    free(c);
    free(b);
    free(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "bench") == 0) return bench(argc, argv);

    /* m, n around the tiles (8, 12, 24 rows; 4, 8 columns), k = 1, hpl's
     * NB, and past the k block (384) so that it is split */
    static const shape_t shapes[] = {
        { 1, 1, 1 }, { 1, 9, 3 }, { 7, 1, 1 }, { 8, 4, 2 }, { 11, 3, 5 }, { 12, 4, 1 }, { 13, 5, 17 },
        { 23, 7, 31 }, { 24, 8, 64 }, { 25, 9, 192 }, { 47, 15, 7 }, { 48, 16, 1 }, { 50, 17, 100 },
        { 100, 33, 192 }, { 3, 70, 192 }, { 130, 2, 192 }, { 65, 41, 385 }, { 29, 13, 800 },
        { 97, 1400, 20 },   /* n past one packed B block (n blocks of about 680 at k 192) */
        { 200, 700, 192 },
    };
    static const double alphas[] = { -1.0, 0.75 };
    int paths = 0;
    for (int isa = HPL_ISA_C; isa <= HPL_ISA_AVX512; isa++) {
        if (!hpl_dgemm_cpu_has((hpl_isa_t)isa)) {
            printf("# %s: not on this CPU, skipped\n", hpl_dgemm_isa_names[isa]);
            continue;
        }
        CHECK(hpl_dgemm_set_isa((hpl_isa_t)isa) == CB_OK);
        CHECK_STR(hpl_dgemm_isa_name(), hpl_dgemm_isa_names[isa]);
        paths++;
        double worst = 0.0;
        int cases = 0;
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
            for (int transb = 0; transb < 2; transb++)
                for (int ai = 0; ai < 2; ai++) {
                    int pad = (int)(s + transb + ai) % 2 ? 3 : 0;   /* odd and tight leading dimensions */
                    double r = run_case(transb, shapes[s], alphas[ai], pad, 0);
                    if (!(r >= 0.0 && r <= 1.0))
                        fprintf(stderr, "FAIL %s m=%lld n=%lld k=%lld trans=%d alpha=%g pad=%d: error %.3g bounds (-1: "
                                "padding written)\n", hpl_dgemm_isa_names[isa], (long long)shapes[s].m,
                                (long long)shapes[s].n, (long long)shapes[s].k, transb, alphas[ai], pad, r);
                    CHECK(r >= 0.0 && r <= 1.0);
                    if (r > worst) worst = r;
                    cases++;
                }
        printf("# %s: %d cases, worst error %.3f of the bound (k+2) eps (|alpha| |A||B| + |C|)\n",
               hpl_dgemm_isa_names[isa], cases, worst);
        /* the comparison can fail: one entry moved by 1e-6 is caught */
        double bad = run_case(0, (shape_t){ 30, 10, 192 }, -1.0, 1, 1);
        CHECK(bad > 1.0);
        /* zero sizes and alpha 0 leave C alone */
        double c1 = 3.0;
        CHECK(hpl_dgemm(0, 0, 1, 1, -1.0, &c1, 1, &c1, 1, &c1, 1) == CB_OK && c1 == 3.0);
        CHECK(hpl_dgemm(0, 1, 1, 0, -1.0, &c1, 1, &c1, 1, &c1, 1) == CB_OK && c1 == 3.0);
    }
    CHECK(paths >= 1);
    /* a path the CPU lacks is refused, not run */
    for (int isa = HPL_ISA_C; isa <= HPL_ISA_AVX512; isa++)
        if (!hpl_dgemm_cpu_has((hpl_isa_t)isa)) CHECK(hpl_dgemm_set_isa((hpl_isa_t)isa) == CB_ERR_UNSUPPORTED);
    cb_error_clear();
    hpl_dgemm_release();
    return cb_check_exit();
}
