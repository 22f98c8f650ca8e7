/* hpl's own DGEMM for the shapes it uses: C += alpha A op(B), column-major,
 * A m x k not transposed, op(B) k x n (B or B^T), beta = 1. It runs on the
 * CPU's widest vector unit whatever the BLAS was told (OPENBLAS_CORETYPE),
 * and computes every entry the same way wherever a tile falls, so the
 * update's tiling does not change a bit of the result. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "hpl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HPL_X86 1
#include <immintrin.h>
#endif

/* ================================================================ blocking
 *
 * Loops, outermost first: pc over k in blocks of at most HPL_DGEMM_KC; jc
 * over n in blocks of nc columns, op(B)'s block packed into kc x NR panels
 * (kc * nc * 8 bytes, about half of L2, so that it stays there); ir over m in
 * MR rows, A's micro-panel packed (MR x kc: it stays in L1 while the jr loop
 * streams B's panels past it from L2); jr over the nc columns in NR. The
 * micro-kernel holds the MR x NR tile of A op(B) in registers over all of
 * kc and adds alpha times it to C once, so C is read and written once per
 * kc (a 24 x 8 tile of 16 bytes per 2 kc flops per entry). Edges: the packed
 * panels are padded with zeros to MR and NR, the kernel stores only the
 * mr x nr corner that exists. */

#define HPL_DGEMM_KC 384          /* largest k block: hpl's NB 192 is one block */
#define HPL_DGEMM_B_BYTES (1 << 20) /* packed B block: half of a 2 MiB L2 */

/* One ISA path: its register tile and its micro-kernel, which adds alpha
 * times the (MR x kc) (kc x NR) product of the packed panels to the mr x nr
 * corner of C. */
typedef void (*hpl_kernel_fn)(int64_t kc, const double *ap, const double *bp, double alpha, double *c, int64_t ldc,
                              int mr, int nr);
typedef struct {
    const char *name;
    int mr, nr;
    hpl_kernel_fn kernel;
} hpl_dgemm_path_t;

/* ================================================================ packing */

/* A's rows [i0, i0+mr) over k columns [p0, p0+kc) into ap: MR per k, rows
 * past mr zero. */
static void pack_a(const double *a, int64_t lda, int64_t i0, int mr, int64_t p0, int64_t kc, int MR, double *ap)
{
    for (int64_t p = 0; p < kc; p++) {
        const double *col = a + i0 + (p0 + p) * lda;
        double *d = ap + p * MR;
        int i = 0;
        for (; i < mr; i++) d[i] = col[i];
        for (; i < MR; i++) d[i] = 0.0;
    }
}

/* op(B)'s rows [p0, p0+kc) and columns [j0, j0+nc) into panels of NR
 * columns: kc x NR each, NR per k, columns past nc zero. */
static void pack_b(int transb, const double *b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                   int NR, double *bp)
{
    for (int64_t jr = 0; jr < nc; jr += NR) {
        int nr = nc - jr < NR ? (int)(nc - jr) : NR;
        double *d = bp + jr * kc;
        if (transb) {
            /* op(B)(p, j) = b[j + p ldb]: NR contiguous per k */
            for (int64_t p = 0; p < kc; p++) {
                const double *row = b + (j0 + jr) + (p0 + p) * ldb;
                int j = 0;
                for (; j < nr; j++) d[p * NR + j] = row[j];
                for (; j < NR; j++) d[p * NR + j] = 0.0;
            }
        } else {
            /* op(B)(p, j) = b[p + j ldb]: one column at a time, NR apart */
            int j = 0;
            for (; j < nr; j++) {
                const double *col = b + p0 + (j0 + jr + j) * ldb;
                for (int64_t p = 0; p < kc; p++) d[p * NR + j] = col[p];
            }
            for (; j < NR; j++)
                for (int64_t p = 0; p < kc; p++) d[p * NR + j] = 0.0;
        }
    }
}

/* ================================================================ portable C */

#define C_MR 8
#define C_NR 4

