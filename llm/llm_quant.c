/* Tensor types: the table of the types llm computes with, half-precision
 * conversions, and quantization to and from float (Q8_0, Q4_0 as in ggml:
 * blocks of 32 elements sharing one fp16 scale). */
#include <math.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include "llm.h"

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
};
#define LLM_N_TYPES ((int)(sizeof(llm_types) / sizeof(llm_types[0])))

const char *const llm_type_choices[] = { "f32", "f16", "bf16", "q8_0", "q4_0", NULL };
const int llm_type_choice_ids[] = { LLM_F32, LLM_F16, LLM_BF16, LLM_Q8_0, LLM_Q4_0 };

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

/* ================================================================ rows */

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

/* ggml's Q4_0: the scale maps the element of largest magnitude to -8. */
static void llm_quantize_q4_0(const float *x, llm_block_q4_0_t *b, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LLM_QK) {
        float amax = 0, max = 0;
        for (int j = 0; j < LLM_QK; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = llm_fp32_to_fp16(d);
        for (int j = 0; j < LLM_QK / 2; j++) {
            int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + LLM_QK / 2] * id + 8.5f);
            q0 = q0 < 0 ? 0 : q0 > 15 ? 15 : q0;
            q1 = q1 < 0 ? 0 : q1 > 15 ? 15 : q1;
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void llm_quantize_row(int type, const float *x, void *dst, int64_t n)
{
    switch (type) {
    case LLM_F32: memcpy(dst, x, (size_t)n * 4); break;
    case LLM_F16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = llm_fp32_to_fp16(x[i]); break;
    case LLM_BF16: for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = llm_fp32_to_bf16(x[i]); break;
    case LLM_Q8_0: llm_quantize_q8_0(x, dst, n / LLM_QK); break;
    case LLM_Q4_0: llm_quantize_q4_0(x, dst, n / LLM_QK); break;
    }
}

void llm_dequantize_row(int type, const void *src, float *y, int64_t n)
{
    switch (type) {
    case LLM_F32: memcpy(y, src, (size_t)n * 4); break;
    case LLM_F16: for (int64_t i = 0; i < n; i++) y[i] = llm_fp16_to_fp32(((const uint16_t *)src)[i]); break;
    case LLM_BF16: for (int64_t i = 0; i < n; i++) y[i] = llm_bf16_to_fp32(((const uint16_t *)src)[i]); break;
    case LLM_Q8_0: {
        const llm_block_q8_0_t *b = src;
        for (int64_t i = 0; i < n / LLM_QK; i++) {
            float d = llm_fp16_to_fp32(b[i].d);
            for (int j = 0; j < LLM_QK; j++)
                y[i * LLM_QK + j] = d * b[i].qs[j];
        }
        break;
    }
    case LLM_Q4_0: {
        const llm_block_q4_0_t *b = src;
        for (int64_t i = 0; i < n / LLM_QK; i++) {
            float d = llm_fp16_to_fp32(b[i].d);
            for (int j = 0; j < LLM_QK / 2; j++) {
                y[i * LLM_QK + j] = d * ((b[i].qs[j] & 0x0f) - 8);
                y[i * LLM_QK + j + LLM_QK / 2] = d * ((b[i].qs[j] >> 4) - 8);
            }
        }
        break;
    }
    }
}

void llm_quantize_row_q8x(const float *x, llm_block_q8x_t *b, int64_t n)
{
    for (int64_t i = 0; i < n / LLM_QK; i++, x += LLM_QK) {
        float amax = 0;
        for (int j = 0; j < LLM_QK; j++)
            amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = d;
        for (int j = 0; j < LLM_QK; j++)
            b[i].qs[j] = (int8_t)lrintf(x[j] * id);
    }
}
