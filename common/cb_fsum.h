/* Sums of float32 vectors in rank order, the reduction of every allreduce
 * of the UCX collective layer: out[j] = ((src[0][j] + src[1][j]) + src[2][j])
 * + ..., each addition rounded on its own (no fused or reordered adds), so
 * the vector paths are bitwise equal to the plain C loop. */
#ifndef CB_FSUM_H
#define CB_FSUM_H

#include <stddef.h>

/* out[0..n) = the rank-order sum of src[0..nsrc)[0..n), nsrc >= 1. out may
 * be one of the sources (the same address, not a shifted one): each group
 * of elements is read from every source before it is stored. Local. */
void cb_fsum(float *out, const float *const *src, int nsrc, size_t n);

/* dst[0..n) = src[0..n) with streaming stores that bypass this core's
 * caches (the lines go to memory, where another core reads them without
 * taking them from this one's cache); memcpy where the CPU has no AVX2.
 * Order the stores before a flag with a full fence. Local. */
void cb_fcopy_nt(float *dst, const float *src, size_t n);

/* The plain C loop cb_fsum must equal bit for bit (the tests' reference). */
void cb_fsum_ref(float *out, const float *const *src, int nsrc, size_t n);

/* The path cb_fsum takes on this CPU: "avx512", "avx2" or "c". */
const char *cb_fsum_isa(void);

#endif