static void kernel_c(int64_t kc, const double *ap, const double *bp, double alpha, double *c, int64_t ldc, int mr,
                     int nr)
{
    double acc[C_NR][C_MR] = { { 0 } };
    for (int64_t p = 0; p < kc; p++) {
        const double *a = ap + p * C_MR, *b = bp + p * C_NR;
        for (int j = 0; j < C_NR; j++)
            for (int i = 0; i < C_MR; i++) acc[j][i] += a[i] * b[j];
    }
    for (int j = 0; j < nr; j++)
        for (int i = 0; i < mr; i++) c[i + j * ldc] += alpha * acc[j][i];
}

#ifdef HPL_X86
/* ================================================================ AVX2 + FMA
 *
 * 12 x 4: 12 ymm accumulators, 3 loads of A and 4 broadcasts of B per k. */

#define HPL_AVX2 __attribute__((target("avx2,fma")))

/* The names of the accumulators are pasted: a function cannot do that. */
#define AVX2_STEP(j)                                  \
    b = _mm256_broadcast_sd(bp + (j));                \
    c0##j = _mm256_fmadd_pd(a0, b, c0##j);            \
    c1##j = _mm256_fmadd_pd(a1, b, c1##j);            \
    c2##j = _mm256_fmadd_pd(a2, b, c2##j)

HPL_AVX2 static inline __m256i avx2_mask(int n)
{
    /* lanes [0, n) set, n clamped to [0, 4] */
    n = n < 0 ? 0 : n > 4 ? 4 : n;
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_set_epi64x(3, 2, 1, 0));
}

HPL_AVX2 static inline void avx2_store(double *c, __m256d acc, __m256d va, __m256i m, int full)
{
    if (full) _mm256_storeu_pd(c, _mm256_fmadd_pd(acc, va, _mm256_loadu_pd(c)));
    else _mm256_maskstore_pd(c, m, _mm256_fmadd_pd(acc, va, _mm256_maskload_pd(c, m)));
}

HPL_AVX2 static void kernel_avx2(int64_t kc, const double *ap, const double *bp, double alpha, double *c,
                                 int64_t ldc, int mr, int nr)
{
    __m256d c00 = _mm256_setzero_pd(), c01 = c00, c02 = c00, c03 = c00;
    __m256d c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m256d c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    for (int j = 0; j < nr; j++) {
        _mm_prefetch((const char *)(c + j * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + j * ldc + 11), _MM_HINT_T0);
    }
    for (int64_t p = 0; p < kc; p++) {
        __m256d a0 = _mm256_load_pd(ap), a1 = _mm256_load_pd(ap + 4), a2 = _mm256_load_pd(ap + 8), b;
        AVX2_STEP(0); AVX2_STEP(1); AVX2_STEP(2); AVX2_STEP(3);
        ap += 12;
        bp += 4;
    }
    __m256d va = _mm256_set1_pd(alpha);
    int full = mr == 12;
    __m256i m0 = avx2_mask(mr), m1 = avx2_mask(mr - 4), m2 = avx2_mask(mr - 8);
    const __m256d acc[4][3] = { { c00, c10, c20 }, { c01, c11, c21 }, { c02, c12, c22 }, { c03, c13, c23 } };
    for (int j = 0; j < nr; j++) {
        double *cj = c + j * ldc;
        avx2_store(cj, acc[j][0], va, m0, full);
        if (mr > 4) avx2_store(cj + 4, acc[j][1], va, m1, full);
        if (mr > 8) avx2_store(cj + 8, acc[j][2], va, m2, full);
    }
}

/* ================================================================ AVX-512
 *
 * 24 x 8: 24 zmm accumulators, 3 loads of A and 8 broadcasts of B (folded
 * into the FMAs) per k: 24 FMAs to 11 loads, inside two loads a cycle. */

#define HPL_AVX512 __attribute__((target("avx512f,avx2,fma")))

#define AVX512_STEP(j)                                \
    b = _mm512_set1_pd(bp[j]);                        \
    c0##j = _mm512_fmadd_pd(a0, b, c0##j);            \
    c1##j = _mm512_fmadd_pd(a1, b, c1##j);            \
    c2##j = _mm512_fmadd_pd(a2, b, c2##j)

