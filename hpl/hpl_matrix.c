/* The matrix: local storage of the block-cyclic [A | b], what a run needs in
 * memory, and the grid-independent random generator (a 64-bit LCG whose
 * stream is jumped to each local block, so any P x Q sees the same system). */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "hpl.h"

void hpl_advise_huge(void *ptr, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)ptr + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)ptr + bytes) & ~(huge - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)ptr; (void)bytes;
#endif
}

/* ================================================================ shape */

void hpl_matrix_shape(int64_t n, int nb, int align, const hpl_grid_t *grid, hpl_matrix_t *mat)
{
    memset(mat, 0, sizeof(*mat));
    mat->n = n;
    mat->nb = nb;
    mat->mp = hpl_numroc(n, nb, grid->myrow, grid->p);
    mat->nq = hpl_numroc(n + 1, nb, grid->mycol, grid->q);
    int64_t al = align > 0 ? align : 1;
    int64_t lda = mat->mp > 0 ? mat->mp : 1;
    lda = (lda + al - 1) / al * al;
    /* a leading dimension at a large power of two makes rows share cache sets */
    if (lda >= 1024 && (lda & (lda - 1)) == 0) lda += al;
    mat->lda = lda;
}

size_t hpl_matrix_bytes(const hpl_test_t *t, int myrow, int mycol)
{
    hpl_grid_t g = { .p = t->p, .q = t->q, .myrow = myrow, .mycol = mycol };
    hpl_matrix_t m;
    hpl_matrix_shape(t->n, t->nb, t->align, &g, &m);
    double d = (double)m.lda * (double)m.nq;                    /* [A | b] */
    d += 2.0 * ((double)t->nb * (m.mp + t->nb + 1));            /* two panels */
    d += (double)hpl_panel_work_doubles(t->nb);
    d += (double)hpl_update_work_doubles(t->nb, m.nq, t->p);
    d += 2.0 * (double)t->n + 4.0 * m.mp;                        /* x, solve vectors */
    return (size_t)(d * sizeof(double));
}

/* ================================================================ generator */

#define LCG_A 6364136223846793005ULL
#define LCG_C 1442695040888963407ULL

typedef struct { uint64_t a, c; } lcg_jump_t;  /* x -> a x + c */

/* The map that advances the stream by `steps`. */
static lcg_jump_t lcg_jump(uint64_t steps)
{
    lcg_jump_t r = { 1, 0 }, m = { LCG_A, LCG_C };
    while (steps) {
        if (steps & 1) { r.c = m.a * r.c + m.c; r.a = m.a * r.a; }
        m.c = m.a * m.c + m.c;
        m.a = m.a * m.a;
        steps >>= 1;
    }
    return r;
}

static uint64_t lcg_origin(uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;  /* splitmix64 finaliser */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline double lcg_value(uint64_t x) { return (double)(x >> 11) * 0x1p-53 - 0.5; }

/* Fill out[0..count) with values number s, s+1, ... of the stream. */
static void lcg_fill(uint64_t origin, uint64_t s, double *out, int64_t count)
{
    lcg_jump_t j = lcg_jump(s);
    uint64_t x0 = j.a * origin + j.c;
    int64_t i = 0;
    if (count >= 8) {
        /* four interleaved streams hide the multiply latency */
        static const lcg_jump_t one = { LCG_A, LCG_C };
        lcg_jump_t j4 = lcg_jump(4);
        uint64_t x1 = one.a * x0 + one.c, x2 = one.a * x1 + one.c, x3 = one.a * x2 + one.c;
        for (; i + 4 <= count; i += 4) {
            out[i] = lcg_value(x0); out[i + 1] = lcg_value(x1);
            out[i + 2] = lcg_value(x2); out[i + 3] = lcg_value(x3);
            x0 = j4.a * x0 + j4.c; x1 = j4.a * x1 + j4.c;
            x2 = j4.a * x2 + j4.c; x3 = j4.a * x3 + j4.c;
        }
    }
    for (; i < count; i++) {
        out[i] = lcg_value(x0);
        x0 = LCG_A * x0 + LCG_C;
    }
}

void hpl_matrix_generate(hpl_matrix_t *mat, const hpl_grid_t *grid, uint64_t seed)
{
    uint64_t origin = lcg_origin(seed);
    int64_t n = mat->n;
    int nb = mat->nb;
    for (int64_t jl = 0; jl < mat->nq; jl++) {
        int64_t gj = hpl_l2g(jl, nb, grid->mycol, grid->q);
        double *col = mat->a + jl * mat->lda;
        for (int64_t il = 0; il < mat->mp; il += nb) {
            int64_t gi = hpl_l2g(il, nb, grid->myrow, grid->p);
            int64_t cnt = mat->mp - il < nb ? mat->mp - il : nb;
            lcg_fill(origin, (uint64_t)gj * (uint64_t)n + (uint64_t)gi, col + il, cnt);
        }
    }
}
