/* Tensor types: the table of the types llm computes with, half-precision
 * conversions, and quantization to and from float in ggml's block formats:
 * the legacy types (blocks of 32 sharing an fp16 scale, maybe a minimum) and
 * the K-quants (super-blocks of 256 with quantized sub-block scales). The
 * quantizers are simple (min/max, no search): they make synthetic models and
 * test data; real files come quantized. */
#include <math.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include "llm_kern.h"

/* ================================================================ the table */

typedef struct {
    int id;
    const char *name;
    int block;          /* elements per block */
    size_t block_bytes; /* bytes per block */
} llm_type_info_t;

static const llm_type_info_t llm_types[] = {
    { LLM_F32, "F32", 1, 4 },
    { LLM_F16, "F16", 1, 2 },
    { LLM_BF16, "BF16", 1, 2 },
    { LLM_Q8_0, "Q8_0", LLM_QK, sizeof(llm_block_q8_0_t) },
    { LLM_Q4_0, "Q4_0", LLM_QK, sizeof(llm_block_q4_0_t) },
    { LLM_Q4_1, "Q4_1", LLM_QK, sizeof(llm_block_q4_1_t) },
    { LLM_Q5_0, "Q5_0", LLM_QK, sizeof(llm_block_q5_0_t) },
    { LLM_Q5_1, "Q5_1", LLM_QK, sizeof(llm_block_q5_1_t) },
    { LLM_Q2_K, "Q2_K", LLM_QK_K, sizeof(llm_block_q2_K_t) },
    { LLM_Q3_K, "Q3_K", LLM_QK_K, sizeof(llm_block_q3_K_t) },
    { LLM_Q4_K, "Q4_K", LLM_QK_K, sizeof(llm_block_q4_K_t) },
    { LLM_Q5_K, "Q5_K", LLM_QK_K, sizeof(llm_block_q5_K_t) },
    { LLM_Q6_K, "Q6_K", LLM_QK_K, sizeof(llm_block_q6_K_t) },
};
#define LLM_N_TYPES ((int)(sizeof(llm_types) / sizeof(llm_types[0])))

const char *const llm_type_choices[] = { "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
                                         "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", NULL };
const int llm_type_choice_ids[] = { LLM_F32, LLM_F16, LLM_BF16, LLM_Q8_0, LLM_Q4_0, LLM_Q4_1, LLM_Q5_0, LLM_Q5_1,
                                    LLM_Q2_K, LLM_Q3_K, LLM_Q4_K, LLM_Q5_K, LLM_Q6_K };

/* ggml types we can name but not compute with, so messages say what a file holds. */
static const char *const llm_ggml_names[] = {
    "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
    "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS",
    "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64",
    "IQ1_M", "BF16",
};

static const llm_type_info_t *llm_type_info(int type)
{
    for (int i = 0; i < LLM_N_TYPES; i++)
        if (llm_types[i].id == type)
            return &llm_types[i];
    return NULL;
}

const char *llm_type_name(int type)
{
    static __thread char buf[32];
    if (type >= 0 && type < (int)(sizeof(llm_ggml_names) / sizeof(llm_ggml_names[0])))
        return llm_ggml_names[type];
    snprintf(buf, sizeof buf, "type %d", type);
    return buf;
}

int llm_type_supported(int type) { return llm_type_info(type) != NULL; }

int llm_type_from_name(const char *name)
{
    for (int i = 0; i < LLM_N_TYPES; i++)
        if (strcasecmp(llm_types[i].name, name) == 0)
            return llm_types[i].id;
    return -1;
}

int llm_type_block(int type)
{
    const llm_type_info_t *t = llm_type_info(type);
    return t ? t->block : 0;
}

size_t llm_type_block_bytes(int type)
{
    const llm_type_info_t *t = llm_type_info(type);
    return t ? t->block_bytes : 0;
}

size_t llm_type_bytes(int type, int64_t n)
{
    const llm_type_info_t *t = llm_type_info(type);
    if (!t || n < 0 || n % t->block != 0)
        return SIZE_MAX;
    return cb_mul_size((size_t)(n / t->block), t->block_bytes);
}

/* ================================================================ half precision */

