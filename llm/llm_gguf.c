/* GGUF (v2, v3) parser: metadata and the tensor directory of a file image.
 * The input is hostile: every count, length and offset is checked against
 * the image before it is used, and allocations are bounded by what the
 * remaining bytes could hold. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "llm.h"

enum {
    GGUF_UINT8 = 0, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32, GGUF_INT32,
    GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY, GGUF_UINT64, GGUF_INT64,
    GGUF_FLOAT64, GGUF_N_TYPES
};

static const size_t gguf_scalar_size[GGUF_N_TYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

#define GGUF_MAX_STRING (1u << 24)  /* longer keys or values are malformed, not big */
#define GGUF_KEEP_STRING 4096       /* string values kept for printing */

/* ================================================================ bounded reader */

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    const char *what;   /* what is being read, for the message */
    int bad;
} gguf_reader_t;

static int rd_fail(gguf_reader_t *r, const char *why)
{
    if (!r->bad)
        cb_error("GGUF: %s at byte %zu: %s", r->what, r->pos, why);
    r->bad = 1;
    return 0;
}

static int rd_bytes(gguf_reader_t *r, void *dst, size_t n)
{
    if (r->bad)
        return 0;
    if (n > r->len - r->pos)
        return rd_fail(r, "the file ends inside it (truncated)");
    memcpy(dst, r->buf + r->pos, n);
    r->pos += n;
    return 1;
}

static uint32_t rd_u32(gguf_reader_t *r) { uint32_t v = 0; rd_bytes(r, &v, 4); return v; }
static uint64_t rd_u64(gguf_reader_t *r) { uint64_t v = 0; rd_bytes(r, &v, 8); return v; }

/* A string: u64 length then bytes. Returns a pointer into the image (not
 * NUL-terminated) or NULL. */
static const char *rd_str(gguf_reader_t *r, uint64_t *len_p)
{
    uint64_t n = rd_u64(r);
    if (r->bad)
        return NULL;
    if (n > GGUF_MAX_STRING || n > r->len - r->pos) {
        rd_fail(r, n > GGUF_MAX_STRING ? "string length is implausible" : "string runs past the end of the file");
        return NULL;
    }
    const char *s = (const char *)r->buf + r->pos;
    r->pos += n;
    *len_p = n;
    return s;
}

