/* The integer dot-product rate a core issues: the compute bound of prompt
 * processing with quantized weights (llm_gemm.c multiplies int8 weights by
 * int8 activations). Measured with the instruction the selected kernels use,
 * on registers only, so that it is the core's limit and not a kernel's:
 * AVX-512 VNNI dpbusd (64 multiply-adds), AVX2 maddubs + madd (32), or the
 * portable path's scalar multiply-adds. */
#include "llm.h"
#include "llm_kern.h"

#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLM_PEAK_X86 1
#endif

enum { PEAK_CHAINS = 12 }; /* independent accumulators (AVX-512, C): more than latency x ports */

#ifdef LLM_PEAK_X86
/* Twelve accumulators in named registers (an array would live in memory). */
#define PEAK_ACC(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static int64_t peak_avx512(long iters)
{
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
#define DECL(k) __m512i acc##k = _mm512_set1_epi32(k);
#define STEP(k) acc##k = _mm512_dpbusd_epi32(acc##k, a, b);
#define SUM(k) s = _mm512_add_epi32(s, acc##k);
    PEAK_ACC(DECL)
    for (long i = 0; i < iters; i++) {
        PEAK_ACC(STEP)
    }
    __m512i s = _mm512_setzero_si512();
    PEAK_ACC(SUM)
#undef DECL
#undef STEP
#undef SUM
    /* The lanes wrap, as the vector adds do; summed in 64 bits (GCC's
     * _mm512_reduce_add_epi32 adds them as int, and UBSan saw that overflow). */
    int32_t v[16];
    _mm512_storeu_si512((void *)v, s);
    int64_t t = 0;
    for (int k = 0; k < 16; k++)
        t += v[k];
    return t;
}

__attribute__((target("avx2"))) static int64_t peak_avx2(long iters)
{
    /* Six chains, each with operands of its own that pass through an empty
     * asm every step, so that the compiler neither hoists the products out
     * of the loop nor shares one product among the chains. */
    const __m256i b = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
#define ACC6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(k) __m256i acc##k = _mm256_set1_epi32(k), a##k = _mm256_set1_epi8(3 + k);
#define STEP(k) __asm__ volatile("" : "+x"(a##k)); \
    acc##k = _mm256_add_epi32(acc##k, _mm256_madd_epi16(_mm256_maddubs_epi16(a##k, b), one));
#define SUM(k) s = _mm256_add_epi32(s, acc##k);
    ACC6(DECL)
    for (long i = 0; i < iters; i++) {
        ACC6(STEP)
    }
    __m256i s = _mm256_setzero_si256();
    ACC6(SUM)
#undef DECL
#undef STEP
#undef SUM
#undef ACC6
    int32_t v[8];
    _mm256_storeu_si256((__m256i *)v, s);
    return (int64_t)v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
#endif

static int64_t peak_c(long iters)
{
    /* unsigned, so that the sums wrap as the vector paths' do (a signed
     * overflow would be undefined) */
    uint32_t acc[PEAK_CHAINS], x[PEAK_CHAINS], y = (uint32_t)-2;
    for (int k = 0; k < PEAK_CHAINS; k++) {
        acc[k] = (uint32_t)k;
        x[k] = (uint32_t)(3 + k);
    }
    for (long i = 0; i < iters; i++) {
#if defined(__GNUC__)
        __asm__ volatile("" : "+r"(y)); /* a new operand every step, as far as the compiler knows */
#endif
        for (int k = 0; k < PEAK_CHAINS; k++)
            acc[k] += x[k] * y;
    }
    int64_t s = 0;
    for (int k = 0; k < PEAK_CHAINS; k++)
        s += (int32_t)acc[k];
    return s;
}

/* Multiply-adds per loop step of each path. */
static double peak_macs_per_iter(llm_isa_t isa)
{
    switch (isa) {
    case LLM_ISA_AVX512: return 64.0 * PEAK_CHAINS;
    case LLM_ISA_AVX2: return 32.0 * 6;
    default: return PEAK_CHAINS;
    }
}

static int64_t peak_run(llm_isa_t isa, long iters)
{
#ifdef LLM_PEAK_X86
    if (isa == LLM_ISA_AVX512)
        return peak_avx512(iters);
    if (isa == LLM_ISA_AVX2)
        return peak_avx2(iters);
#endif
    return peak_c(iters);
}

double llm_int8_peak_Gops(void)
{
    const llm_isa_t isa = llm_kernels_isa();
    long iters = 1 << 16;
    double best = 0;
    int64_t sink = 0;
    /* Grow the loop until one pass takes 20 ms, then keep the best of 3. */
    for (int rep = 0; rep < 3;) {
        double t0 = cb_now(), ops = 0;
#pragma omp parallel reduction(+ : sink, ops)
        {
            sink += peak_run(isa, iters);
            ops += 2.0 * peak_macs_per_iter(isa) * (double)iters;
        }
        double t = cb_now() - t0;
        if (t < 0.02 && iters < (1L << 30)) {
            iters *= 2;
            continue;
        }
        double r = ops / t / 1e9;
        best = r > best ? r : best;
        rep++;
    }
    return best + 0 * (double)(sink & 1);
}