float llm_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; mant <<= 1; } while (!(mant & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t llm_fp32_to_fp16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* subnormal half (or zero): round to nearest even */
        float a;
        memcpy(&a, &absx, 4);
        float scaled = a * 16777216.0f; /* 2^24: one unit of the smallest subnormal */
        return (uint16_t)(sign | (uint32_t)nearbyintf(scaled));
    }
    uint32_t mant = absx & 0x7fffff;
    uint32_t exp = (absx >> 23) - 127 + 15;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

float llm_bf16_to_fp32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t llm_fp32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1); /* round to nearest even */
    return (uint16_t)(x >> 16);
}

/* ================================================================ quantizing, legacy types */

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
static inline float h2f(uint16_t h) { return llm_fp16_to_fp32(h); }

static void llm_quantize_q8_0(const float *x, llm_block_q8_0_t *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LLM_QK) {
        float amax = 0;
        for (int j = 0; j < LLM_QK; j++)
            amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = llm_fp32_to_fp16(d);
        for (int j = 0; j < LLM_QK; j++)
            b[i].qs[j] = (int8_t)lrintf(x[j] * id);
    }
}

/* The element of largest magnitude, with its sign. */
static float signed_max(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

/* ggml's Q4_0 and Q5_0: the scale maps the element of largest magnitude to
 * the most negative level (-8, -16); levels are q - 2^(bits-1). */
static void quantize_sym(const float *x, int half, uint16_t *d16, uint8_t *q)
{
    float d = signed_max(x, LLM_QK) / (float)-half, id = d ? 1.0f / d : 0.0f;
    *d16 = llm_fp32_to_fp16(d);
    for (int j = 0; j < LLM_QK; j++)
        q[j] = (uint8_t)clampi((int)(x[j] * id + half + 0.5f), 0, 2 * half - 1);
}

/* Q4_1 and Q5_1: x = d q + m over [min, max]. */
static void quantize_asym(const float *x, int levels, uint16_t *d16, uint16_t *m16, uint8_t *q)
{
    float mn = x[0], mx = x[0];
    for (int j = 1; j < LLM_QK; j++) {
        mn = x[j] < mn ? x[j] : mn;
        mx = x[j] > mx ? x[j] : mx;
    }
    *d16 = llm_fp32_to_fp16((mx - mn) / (float)(levels - 1));
    *m16 = llm_fp32_to_fp16(mn);
    float d = h2f(*d16), m = h2f(*m16), id = d ? 1.0f / d : 0.0f;
    for (int j = 0; j < LLM_QK; j++)
        q[j] = (uint8_t)clampi((int)lrintf((x[j] - m) * id), 0, levels - 1);
}

/* Nibbles: element j in the low half of qs[j], element j + 16 in the high. */
static void pack_nibbles(const uint8_t *q, uint8_t *qs)
{
    for (int j = 0; j < LLM_QK / 2; j++)
        qs[j] = (uint8_t)((q[j] & 15) | ((q[j + LLM_QK / 2] & 15) << 4));
}

static void pack_fifth_bits(const uint8_t *q, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < LLM_QK; j++)
        h |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

/* ================================================================ quantizing, K-quants */

/* Sub-block (sub elements) of x as s q - m with q in [0, levels): the scale
 * s and the minimum m >= 0 (ggml's form: the offset is never positive). */
static void subblock_range(const float *x, int sub, int levels, float *s, float *m)
{
    float mn = 0, mx = x[0];
    for (int j = 0; j < sub; j++) {
        mn = x[j] < mn ? x[j] : mn;
        mx = x[j] > mx ? x[j] : mx;
    }
    mx = mx > mn ? mx : mn;
    *s = (mx - mn) / (float)(levels - 1);
    *m = -mn;
}

/* 6-bit scales and minimums of Q4_K / Q5_K into their 12 bytes. */
static void pack_scales_k4(const int *sc, const int *mn, uint8_t *b)
{
    for (int j = 0; j < 4; j++) {
        b[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        b[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        b[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

static void unpack_scales_k4(const uint8_t *b, int j, int *sc, int *mn)
{
    if (j < 4) {
        *sc = b[j] & 63;
        *mn = b[j + 4] & 63;
    } else {
        *sc = (b[j + 4] & 15) | ((b[j - 4] >> 6) << 4);
        *mn = (b[j + 4] >> 4) | ((b[j] >> 6) << 4);
    }
}

/* Q2_K / Q4_K / Q5_K: sub-blocks of `sub` with scales and minimums quantized
 * to `sbits` against two fp16 super-scales; q in [0, 2^qbits). */
static void quantize_k_asym(const float *x, int sub, int qbits, int sbits, uint16_t *d16, uint16_t *dmin16,
                            int *sc, int *mn, uint8_t *q)
{
    const int ns = LLM_QK_K / sub, levels = 1 << qbits, smax = (1 << sbits) - 1;
    float s[16], m[16], maxs = 0, maxm = 0;
    for (int k = 0; k < ns; k++) {
        subblock_range(x + k * sub, sub, levels, &s[k], &m[k]);
        maxs = s[k] > maxs ? s[k] : maxs;
        maxm = m[k] > maxm ? m[k] : maxm;
    }
    *d16 = llm_fp32_to_fp16(maxs / (float)smax);
    *dmin16 = llm_fp32_to_fp16(maxm / (float)smax);
    float d = h2f(*d16), dmin = h2f(*dmin16);
    for (int k = 0; k < ns; k++) {
        sc[k] = d ? clampi((int)lrintf(s[k] / d), 0, smax) : 0;
        mn[k] = dmin ? clampi((int)lrintf(m[k] / dmin), 0, smax) : 0;
        float ds = d * (float)sc[k], dm = dmin * (float)mn[k], id = ds ? 1.0f / ds : 0.0f;
        for (int j = 0; j < sub; j++)
            q[k * sub + j] = (uint8_t)clampi((int)lrintf((x[k * sub + j] + dm) * id), 0, levels - 1);
    }
}

/* Q3_K / Q6_K: sub-blocks of 16 with signed scales against one fp16 scale;
 * levels q - 2^(qbits-1). Returns q + 2^(qbits-1) in u, the scales in sc. */
static void quantize_k_sym(const float *x, int qbits, int smin, int smax, uint16_t *d16, int *sc, uint8_t *u)
{
    const int half = 1 << (qbits - 1);
    float s[16], big = 0;
    for (int k = 0; k < 16; k++) {
        s[k] = signed_max(x + 16 * k, 16) / (float)-half;
        big = fabsf(s[k]) > fabsf(big) ? s[k] : big;
    }
    *d16 = llm_fp32_to_fp16(big / (float)smin); /* the largest scale maps to smin (< 0) */
    float d = h2f(*d16);
    for (int k = 0; k < 16; k++) {
        sc[k] = d ? clampi((int)lrintf(s[k] / d), smin, smax) : 0;
        float ds = d * (float)sc[k], id = ds ? 1.0f / ds : 0.0f;
        for (int j = 0; j < 16; j++)
            u[16 * k + j] = (uint8_t)(clampi((int)lrintf(x[16 * k + j] * id), -half, half - 1) + half);
    }
}

/* The 2-bit layout of Q2_K and Q3_K: element e = 128 n + 32 j + l sits in
 * bits 2j..2j+1 of qs[32 n + l]. */
static void pack_2bit(const uint8_t *q, uint8_t *qs)
{
    memset(qs, 0, LLM_QK_K / 4);
    for (int e = 0; e < LLM_QK_K; e++)
        qs[32 * (e / 128) + e % 32] |= (uint8_t)((q[e] & 3) << (2 * ((e / 32) % 4)));
}

static void quantize_block_k(int type, const float *x, void *dst)
{
    int sc[16], mn[16];
    uint8_t q[LLM_QK_K];
    switch (type) {
    case LLM_Q2_K: {
        llm_block_q2_K_t *b = dst;
        quantize_k_asym(x, 16, 2, 4, &b->d, &b->dmin, sc, mn, q);
        for (int k = 0; k < 16; k++)
            b->scales[k] = (uint8_t)(sc[k] | (mn[k] << 4));
        pack_2bit(q, b->qs);
        break;
    }
    case LLM_Q3_K: {
        llm_block_q3_K_t *b = dst;
        quantize_k_sym(x, 3, -32, 31, &b->d, sc, q);
        int s6[16];
        for (int k = 0; k < 16; k++)
            s6[k] = sc[k] + 32;
        for (int i = 0; i < 4; i++) {
            b->scales[i] = (uint8_t)((s6[i] & 15) | ((s6[i + 8] & 15) << 4));
            b->scales[i + 4] = (uint8_t)((s6[i + 4] & 15) | ((s6[i + 12] & 15) << 4));
            b->scales[i + 8] = (uint8_t)((s6[i] >> 4) | ((s6[i + 4] >> 4) << 2) | ((s6[i + 8] >> 4) << 4) | ((s6[i + 12] >> 4) << 6));
        }
        memset(b->hmask, 0, sizeof b->hmask);
        for (int e = 0; e < LLM_QK_K; e++)
            b->hmask[e % 32] |= (uint8_t)(((q[e] >> 2) & 1) << (e / 32));
        pack_2bit(q, b->qs);
        break;
    }
    case LLM_Q4_K: case LLM_Q5_K: {
        int five = type == LLM_Q5_K;
        llm_block_q4_K_t *b4 = dst;
        llm_block_q5_K_t *b5 = dst;
        quantize_k_asym(x, 32, five ? 5 : 4, 6, five ? &b5->d : &b4->d, five ? &b5->dmin : &b4->dmin, sc, mn, q);
        pack_scales_k4(sc, mn, five ? b5->scales : b4->scales);
        uint8_t *qs = five ? b5->qs : b4->qs;
        for (int e = 0; e < LLM_QK_K; e++) {
            int j = e / 32, l = e % 32;
            if (j % 2 == 0)
                qs[32 * (j / 2) + l] = q[e] & 15;
            else
                qs[32 * (j / 2) + l] |= (uint8_t)((q[e] & 15) << 4);
        }
        if (five) {
            memset(b5->qh, 0, sizeof b5->qh);
            for (int e = 0; e < LLM_QK_K; e++)
                b5->qh[e % 32] |= (uint8_t)(((q[e] >> 4) & 1) << (e / 32));
        }
        break;
    }
    case LLM_Q6_K: {
        llm_block_q6_K_t *b = dst;
        quantize_k_sym(x, 6, -128, 127, &b->d, sc, q);
        for (int k = 0; k < 16; k++)
            b->scales[k] = (int8_t)sc[k];
        memset(b->ql, 0, sizeof b->ql);
        memset(b->qh, 0, sizeof b->qh);
        for (int e = 0; e < LLM_QK_K; e++) {
            int n = e / 128, k = (e % 128) / 32, l = e % 32;
            b->ql[64 * n + 32 * (k & 1) + l] |= (uint8_t)((q[e] & 15) << (k >= 2 ? 4 : 0));
            b->qh[32 * n + l] |= (uint8_t)((q[e] >> 4) << (2 * k));
        }
        break;
    }
    }
}

void llm_quantize_row(int type, const float *x, void *dst, int64_t n)
{
    uint8_t q[LLM_QK];
    const int blk = llm_type_block(type);
    const size_t bb = llm_type_block_bytes(type);
    switch (type) {
    case LLM_F32: memcpy(dst, x, (size_t)n * 4); return;
    case LLM_F16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = llm_fp32_to_fp16(x[i]); return;
    case LLM_BF16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = llm_fp32_to_bf16(x[i]); return;
    case LLM_Q8_0: llm_quantize_q8_0(x, dst, n / LLM_QK); return;
    }
    for (int64_t i = 0; i < n / blk; i++, x += blk) {
        void *out = (char *)dst + (size_t)i * bb;
        switch (type) {
        case LLM_Q4_0: { llm_block_q4_0_t *b = out; quantize_sym(x, 8, &b->d, q); pack_nibbles(q, b->qs); break; }
        case LLM_Q5_0: { llm_block_q5_0_t *b = out; quantize_sym(x, 16, &b->d, q); pack_nibbles(q, b->qs); pack_fifth_bits(q, b->qh); break; }
        case LLM_Q4_1: { llm_block_q4_1_t *b = out; quantize_asym(x, 16, &b->d, &b->m, q); pack_nibbles(q, b->qs); break; }
        case LLM_Q5_1: { llm_block_q5_1_t *b = out; quantize_asym(x, 32, &b->d, &b->m, q); pack_nibbles(q, b->qs); pack_fifth_bits(q, b->qh); break; }
        default: quantize_block_k(type, x, out); break;
        }
    }
}

/* ================================================================ decoding */

int llm_block_decode(int type, const void *blk, int8_t *q, int16_t *sc, int16_t *mn, float *d, float *dmin)
{
    switch (type) {
    case LLM_Q8_0: {
        const llm_block_q8_0_t *b = blk;
        memcpy(q, b->qs, LLM_QK);
        *d = h2f(b->d); *dmin = 0;
        break;
    }
    case LLM_Q4_0: case LLM_Q4_1: {
        const uint8_t *qs = type == LLM_Q4_0 ? ((const llm_block_q4_0_t *)blk)->qs : ((const llm_block_q4_1_t *)blk)->qs;
        int off = type == LLM_Q4_0 ? 8 : 0;
        for (int j = 0; j < LLM_QK / 2; j++) {
            q[j] = (int8_t)((qs[j] & 15) - off);
            q[j + LLM_QK / 2] = (int8_t)((qs[j] >> 4) - off);
        }
        if (type == LLM_Q4_0) {
            *d = h2f(((const llm_block_q4_0_t *)blk)->d); *dmin = 0;
        } else {
            *d = h2f(((const llm_block_q4_1_t *)blk)->d); *dmin = -h2f(((const llm_block_q4_1_t *)blk)->m);
        }
        break;
    }
    case LLM_Q5_0: case LLM_Q5_1: {
        const llm_block_q5_0_t *b0 = blk;
        const llm_block_q5_1_t *b1 = blk;
        const uint8_t *qs = type == LLM_Q5_0 ? b0->qs : b1->qs, *qh8 = type == LLM_Q5_0 ? b0->qh : b1->qh;
        uint32_t qh = (uint32_t)qh8[0] | (uint32_t)qh8[1] << 8 | (uint32_t)qh8[2] << 16 | (uint32_t)qh8[3] << 24;
        int off = type == LLM_Q5_0 ? 16 : 0;
        for (int j = 0; j < LLM_QK / 2; j++) {
            q[j] = (int8_t)(((qs[j] & 15) | (((qh >> j) & 1) << 4)) - off);
            q[j + LLM_QK / 2] = (int8_t)(((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - off);
        }
        if (type == LLM_Q5_0) {
            *d = h2f(b0->d); *dmin = 0;
        } else {
            *d = h2f(b1->d); *dmin = -h2f(b1->m);
        }
        break;
    }
    case LLM_Q2_K: {
        const llm_block_q2_K_t *b = blk;
        for (int e = 0; e < LLM_QK_K; e++)
            q[e] = (int8_t)((b->qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3);
        for (int k = 0; k < 16; k++) {
            sc[k] = b->scales[k] & 15;
            mn[k] = b->scales[k] >> 4;
        }
        *d = h2f(b->d); *dmin = h2f(b->dmin);
        return LLM_QK_K;
    }
    case LLM_Q3_K: {
        const llm_block_q3_K_t *b = blk;
        for (int e = 0; e < LLM_QK_K; e++) {
            int lo = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3;
            int hi = (b->hmask[e % 32] >> (e / 32)) & 1;
            q[e] = (int8_t)(lo + 4 * hi - 4);
        }
        for (int i = 0; i < 4; i++) {
            const uint8_t *s = b->scales;
            sc[i] = (int16_t)(((s[i] & 15) | ((s[i + 8] & 3) << 4)) - 32);
            sc[i + 4] = (int16_t)(((s[i + 4] & 15) | (((s[i + 8] >> 2) & 3) << 4)) - 32);
            sc[i + 8] = (int16_t)(((s[i] >> 4) | (((s[i + 8] >> 4) & 3) << 4)) - 32);
            sc[i + 12] = (int16_t)(((s[i + 4] >> 4) | (((s[i + 8] >> 6) & 3) << 4)) - 32);
        }
        for (int k = 0; k < 16; k++)
            mn[k] = 0;
        *d = h2f(b->d); *dmin = 0;
        return LLM_QK_K;
    }
    case LLM_Q4_K: case LLM_Q5_K: {
        int five = type == LLM_Q5_K;
        const llm_block_q4_K_t *b4 = blk;
        const llm_block_q5_K_t *b5 = blk;
        const uint8_t *qs = five ? b5->qs : b4->qs, *scales = five ? b5->scales : b4->scales;
        for (int e = 0; e < LLM_QK_K; e++) {
            int j = e / 32, l = e % 32;
            int v = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 15;
            if (five)
                v |= ((b5->qh[l] >> j) & 1) << 4;
            q[e] = (int8_t)v;
        }
        for (int j = 0; j < 8; j++) {
            int s, m;
            unpack_scales_k4(scales, j, &s, &m);
            sc[2 * j] = sc[2 * j + 1] = (int16_t)s;
            mn[2 * j] = mn[2 * j + 1] = (int16_t)m;
        }
        *d = h2f(five ? b5->d : b4->d); *dmin = h2f(five ? b5->dmin : b4->dmin);
        return LLM_QK_K;
    }
    case LLM_Q6_K: {
        const llm_block_q6_K_t *b = blk;
        for (int e = 0; e < LLM_QK_K; e++) {
            int n = e / 128, k = (e % 128) / 32, l = e % 32;
            int lo = (b->ql[64 * n + 32 * (k & 1) + l] >> (k >= 2 ? 4 : 0)) & 15;
            int hi = (b->qh[32 * n + l] >> (2 * k)) & 3;
            q[e] = (int8_t)((lo | (hi << 4)) - 32);
        }
        for (int k = 0; k < 16; k++) {
            sc[k] = b->scales[k];
            mn[k] = 0;
        }
        *d = h2f(b->d); *dmin = 0;
        return LLM_QK_K;
    }
    default:
        return 0;
    }
    /* the legacy types: one scale and one minimum for the 32 */
    sc[0] = sc[1] = 1;
    mn[0] = mn[1] = 1;
    return LLM_QK;
}

void llm_dequantize_row(int type, const void *src, float *y, int64_t n)
{
    switch (type) {
    case LLM_F32: memcpy(y, src, (size_t)n * 4); return;
    case LLM_F16: for (int64_t i = 0; i < n; i++) y[i] = llm_fp16_to_fp32(((const uint16_t *)src)[i]); return;
    case LLM_BF16: for (int64_t i = 0; i < n; i++) y[i] = llm_bf16_to_fp32(((const uint16_t *)src)[i]); return;
    }
    const int blk = llm_type_block(type);
    const size_t bb = llm_type_block_bytes(type);
    int8_t q[LLM_QK_K];
    int16_t sc[16], mn[16];
    float d, dmin;
    for (int64_t i = 0; i < n / blk; i++, y += blk) {
        int ne = llm_block_decode(type, (const char *)src + (size_t)i * bb, q, sc, mn, &d, &dmin);
        for (int e = 0; e < ne; e++)
            y[e] = d * (float)sc[e / 16] * (float)q[e] - dmin * (float)mn[e / 16];
    }
}

/* ================================================================ activations */

void llm_quantize_row_q8x(const float *x, llm_block_q8x_t *b, int64_t n)
{
    for (int64_t i = 0; i < n / LLM_QK; i++, x += LLM_QK) {
        float amax = 0;
        for (int j = 0; j < LLM_QK; j++)
            amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = d;
        int s0 = 0, s1 = 0;
        for (int j = 0; j < LLM_QK; j++) {
            b[i].qs[j] = (int8_t)lrintf(x[j] * id);
            if (j < LLM_QK / 2)
                s0 += b[i].qs[j];
            else
                s1 += b[i].qs[j];
        }
        b[i].s[0] = (int16_t)s0;
        b[i].s[1] = (int16_t)s1;
    }
}

void llm_quantize_row_q8_K(const float *x, llm_block_q8_K_t *b, int64_t n)
{
    for (int64_t i = 0; i < n / LLM_QK_K; i++, x += LLM_QK_K) {
        float amax = 0;
        for (int j = 0; j < LLM_QK_K; j++)
            amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = d;
        for (int k = 0; k < 16; k++) {
            int s = 0;
            for (int j = 16 * k; j < 16 * k + 16; j++) {
                b[i].qs[j] = (int8_t)lrintf(x[j] * id);
                s += b[i].qs[j];
            }
            b[i].bsums[k] = (int16_t)s;
        }
    }
}

int llm_type_subblock(int type)
{
    return type == LLM_Q2_K || type == LLM_Q3_K || type == LLM_Q6_K ? 16 : 32;
}

int llm_type_act(int type)
{
    switch (type) {
    case LLM_Q8_0: case LLM_Q4_0: case LLM_Q4_1: case LLM_Q5_0: case LLM_Q5_1: return LLM_ACT_Q8X;
    case LLM_Q2_K: case LLM_Q3_K: case LLM_Q4_K: case LLM_Q5_K: case LLM_Q6_K: return LLM_ACT_Q8K;
    default: return LLM_ACT_F32;
    }
}

void llm_quantize_act(int type, const float *x, llm_block_q8x_t *xq, int64_t n)
{
    int act = llm_type_act(type);
    if (act == LLM_ACT_Q8X)
        llm_quantize_row_q8x(x, xq, n);
    else if (act == LLM_ACT_Q8K)
        llm_quantize_row_q8_K(x, (llm_block_q8_K_t *)(void *)xq, n);
}