static char *str_dup(const char *s, uint64_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* ================================================================ metadata */

static int rd_scalar(gguf_reader_t *r, int type, llm_kv_t *kv)
{
    uint8_t b[8] = { 0 };
    if (!rd_bytes(r, b, gguf_scalar_size[type]))
        return 0;
    int8_t i8; int16_t i16; int32_t i32; int64_t i64; uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64;
    kv->kind = LLM_KV_INT;
    switch (type) {
    case GGUF_UINT8: kv->i = b[0]; break;
    case GGUF_INT8: memcpy(&i8, b, 1); kv->i = i8; break;
    case GGUF_UINT16: memcpy(&u16, b, 2); kv->i = u16; break;
    case GGUF_INT16: memcpy(&i16, b, 2); kv->i = i16; break;
    case GGUF_UINT32: memcpy(&u32, b, 4); kv->i = u32; break;
    case GGUF_INT32: memcpy(&i32, b, 4); kv->i = i32; break;
    case GGUF_UINT64: memcpy(&u64, b, 8); kv->i = u64 > INT64_MAX ? INT64_MAX : (int64_t)u64; break;
    case GGUF_INT64: memcpy(&i64, b, 8); kv->i = i64; break;
    case GGUF_BOOL:
        if (b[0] > 1)
            return rd_fail(r, "a bool that is neither 0 nor 1");
        kv->kind = LLM_KV_BOOL; kv->i = b[0]; break;
    case GGUF_FLOAT32: memcpy(&f32, b, 4); kv->kind = LLM_KV_FLOAT; kv->f = f32; break;
    case GGUF_FLOAT64: memcpy(&f64, b, 8); kv->kind = LLM_KV_FLOAT; kv->f = f64; break;
    }
    return 1;
}

static int rd_value(gguf_reader_t *r, uint32_t type, llm_kv_t *kv)
{
    kv->gguf_type = (int)type;
    kv->off = r->pos;
    if (type >= GGUF_N_TYPES)
        return rd_fail(r, "unknown value type");
    if (type == GGUF_STRING) {
        uint64_t n;
        const char *s = rd_str(r, &n);
        if (!s)
            return 0;
        kv->kind = LLM_KV_STRING;
        kv->s = str_dup(s, n > GGUF_KEEP_STRING ? GGUF_KEEP_STRING : n);
        if (!kv->s)
            return rd_fail(r, "out of memory");
        return 1;
    }
    if (type != GGUF_ARRAY)
        return rd_scalar(r, (int)type, kv);

    uint32_t et = rd_u32(r);
    uint64_t n = rd_u64(r);
    if (r->bad)
        return 0;
    kv->kind = LLM_KV_ARRAY;
    kv->gguf_type = (int)et;
    kv->n = n;
    kv->off = r->pos;
    if (et >= GGUF_N_TYPES || et == GGUF_ARRAY)
        return rd_fail(r, et == GGUF_ARRAY ? "nested arrays are not supported" : "unknown array element type");
    if (et == GGUF_STRING) {
        /* Each string takes at least its 8-byte length. */
        if (n > (r->len - r->pos) / 8)
            return rd_fail(r, "array count runs past the end of the file");
        for (uint64_t i = 0; i < n; i++) {
            uint64_t sl;
            if (!rd_str(r, &sl))
                return 0;
        }
        return 1;
    }
    if (n > (r->len - r->pos) / gguf_scalar_size[et])
        return rd_fail(r, "array runs past the end of the file");
    r->pos += n * gguf_scalar_size[et];
    return 1;
}

/* ================================================================ the file */

cb_status_t llm_gguf_parse(const uint8_t *buf, size_t len, llm_desc_t *desc)
{
    gguf_reader_t r = { buf, len, 0, "header", 0 };
    char magic[4];
    memset(desc, 0, sizeof *desc);
    desc->format = LLM_FMT_GGUF;
    desc->file_size = len;

    if (!rd_bytes(&r, magic, 4) || memcmp(magic, "GGUF", 4) != 0) {
        if (!r.bad)
            cb_error("GGUF: bad magic (not a GGUF file)");
        return CB_ERR_INPUT;
    }
    uint32_t version = rd_u32(&r);
    if (r.bad)
        return CB_ERR_INPUT;
    if (version != 2 && version != 3) {
        cb_error("GGUF: version %u is not supported (2 and 3 are)", version);
        return version == 1 ? CB_ERR_UNSUPPORTED : CB_ERR_INPUT;
    }
    desc->version = (int)version;
    uint64_t n_tensors = rd_u64(&r), n_kv = rd_u64(&r);
    if (r.bad)
        return CB_ERR_INPUT;
    /* A key-value pair takes at least 8 + 4 + 1 bytes, a tensor 8+4+8+4+8. */
    if (n_kv > (len - r.pos) / 13 || n_tensors > (len - r.pos) / 32 ||
        n_kv > (1u << 20) || n_tensors > (1u << 20)) {
        cb_error("GGUF: %llu tensors and %llu metadata entries cannot fit in a file of %zu bytes",
                 (unsigned long long)n_tensors, (unsigned long long)n_kv, len);
        return CB_ERR_INPUT;
    }
    desc->kv = calloc(n_kv ? n_kv : 1, sizeof *desc->kv);
    desc->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *desc->tensors);
    if (!desc->kv || !desc->tensors) {
        cb_error("GGUF: cannot allocate the directory");
        goto fail;
    }
    if (llm_name_index_init(&desc->kv_index, (int)n_kv) != CB_OK ||
        llm_name_index_init(&desc->tensor_index, (int)n_tensors) != CB_OK)
        goto fail;

    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; i++) {
        llm_kv_t *kv = &desc->kv[i];
        uint64_t kl;
        r.what = "metadata key";
        const char *key = rd_str(&r, &kl);
        if (!key)
            goto fail;
        if (kl == 0 || kl > 255) {
            rd_fail(&r, "key length is not in 1..255");
            goto fail;
        }
        kv->key = str_dup(key, kl);
        desc->n_kv = (int)i + 1;
        if (!kv->key) {
            cb_error("GGUF: out of memory");
            goto fail;
        }
        if (memchr(kv->key, 0, kl)) {
            rd_fail(&r, "key holds a NUL byte");
            goto fail;
        }
        if (llm_desc_index_kv(desc, (int)i)) {
            cb_error("GGUF: duplicate metadata key %s", kv->key);
            goto fail;
        }
        r.what = kv->key;
        uint32_t type = rd_u32(&r);
        if (!rd_value(&r, type, kv))
            goto fail;
        if (strcmp(kv->key, "general.alignment") == 0) {
            if (kv->kind != LLM_KV_INT || kv->i <= 0 || kv->i > (1 << 16) || (kv->i & (kv->i - 1))) {
                cb_error("GGUF: general.alignment must be a power of two up to 65536");
                goto fail;
            }
            alignment = (uint64_t)kv->i;
        }
    }

    for (uint64_t i = 0; i < n_tensors; i++) {
        llm_tensor_t *t = &desc->tensors[i];
        uint64_t nl;
        r.what = "tensor name";
        const char *name = rd_str(&r, &nl);
        if (!name)
            goto fail;
        if (nl == 0 || nl >= LLM_NAME_MAX || memchr(name, 0, nl)) {
            rd_fail(&r, "tensor name is empty, too long or holds a NUL");
            goto fail;
        }
        memcpy(t->name, name, nl);
        t->name[nl] = 0;
        desc->n_tensors = (int)i + 1;
        r.what = t->name;
        uint32_t nd = rd_u32(&r);
        if (r.bad)
            goto fail;
        if (nd < 1 || nd > 4) {
            cb_error("GGUF: tensor %s has %u dimensions (1 to 4 allowed)", t->name, nd);
            goto fail;
        }
        t->n_dims = (int)nd;
        uint64_t count = 1;
        for (int d = 0; d < 4; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t ne = rd_u64(&r);
            if (r.bad)
                goto fail;
            if (ne == 0 || ne > ((uint64_t)1 << 40) || count > ((uint64_t)1 << 50) / ne) {
                cb_error("GGUF: tensor %s has an implausible dimension %llu", t->name, (unsigned long long)ne);
                goto fail;
            }
            t->ne[d] = (int64_t)ne;
            count *= ne;
        }
        t->type = (int)rd_u32(&r);
        t->offset = rd_u64(&r);
        if (r.bad)
            goto fail;
        if (t->offset % alignment) {
            cb_error("GGUF: tensor %s is not aligned to %llu bytes", t->name, (unsigned long long)alignment);
            goto fail;
        }
        if (llm_type_supported(t->type)) {
            size_t b = llm_type_bytes(t->type, t->ne[0]);
            if (b == SIZE_MAX) {
                cb_error("GGUF: tensor %s: a row of %lld elements is not a whole number of %s blocks",
                         t->name, (long long)t->ne[0], llm_type_name(t->type));
                goto fail;
            }
            t->bytes = (uint64_t)b * (count / (uint64_t)t->ne[0]);
        }
        if (llm_desc_index_tensor(desc, (int)i)) {
            cb_error("GGUF: duplicate tensor %s", t->name);
            goto fail;
        }
    }

    /* The data section starts at the next multiple of the alignment. */
    uint64_t data = (r.pos + alignment - 1) / alignment * alignment;
    if (data > len && n_tensors > 0) {
        cb_error("GGUF: the file ends before its data section (truncated)");
        goto fail;
    }
    for (int i = 0; i < desc->n_tensors; i++) {
        llm_tensor_t *t = &desc->tensors[i];
        if (t->offset > len - data || t->bytes > len - data - t->offset) {
            cb_error("GGUF: tensor %s (%llu bytes at %llu) lies past the end of the file (%zu bytes): truncated?",
                     t->name, (unsigned long long)t->bytes, (unsigned long long)(data + t->offset), len);
            goto fail;
        }
        t->offset += data;
    }
    return CB_OK;

fail:
    llm_desc_free(desc);
    return CB_ERR_INPUT;
}