#define AVX512_STORE(j)                                                                      \
    if (nr > j) {                                                                            \
        double *cj = c + (j) * ldc;                                                          \
        _mm512_mask_storeu_pd(cj, k0, _mm512_fmadd_pd(c0##j, va, _mm512_maskz_loadu_pd(k0, cj)));          \
        _mm512_mask_storeu_pd(cj + 8, k1, _mm512_fmadd_pd(c1##j, va, _mm512_maskz_loadu_pd(k1, cj + 8)));  \
        _mm512_mask_storeu_pd(cj + 16, k2, _mm512_fmadd_pd(c2##j, va, _mm512_maskz_loadu_pd(k2, cj + 16))); \
    }

HPL_AVX512 static inline __mmask8 avx512_mask(int n) { return n <= 0 ? 0 : n >= 8 ? 0xff : (__mmask8)((1u << n) - 1); }

HPL_AVX512 static void kernel_avx512(int64_t kc, const double *ap, const double *bp, double alpha, double *c,
                                     int64_t ldc, int mr, int nr)
{
    __m512d c00 = _mm512_setzero_pd(), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00, c06 = c00, c07 = c00;
    __m512d c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00, c16 = c00, c17 = c00;
    __m512d c20 = c00, c21 = c00, c22 = c00, c23 = c00, c24 = c00, c25 = c00, c26 = c00, c27 = c00;
    /* C is needed only at the end: start fetching it now */
    for (int j = 0; j < nr; j++) {
        const char *cj = (const char *)(c + j * ldc);
        _mm_prefetch(cj, _MM_HINT_T0);
        _mm_prefetch(cj + 64, _MM_HINT_T0);
        _mm_prefetch(cj + 128, _MM_HINT_T0);
        _mm_prefetch(cj + 191, _MM_HINT_T0);
    }
    for (int64_t p = 0; p < kc; p++) {
        __m512d a0 = _mm512_load_pd(ap), a1 = _mm512_load_pd(ap + 8), a2 = _mm512_load_pd(ap + 16), b;
        AVX512_STEP(0); AVX512_STEP(1); AVX512_STEP(2); AVX512_STEP(3);
        AVX512_STEP(4); AVX512_STEP(5); AVX512_STEP(6); AVX512_STEP(7);
        ap += 24;
        bp += 8;
    }
    __m512d va = _mm512_set1_pd(alpha);
    __mmask8 k0 = avx512_mask(mr), k1 = avx512_mask(mr - 8), k2 = avx512_mask(mr - 16);
    AVX512_STORE(0) AVX512_STORE(1) AVX512_STORE(2) AVX512_STORE(3)
    AVX512_STORE(4) AVX512_STORE(5) AVX512_STORE(6) AVX512_STORE(7)
}
#endif /* HPL_X86 */

/* ================================================================ paths */

/* By hpl_isa_t, HPL_ISA_C onwards. */
static const hpl_dgemm_path_t paths[] = {
    { "c", C_MR, C_NR, kernel_c },
#ifdef HPL_X86
    { "avx2", 12, 4, kernel_avx2 },
    { "avx512", 24, 8, kernel_avx512 },
#else
    { "avx2", 0, 0, NULL },
    { "avx512", 0, 0, NULL },
#endif
};

const char *const hpl_dgemm_isa_names[] = { "auto", "c", "avx2", "avx512", NULL };
const char *const hpl_dgemm_mode_names[] = { "auto", "own", "blas", NULL };

static const hpl_dgemm_path_t *path = &paths[0];
static int path_chosen = 0;
static int use_own = 0;

int hpl_dgemm_cpu_has(hpl_isa_t isa)
{
#ifdef HPL_X86
    __builtin_cpu_init();
    if (isa == HPL_ISA_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == HPL_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return isa == HPL_ISA_C;
}

cb_status_t hpl_dgemm_set_isa(hpl_isa_t isa)
{
    if (isa == HPL_ISA_AUTO) {
        const char *e = getenv("HPL_DGEMM_ISA");
        isa = hpl_dgemm_cpu_has(HPL_ISA_AVX512) ? HPL_ISA_AVX512
              : hpl_dgemm_cpu_has(HPL_ISA_AVX2) ? HPL_ISA_AVX2 : HPL_ISA_C;
        for (int i = HPL_ISA_C; e && *e && hpl_dgemm_isa_names[i]; i++)
            if (strcmp(e, hpl_dgemm_isa_names[i]) == 0) {
                if (hpl_dgemm_cpu_has((hpl_isa_t)i)) isa = (hpl_isa_t)i;
                else cb_warn("HPL_DGEMM_ISA=%s: this CPU (or this build) lacks it; the own DGEMM runs %s", e,
                             hpl_dgemm_isa_names[isa]);
            }
    }
    if (isa < HPL_ISA_C || isa > HPL_ISA_AVX512 || !hpl_dgemm_cpu_has(isa)) {
        cb_error("own DGEMM: this CPU (or this build) lacks %s",
                 isa >= HPL_ISA_C && isa <= HPL_ISA_AVX512 ? hpl_dgemm_isa_names[isa] : "that ISA");
        return CB_ERR_UNSUPPORTED;
    }
    path = &paths[isa - HPL_ISA_C];
    path_chosen = 1;
    return CB_OK;
}

const char *hpl_dgemm_isa_name(void)
{
    if (!path_chosen) hpl_dgemm_set_isa(HPL_ISA_AUTO);
    return path->name;
}

/* ================================================================ driver */

/* Packing buffers, kept between calls (the update calls DGEMM for every
 * tile, and a fresh 1 MiB each time would cost its page faults). One set per
 * thread. */
static _Thread_local double *buf_a, *buf_b;
static _Thread_local size_t cap_a, cap_b;

static double *grow(double **buf, size_t *cap, size_t doubles)
{
    if (doubles > *cap) {
        free(*buf);
        *buf = aligned_alloc(64, (doubles * sizeof(double) + 63) / 64 * 64);
        *cap = *buf ? doubles : 0;
    }
    return *buf;
}

void hpl_dgemm_release(void)
{
    free(buf_a);
    free(buf_b);
    buf_a = buf_b = NULL;
    cap_a = cap_b = 0;
}

cb_status_t hpl_dgemm(int transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                      const double *b, int64_t ldb, double *c, int64_t ldc)
{
    if (!path_chosen) hpl_dgemm_set_isa(HPL_ISA_AUTO);
    if (m <= 0 || n <= 0 || k <= 0 || alpha == 0.0) return CB_OK;
    const int MR = path->mr, NR = path->nr;
    /* k in blocks of at most KC, as even as possible */
    int64_t nkb = (k + HPL_DGEMM_KC - 1) / HPL_DGEMM_KC, kb = (k + nkb - 1) / nkb;
    int64_t nc = HPL_DGEMM_B_BYTES / (int64_t)sizeof(double) / kb / NR * NR;
    if (nc < NR) nc = NR;
    if (nc > (n + NR - 1) / NR * NR) nc = (n + NR - 1) / NR * NR;
    double *ap = grow(&buf_a, &cap_a, (size_t)MR * kb);
    double *bp = grow(&buf_b, &cap_b, (size_t)kb * nc);
    if (ap == NULL || bp == NULL) {
        cb_error("own DGEMM: cannot allocate %zu bytes of packing buffers", ((size_t)MR + nc) * kb * sizeof(double));
        return CB_ERR_NOMEM;
    }
    for (int64_t p0 = 0; p0 < k; p0 += kb) {
        int64_t kc = k - p0 < kb ? k - p0 : kb;
        for (int64_t j0 = 0; j0 < n; j0 += nc) {
            int64_t w = n - j0 < nc ? n - j0 : nc;
            pack_b(transb, b, ldb, p0, kc, j0, w, NR, bp);
            for (int64_t i0 = 0; i0 < m; i0 += MR) {
                int mr = m - i0 < MR ? (int)(m - i0) : MR;
                pack_a(a, lda, i0, mr, p0, kc, MR, ap);
                for (int64_t jr = 0; jr < w; jr += NR) {
                    int nr = w - jr < NR ? (int)(w - jr) : NR;
                    path->kernel(kc, ap, bp + jr * kc, alpha, c + i0 + (j0 + jr) * ldc, ldc, mr, nr);
                }
            }
        }
    }
    return CB_OK;
}

/* ================================================================ choice */

void hpl_dgemm_use_own(int own) { use_own = own; }

int hpl_dgemm_own_in_use(void) { return use_own; }

void hpl_gemm(int transb, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
              const double *b, int64_t ldb, double *c, int64_t ldc)
{
    if (use_own) {
        if (hpl_dgemm(transb, m, n, k, alpha, a, lda, b, ldb, c, ldc) == CB_OK) return;
        /* only its buffers can fail, before any entry is touched: the BLAS
         * gives the same answer */
        cb_error_clear();
        cb_warn("own DGEMM: no memory for its packing buffers; the BLAS takes over");
        use_own = 0;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, transb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                (int)lda, b, (int)ldb, 1.0, c, (int)ldc);
}

/* One timed rep of the start-up block update with the path `own`. */
static double time_block(int own, int64_t m, int64_t n, int nb, const double *a, const double *b, double *c)
{
    int keep = use_own;
    use_own = own;
    double t0 = cb_now();
    hpl_gemm(0, m, n, nb, -1.0, a, m, b, nb, c, m);
    double el = cb_now() - t0;
    use_own = keep;
    return el > 0.0 ? 2.0 * (double)m * n * nb / el * 1e-9 : 0.0;
}

cb_status_t hpl_dgemm_choose(MPI_Comm comm, hpl_dgemm_mode_t mode, int nb, hpl_dgemm_choice_t *choice)
{
    /* an NB-wide update of a 2048 x 512 block: 0.4 Gflop, a few ms a rep */
    const int64_t m = 2048, n = 512;
    double *a = NULL, *b = NULL, *c = NULL;
    cb_status_t st;
    memset(choice, 0, sizeof(*choice));
    choice->mode = mode;
    if (nb > HPL_DGEMM_KC) nb = HPL_DGEMM_KC;
    a = cb_alloc((size_t)m * nb * sizeof(double), 0, "DGEMM choice A");
    b = cb_alloc((size_t)nb * n * sizeof(double), 0, "DGEMM choice B");
    c = cb_alloc((size_t)m * n * sizeof(double), 1, "DGEMM choice C");
    if ((st = cb_agree(a && b && c ? CB_OK : CB_ERR_NOMEM, comm)) != CB_OK) goto out;
    for (size_t i = 0; i < (size_t)m * nb; i++) a[i] = (double)(i % 17) * 0.01 - 0.08;
    for (size_t i = 0; i < (size_t)nb * n; i++) b[i] = (double)(i % 13) * 0.01 - 0.06;

    /* every rank at once, alternating, best of three after a warm-up each */
    double rate[2] = { 0.0, 0.0 }, sum[2];
    time_block(1, m, n, nb, a, b, c);
    time_block(0, m, n, nb, a, b, c);
    if ((st = CB_MPI(MPI_Barrier(comm))) != CB_OK) goto out;
    for (int rep = 0; rep < 3; rep++)
        for (int own = 1; own >= 0; own--) {
            double r = time_block(own, m, n, nb, a, b, c);
            if (r > rate[own]) rate[own] = r;
        }
    if ((st = CB_MPI(MPI_Allreduce(rate, sum, 2, MPI_DOUBLE, MPI_SUM, comm))) != CB_OK) goto out;
    choice->gflops_own = sum[1];
    choice->gflops_blas = sum[0];
    /* the sums are the same on every rank, so is the choice */
    choice->own = mode == HPL_DGEMM_OWN || (mode == HPL_DGEMM_AUTO && sum[1] > sum[0]);
    snprintf(choice->kernel, sizeof(choice->kernel), "%s", choice->own ? hpl_dgemm_isa_name() : "blas");
    use_own = choice->own;
out:
    cb_free(c);
    cb_free(b);
    cb_free(a);
    return st;
}
