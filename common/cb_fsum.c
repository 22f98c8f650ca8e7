/* Rank-order sums of np float32 vectors: the plain C loop, and AVX2 and
 * AVX-512 paths chosen once at run time. Every path adds element j of the
 * sources in the same order with one rounding per addition, so all paths
 * give the same bits; a path only holds more elements in registers at once.
 * Each group of 32 (AVX2) or 64 (AVX-512) elements is summed across all
 * sources in registers and stored once: out is written once, each source
 * read once, and out may be one of the sources. */
#include "cb_fsum.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FSUM_X86 1
#endif

void cb_fsum_ref(float *out, const float *const *src, int nsrc, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        float s = src[0][j];
        for (int k = 1; k < nsrc; k++)
            s += src[k][j];
        out[j] = s;
    }
}

#ifdef FSUM_X86
__attribute__((target("avx2"))) static void fsum_avx2(float *out, const float *const *src, int nsrc, size_t n)
{
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        const float *s0 = src[0] + j;
        __m256 a = _mm256_loadu_ps(s0), b = _mm256_loadu_ps(s0 + 8);
        __m256 c = _mm256_loadu_ps(s0 + 16), d = _mm256_loadu_ps(s0 + 24);
        for (int k = 1; k < nsrc; k++) {
            const float *s = src[k] + j;
            a = _mm256_add_ps(a, _mm256_loadu_ps(s));
            b = _mm256_add_ps(b, _mm256_loadu_ps(s + 8));
            c = _mm256_add_ps(c, _mm256_loadu_ps(s + 16));
            d = _mm256_add_ps(d, _mm256_loadu_ps(s + 24));
        }
        _mm256_storeu_ps(out + j, a);
        _mm256_storeu_ps(out + j + 8, b);
        _mm256_storeu_ps(out + j + 16, c);
        _mm256_storeu_ps(out + j + 24, d);
    }
    for (; j + 8 <= n; j += 8) {
        __m256 a = _mm256_loadu_ps(src[0] + j);
        for (int k = 1; k < nsrc; k++)
            a = _mm256_add_ps(a, _mm256_loadu_ps(src[k] + j));
        _mm256_storeu_ps(out + j, a);
    }
    if (j < n) {
        const float *rest[nsrc];
        for (int k = 0; k < nsrc; k++)
            rest[k] = src[k] + j;
        cb_fsum_ref(out + j, rest, nsrc, n - j);
    }
}

__attribute__((target("avx512f"))) static void fsum_avx512(float *out, const float *const *src, int nsrc, size_t n)
{
    size_t j = 0;
    for (; j + 64 <= n; j += 64) {
        const float *s0 = src[0] + j;
        __m512 a = _mm512_loadu_ps(s0), b = _mm512_loadu_ps(s0 + 16);
        __m512 c = _mm512_loadu_ps(s0 + 32), d = _mm512_loadu_ps(s0 + 48);
        for (int k = 1; k < nsrc; k++) {
            const float *s = src[k] + j;
            a = _mm512_add_ps(a, _mm512_loadu_ps(s));
            b = _mm512_add_ps(b, _mm512_loadu_ps(s + 16));
            c = _mm512_add_ps(c, _mm512_loadu_ps(s + 32));
            d = _mm512_add_ps(d, _mm512_loadu_ps(s + 48));
        }
        _mm512_storeu_ps(out + j, a);
        _mm512_storeu_ps(out + j + 16, b);
        _mm512_storeu_ps(out + j + 32, c);
        _mm512_storeu_ps(out + j + 48, d);
    }
    if (j < n) {
        /* The tail: masked 16-lane groups, then nothing left over. */
        for (; j < n; j += 16) {
            size_t m = n - j < 16 ? n - j : 16;
            __mmask16 mask = (__mmask16)((1u << m) - 1u);
            __m512 a = _mm512_maskz_loadu_ps(mask, src[0] + j);
            for (int k = 1; k < nsrc; k++)
                a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(mask, src[k] + j));
            _mm512_mask_storeu_ps(out + j, mask, a);
        }
    }
}
#endif

#ifdef FSUM_X86
__attribute__((target("avx2"))) static void fcopy_nt_avx2(float *dst, const float *src, size_t n)
{
    size_t j = 0;
    while (j < n && ((uintptr_t)(dst + j) & 31) != 0) /* to a 32-byte boundary */
        dst[j] = src[j], j++;
    for (; j + 16 <= n; j += 16) {
        _mm256_stream_ps(dst + j, _mm256_loadu_ps(src + j));
        _mm256_stream_ps(dst + j + 8, _mm256_loadu_ps(src + j + 8));
    }
    for (; j < n; j++)
        dst[j] = src[j];
}
#endif

void cb_fcopy_nt(float *dst, const float *src, size_t n)
{
#ifdef FSUM_X86
    if (__builtin_cpu_supports("avx2")) {
        fcopy_nt_avx2(dst, src, n);
        return;
    }
#endif
    memcpy(dst, src, n * sizeof(float));
}

typedef void (*fsum_fn)(float *, const float *const *, int, size_t);

static fsum_fn fsum_pick(const char **name_p)
{
#ifdef FSUM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *name_p = "avx512";
        return fsum_avx512;
    }
    if (__builtin_cpu_supports("avx2")) {
        *name_p = "avx2";
        return fsum_avx2;
    }
#endif
    *name_p = "c";
    return cb_fsum_ref;
}

static fsum_fn fsum_impl;
static const char *fsum_name;

void cb_fsum(float *out, const float *const *src, int nsrc, size_t n)
{
    if (!fsum_impl)
        fsum_impl = fsum_pick(&fsum_name); /* idempotent: a race picks the same */
    fsum_impl(out, src, nsrc, n);
}

const char *cb_fsum_isa(void)
{
    if (!fsum_impl)
        fsum_impl = fsum_pick(&fsum_name);
    return fsum_name;
}
