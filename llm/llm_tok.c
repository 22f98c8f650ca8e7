/* The tokenizer a GGUF file carries (tokenizer.ggml.*): vocabulary, scores,
 * token types, merges, special ids, read with every length and index checked
 * against the image; the text-to-token hash table; the special tokens matched
 * in text before the kind's encoder sees it; and decoding. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "llm_tok.h"

const char *const llm_pre_names[] = { "gpt2", "llama3", "qwen2", "deepseek-v3", NULL };

#define TOK_MAX_VOCAB (1 << 22)  /* more tokens than any model has: malformed */
#define TOK_MAX_MERGES (1 << 23)
#define TOK_MAX_TEXT 4096        /* bytes of one token or merge */

enum { GGUF_INT32 = 5, GGUF_UINT32 = 4, GGUF_FLOAT32 = 6, GGUF_STRING = 8 };

struct llm_tok {
    int kind, pre, n;
    char *text;          /* every token's stored text, each NUL-terminated */
    uint32_t *text_off;  /* (n + 1): token i is text + text_off[i] */
    char *piece;         /* every token's decoded bytes */
    uint32_t *piece_off; /* (n + 1) */
    float *score;        /* (n) */
    uint8_t *type;       /* (n) LLM_TT_* */
    int32_t *ht;         /* text -> id, open addressing, ht_mask + 1 slots, -1 empty */
    uint32_t ht_mask;
    uint64_t *mkey;      /* merges: (left << 32 | right), mh_mask + 1 slots, UINT64_MAX empty */
    int32_t *mrank, *mres;
    uint32_t mh_mask;
    int byte_tok[256];
    int bos, eos, eot, eom, unk;
    int add_bos, add_space_prefix, ignore_merges;
    int nfc;             /* normalize each run of text to NFC first (Qwen's tokenizer.json says so) */
    char *tmpl;          /* tokenizer.chat_template in full, or NULL */
    size_t tmpl_len;
    int *eog; int n_eog;
    int *sp; int n_sp;   /* special tokens sorted by first byte, then longest first */
    int sp_start[257];   /* sp[sp_start[b] .. sp_start[b+1]) begin with byte b */
};

/* ================================================================ small pieces */

cb_status_t llm_ids_push(llm_ids_t *ids, int id)
{
    if (ids->n == ids->cap) {
        int cap = ids->cap ? ids->cap * 2 : 64;
        if (cap < 0 || (size_t)cap > SIZE_MAX / sizeof(int)) {
            cb_error("token list too long");
            return CB_ERR_NOMEM;
        }
        int *v = realloc(ids->v, sizeof(int) * (size_t)cap);
        if (!v) {
            cb_error("out of memory for %d tokens", cap);
            return CB_ERR_NOMEM;
        }
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return CB_OK;
}

void llm_ids_free(llm_ids_t *ids)
{
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->cap = 0;
}

static int cand_before(const llm_tok_cand_t *a, const llm_tok_cand_t *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

cb_status_t llm_tok_heap_push(llm_tok_heap_t *h, const llm_tok_cand_t *c)
{
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 64;
        llm_tok_cand_t *v = cap > 0 ? realloc(h->v, sizeof *v * (size_t)cap) : NULL;
        if (!v) {
            cb_error("out of memory in the tokenizer");
            return CB_ERR_NOMEM;
        }
        h->v = v;
        h->cap = cap;
    }
    int i = h->n++;
    while (i > 0 && cand_before(c, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = *c;
    return CB_OK;
}

int llm_tok_heap_pop(llm_tok_heap_t *h, llm_tok_cand_t *c_p)
{
    if (h->n == 0)
        return 0;
    *c_p = h->v[0];
    llm_tok_cand_t last = h->v[--h->n];
    int i = 0;
    for (;;) {
        int k = 2 * i + 1;
        if (k >= h->n)
            break;
        if (k + 1 < h->n && cand_before(&h->v[k + 1], &h->v[k]))
            k++;
        if (!cand_before(&h->v[k], &last))
            break;
        h->v[i] = h->v[k];
        i = k;
    }
    if (h->n > 0)
        h->v[i] = last;
    return 1;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static uint32_t hash_u64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (uint32_t)k;
}

/* ================================================================ byte-level map */

/* GPT-2's bytes_to_unicode: the printable Latin-1 bytes stand for
 * themselves, the others for U+0100 upwards in byte order. */
static char bl_char[256][2];
static int bl_len[256];
static int bl_ready;

static void bytelevel_init(void)
{
    if (bl_ready)
        return;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        uint32_t cp = printable ? (uint32_t)b : (uint32_t)next++;
        bl_len[b] = llm_utf8_encode(cp, bl_char[b]);
    }
    bl_ready = 1;
}

const char *llm_bytelevel_char(int b, int *n_p)
{
    bytelevel_init();
    *n_p = bl_len[b & 255];
    return bl_char[b & 255];
}

/* The byte a byte-level character stands for, or -1. */
static int bytelevel_byte(uint32_t cp)
{
    if ((cp >= '!' && cp <= '~') || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp < 256 || cp >= 256 + 68)
        return -1;
    int k = (int)cp - 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (!printable && k-- == 0)
            return b;
    }
    return -1;
}

/* ================================================================ accessors */

int llm_tok_n_vocab(const llm_tok_t *t) { return t->n; }
int llm_tok_kind(const llm_tok_t *t) { return t->kind; }
int llm_tok_pre(const llm_tok_t *t) { return t->pre; }
int llm_tok_bos(const llm_tok_t *t) { return t->bos; }
int llm_tok_eos(const llm_tok_t *t) { return t->eos; }
int llm_tok_eot(const llm_tok_t *t) { return t->eot; }
int llm_tok_unk(const llm_tok_t *t) { return t->unk; }
int llm_tok_add_bos(const llm_tok_t *t) { return t->add_bos; }
int llm_tok_nfc(const llm_tok_t *t) { return t->nfc; }
int llm_tok_add_space_prefix(const llm_tok_t *t) { return t->kind == LLM_TOK_SPM && t->add_space_prefix; }
int llm_tok_ignore_merges(const llm_tok_t *t) { return t->ignore_merges; }
int llm_tok_byte_token(const llm_tok_t *t, int b) { return t->byte_tok[b & 255]; }

float llm_tok_score(const llm_tok_t *t, int id)
{
    return id >= 0 && id < t->n ? t->score[id] : 0.0f;
}

const char *llm_tok_text(const llm_tok_t *t, int id)
{
    return id >= 0 && id < t->n ? t->text + t->text_off[id] : "";
}

int llm_tok_type(const llm_tok_t *t, int id)
{
    return id >= 0 && id < t->n ? t->type[id] : 0;
}

const char *llm_tok_chat_template(const llm_tok_t *t, size_t *n_p)
{
    *n_p = t->tmpl_len;
    return t->tmpl;
}

int llm_tok_is_eog(const llm_tok_t *t, int id)
{
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return 1;
    return 0;
}

int llm_tok_find(const llm_tok_t *t, const char *s, size_t n)
{
    uint32_t h = hash_bytes(s, n) & t->ht_mask;
    for (;;) {
        int32_t id = t->ht[h];
        if (id < 0)
            return -1;
        size_t len = t->text_off[id + 1] - t->text_off[id] - 1;
        if (len == n && memcmp(t->text + t->text_off[id], s, n) == 0)
            return id;
        h = (h + 1) & t->ht_mask;
    }
}

int llm_tok_merge(const llm_tok_t *t, int l, int r, int *res_p)
{
    if (!t->mkey)
        return -1;
    uint64_t k = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    uint32_t h = hash_u64(k) & t->mh_mask;
    for (;;) {
        if (t->mkey[h] == UINT64_MAX)
            return -1;
        if (t->mkey[h] == k) {
            *res_p = t->mres[h];
            return t->mrank[h];
        }
        h = (h + 1) & t->mh_mask;
    }
}

const char *llm_tok_piece(const llm_tok_t *t, int id, int special, size_t *n_p)
{
    *n_p = 0;
    if (id < 0 || id >= t->n || (!special && (t->type[id] == LLM_TT_CONTROL || t->type[id] == LLM_TT_UNUSED)))
        return "";
    *n_p = t->piece_off[id + 1] - t->piece_off[id];
    return t->piece + t->piece_off[id];
}

void llm_tok_free(llm_tok_t *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->text_off);
    free(t->piece);
    free(t->piece_off);
    free(t->score);
    free(t->type);
    free(t->ht);
    free(t->mkey);
    free(t->mrank);
    free(t->mres);
    free(t->eog);
    free(t->tmpl);
    free(t->sp);
    free(t);
}

/* ================================================================ reading the metadata */

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    const char *key;
} arr_reader_t;

static int ar_str(arr_reader_t *r, const char **s_p, uint64_t *n_p)
{
    uint64_t n;
    if (r->len - r->pos < 8) {
        cb_error("GGUF: %s: the file ends inside it", r->key);
        return 0;
    }
    memcpy(&n, r->buf + r->pos, 8);
    r->pos += 8;
    if (n > TOK_MAX_TEXT || n > r->len - r->pos) {
        cb_error("GGUF: %s: an entry of %llu bytes is %s", r->key, (unsigned long long)n,
                 n > TOK_MAX_TEXT ? "implausibly long" : "past the end of the file");
        return 0;
    }
    *s_p = (const char *)r->buf + r->pos;
    *n_p = n;
    r->pos += n;
    return 1;
}

/* The entry `key` into *kv_p (NULL when absent); 0 (held error) when it is
 * there with another kind or element type. */
static int kv_of(const llm_desc_t *d, const char *key, int kind, int gtype, const llm_kv_t **kv_p)
{
    const llm_kv_t *kv = llm_desc_kv(d, key);
    *kv_p = NULL;
    if (kv && (kv->kind != kind || (gtype >= 0 && kv->gguf_type != gtype))) {
        cb_error("GGUF: %s has the wrong type", key);
        return 0;
    }
    *kv_p = kv;
    return 1;
}

/* A token id from the metadata: *id_p keeps its default when absent. */
static int kv_token_id(const llm_desc_t *d, const char *key, int n, int *id_p)
{
    const llm_kv_t *kv = llm_desc_kv(d, key);
    if (!kv)
        return 1;
    if (kv->kind != LLM_KV_INT) {
        cb_error("GGUF: %s is not an integer", key);
        return 0;
    }
    if (kv->i == -1 || kv->i == (int64_t)UINT32_MAX) { /* "none", as some converters write it */
        *id_p = -1;
        return 1;
    }
    if (kv->i < 0 || kv->i >= n) {
        cb_error("GGUF: %s %lld is not a token (vocabulary of %d)", key, (long long)kv->i, n);
        return 0;
    }
    *id_p = (int)kv->i;
    return 1;
}

static int kv_bool(const llm_desc_t *d, const char *key, int *v_p)
{
    const llm_kv_t *kv = llm_desc_kv(d, key);
    if (!kv)
        return 1;
    if (kv->kind != LLM_KV_BOOL && kv->kind != LLM_KV_INT) {
        cb_error("GGUF: %s is not a bool", key);
        return 0;
    }
    *v_p = kv->i != 0;
    return 1;
}

static cb_status_t read_tokens(llm_tok_t *t, const uint8_t *buf, size_t len, const llm_kv_t *kv)
{
    arr_reader_t r = { buf, len, kv->off, "tokenizer.ggml.tokens" };
    if (kv->off > len) {
        cb_error("GGUF: tokenizer.ggml.tokens lies past the end of the file");
        return CB_ERR_INPUT;
    }
    /* First pass: the total text, so that one allocation holds it. */
    size_t total = 0;
    for (int i = 0; i < t->n; i++) {
        const char *s;
        uint64_t sl;
        if (!ar_str(&r, &s, &sl))
            return CB_ERR_INPUT;
        total += sl + 1;
    }
    if (total > UINT32_MAX) {
        cb_error("GGUF: tokenizer.ggml.tokens: more than 4 GiB of text");
        return CB_ERR_INPUT;
    }
    t->text = malloc(total ? total : 1);
    t->text_off = malloc(sizeof(uint32_t) * ((size_t)t->n + 1));
    if (!t->text || !t->text_off) {
        cb_error("out of memory for the vocabulary");
        return CB_ERR_NOMEM;
    }
    r.pos = kv->off;
    size_t o = 0;
    for (int i = 0; i < t->n; i++) {
        const char *s;
        uint64_t sl;
        ar_str(&r, &s, &sl);
        t->text_off[i] = (uint32_t)o;
        memcpy(t->text + o, s, sl);
        t->text[o + sl] = 0;
        o += sl + 1;
    }
    t->text_off[t->n] = (uint32_t)o;
    return CB_OK;
}

static cb_status_t read_scalars(llm_tok_t *t, const uint8_t *buf, size_t len, const llm_desc_t *d)
{
    const llm_kv_t *kv = llm_desc_kv(d, "tokenizer.ggml.scores");
    t->score = calloc((size_t)t->n, sizeof(float));
    t->type = malloc((size_t)t->n);
    if (!t->score || !t->type) {
        cb_error("out of memory for the vocabulary");
        return CB_ERR_NOMEM;
    }
    memset(t->type, LLM_TT_NORMAL, (size_t)t->n);
    if (kv) {
        if (kv->kind != LLM_KV_ARRAY || kv->gguf_type != GGUF_FLOAT32 || kv->n != (uint64_t)t->n) {
            cb_error("GGUF: tokenizer.ggml.scores must be %d float32 values", t->n);
            return CB_ERR_INPUT;
        }
        if (kv->off > len || (uint64_t)t->n * 4 > len - kv->off) {
            cb_error("GGUF: tokenizer.ggml.scores lies past the end of the file");
            return CB_ERR_INPUT;
        }
        memcpy(t->score, buf + kv->off, (size_t)t->n * 4);
        for (int i = 0; i < t->n; i++)
            if (t->score[i] != t->score[i]) {
                cb_error("GGUF: tokenizer.ggml.scores[%d] is not a number", i);
                return CB_ERR_INPUT;
            }
    }
    kv = llm_desc_kv(d, "tokenizer.ggml.token_type");
    if (kv) {
        if (kv->kind != LLM_KV_ARRAY || (kv->gguf_type != GGUF_INT32 && kv->gguf_type != GGUF_UINT32) ||
            kv->n != (uint64_t)t->n) {
            cb_error("GGUF: tokenizer.ggml.token_type must be %d int32 values", t->n);
            return CB_ERR_INPUT;
        }
        if (kv->off > len || (uint64_t)t->n * 4 > len - kv->off) {
            cb_error("GGUF: tokenizer.ggml.token_type lies past the end of the file");
            return CB_ERR_INPUT;
        }
        for (int i = 0; i < t->n; i++) {
            int32_t v;
            memcpy(&v, buf + kv->off + (size_t)i * 4, 4);
            if (v < LLM_TT_NORMAL || v > LLM_TT_BYTE) {
                cb_error("GGUF: tokenizer.ggml.token_type[%d] = %d is not a token type (1 to 6)", i, v);
                return CB_ERR_INPUT;
            }
            t->type[i] = (uint8_t)v;
        }
    }
    return CB_OK;
}

static cb_status_t build_hash(llm_tok_t *t)
{
    uint32_t size = 1;
    while (size < 2u * (uint32_t)t->n)
        size <<= 1;
    t->ht = malloc(sizeof(int32_t) * size);
    if (!t->ht) {
        cb_error("out of memory for the vocabulary");
        return CB_ERR_NOMEM;
    }
    memset(t->ht, 0xFF, sizeof(int32_t) * size);
    t->ht_mask = size - 1;
    for (int i = 0; i < t->n; i++) {
        const char *s = t->text + t->text_off[i];
        size_t n = t->text_off[i + 1] - t->text_off[i] - 1;
        uint32_t h = hash_bytes(s, n) & t->ht_mask;
        /* The first of equal texts keeps the entry. */
        while (t->ht[h] >= 0) {
            int32_t o = t->ht[h];
            size_t on = t->text_off[o + 1] - t->text_off[o] - 1;
            if (on == n && memcmp(t->text + t->text_off[o], s, n) == 0)
                break;
            h = (h + 1) & t->ht_mask;
        }
        if (t->ht[h] < 0)
            t->ht[h] = i;
    }
    return CB_OK;
}

static cb_status_t read_merges(llm_tok_t *t, const uint8_t *buf, size_t len, const llm_kv_t *kv)
{
    if (kv->n > TOK_MAX_MERGES || kv->off > len || kv->n > (len - kv->off) / 8) {
        cb_error("GGUF: tokenizer.ggml.merges: %llu entries cannot fit in the file", (unsigned long long)kv->n);
        return CB_ERR_INPUT;
    }
    int nm = (int)kv->n;
    uint32_t size = 1;
    while (size < 2u * (uint32_t)nm + 2)
        size <<= 1;
    t->mkey = malloc(sizeof(uint64_t) * size);
    t->mrank = malloc(sizeof(int32_t) * size);
    t->mres = malloc(sizeof(int32_t) * size);
    if (!t->mkey || !t->mrank || !t->mres) {
        cb_error("out of memory for the merges");
        return CB_ERR_NOMEM;
    }
    memset(t->mkey, 0xFF, sizeof(uint64_t) * size);
    t->mh_mask = size - 1;
    arr_reader_t r = { buf, len, kv->off, "tokenizer.ggml.merges" };
    char tmp[2 * TOK_MAX_TEXT];
    for (int i = 0; i < nm; i++) {
        const char *s;
        uint64_t sl;
        if (!ar_str(&r, &s, &sl))
            return CB_ERR_INPUT;
        const char *sp = sl > 1 ? memchr(s + 1, ' ', sl - 1) : NULL;
        if (!sp) {
            cb_error("GGUF: tokenizer.ggml.merges[%d] is not two tokens separated by a space", i);
            return CB_ERR_INPUT;
        }
        size_t ln = (size_t)(sp - s), rn = sl - ln - 1;
        int l = llm_tok_find(t, s, ln), rr = llm_tok_find(t, sp + 1, rn);
        if (l < 0 || rr < 0)
            continue; /* a merge of tokens the vocabulary lacks can never apply */
        memcpy(tmp, s, ln);
        memcpy(tmp + ln, sp + 1, rn);
        int res = llm_tok_find(t, tmp, ln + rn);
        if (res < 0)
            continue;
        uint64_t k = (uint64_t)(uint32_t)l << 32 | (uint32_t)rr;
        uint32_t h = hash_u64(k) & t->mh_mask;
        while (t->mkey[h] != UINT64_MAX && t->mkey[h] != k)
            h = (h + 1) & t->mh_mask;
        if (t->mkey[h] == k)
            continue; /* the first (lowest rank) stays */
        t->mkey[h] = k;
        t->mrank[h] = i;
        t->mres[h] = res;
    }
    return CB_OK;
}

/* Every token's decoded bytes. */
static cb_status_t build_pieces(llm_tok_t *t)
{
    size_t total = t->text_off[t->n];
    t->piece = malloc(total ? total : 1); /* never longer than the text */
    t->piece_off = malloc(sizeof(uint32_t) * ((size_t)t->n + 1));
    if (!t->piece || !t->piece_off) {
        cb_error("out of memory for the vocabulary");
        return CB_ERR_NOMEM;
    }
    size_t o = 0;
    for (int i = 0; i < t->n; i++) {
        const char *s = t->text + t->text_off[i];
        size_t n = t->text_off[i + 1] - t->text_off[i] - 1;
        t->piece_off[i] = (uint32_t)o;
        int ty = t->type[i];
        if (ty == LLM_TT_BYTE && n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>') {
            unsigned v;
            if (sscanf(s + 3, "%2x", &v) == 1) {
                t->piece[o++] = (char)v;
                continue;
            }
        }
        if (ty == LLM_TT_CONTROL || ty == LLM_TT_USER || ty == LLM_TT_UNKNOWN || ty == LLM_TT_UNUSED) {
            memcpy(t->piece + o, s, n);
            o += n;
            continue;
        }
        for (size_t k = 0; k < n;) {
            uint32_t cp;
            int cl = llm_utf8_decode(s + k, n - k, &cp);
            int b = -1;
            if (t->kind == LLM_TOK_BPE && cl > 1)
                b = bytelevel_byte(cp);
            else if (t->kind == LLM_TOK_BPE && cl == 1 && cp != 0xFFFD)
                b = bytelevel_byte(cp);
            if (t->kind == LLM_TOK_SPM && cp == 0x2581) {
                t->piece[o++] = ' ';
            } else if (b >= 0) {
                t->piece[o++] = (char)b;
            } else {
                memcpy(t->piece + o, s + k, (size_t)cl);
                o += (size_t)cl;
            }
            k += (size_t)cl;
        }
    }
    t->piece_off[t->n] = (uint32_t)o;
    return CB_OK;
}

static const llm_tok_t *sp_sort_t; /* qsort has no context argument */
static int sp_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    const llm_tok_t *t = sp_sort_t;
    unsigned char fx = (unsigned char)t->text[t->text_off[x]], fy = (unsigned char)t->text[t->text_off[y]];
    if (fx != fy)
        return fx < fy ? -1 : 1;
    uint32_t lx = t->text_off[x + 1] - t->text_off[x], ly = t->text_off[y + 1] - t->text_off[y];
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static cb_status_t build_specials(llm_tok_t *t)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        if ((t->type[i] == LLM_TT_CONTROL || t->type[i] == LLM_TT_USER || t->type[i] == LLM_TT_UNKNOWN) &&
            t->text_off[i + 1] - t->text_off[i] > 1)
            n++;
    t->sp = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!t->sp) {
        cb_error("out of memory for the special tokens");
        return CB_ERR_NOMEM;
    }
    n = 0;
    for (int i = 0; i < t->n; i++)
        if ((t->type[i] == LLM_TT_CONTROL || t->type[i] == LLM_TT_USER || t->type[i] == LLM_TT_UNKNOWN) &&
            t->text_off[i + 1] - t->text_off[i] > 1)
            t->sp[n++] = i;
    t->n_sp = n;
    sp_sort_t = t;
    qsort(t->sp, (size_t)n, sizeof(int), sp_cmp);
    int k = 0;
    for (int b = 0; b <= 256; b++) {
        while (b < 256 && k < n && (unsigned char)t->text[t->text_off[t->sp[k]]] < b)
            k++;
        t->sp_start[b] = b < 256 ? k : n;
    }
    return CB_OK;
}

/* The end-of-generation set: EOS, EOT, EOM, and the end-of-turn markers
 * chat models use when the metadata names only one of them. */
static cb_status_t build_eog(llm_tok_t *t)
{
    static const char *const markers[] = { "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>",
                                           "<|endoftext|>", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                           "<end_of_turn>", "<|end|>", NULL };
    t->eog = malloc(sizeof(int) * 12);
    if (!t->eog) {
        cb_error("out of memory");
        return CB_ERR_NOMEM;
    }
    int ids[3] = { t->eos, t->eot, t->eom };
    for (int i = 0; i < 3; i++)
        if (ids[i] >= 0)
            t->eog[t->n_eog++] = ids[i];
    for (int i = 0; markers[i]; i++) {
        int id = llm_tok_find(t, markers[i], strlen(markers[i]));
        if (id >= 0 && (t->type[id] == LLM_TT_CONTROL || t->type[id] == LLM_TT_USER) && !llm_tok_is_eog(t, id))
            t->eog[t->n_eog++] = id;
    }
    return CB_OK;
}

cb_status_t llm_tok_parse(const uint8_t *buf, size_t len, const llm_desc_t *d, llm_tok_t **tok_p)
{
    cb_status_t st = CB_ERR_INPUT;
    const llm_kv_t *model;
    if (!kv_of(d, "tokenizer.ggml.model", LLM_KV_STRING, -1, &model))
        return CB_ERR_INPUT;
    if (!model || !strcmp(model->s, "none") || !strcmp(model->s, "no_vocab")) {
        cb_error("the model has no tokenizer (no tokenizer.ggml.model): give token ids with --prompt-ids");
        return CB_ERR_USAGE;
    }
    int kind;
    if (!strcmp(model->s, "llama"))
        kind = LLM_TOK_SPM;
    else if (!strcmp(model->s, "gpt2"))
        kind = LLM_TOK_BPE;
    else {
        cb_error("tokenizer '%.40s' is not supported (llama and gpt2 are)", model->s);
        return CB_ERR_UNSUPPORTED;
    }
    int pre = LLM_PRE_GPT2;
    const llm_kv_t *pk;
    if (!kv_of(d, "tokenizer.ggml.pre", LLM_KV_STRING, -1, &pk))
        return CB_ERR_INPUT;
    if (kind == LLM_TOK_BPE && pk) {
        const char *p = pk->s;
        if (!strcmp(p, "default") || !strcmp(p, "gpt-2") || !strcmp(p, "gpt2"))
            pre = LLM_PRE_GPT2;
        else if (!strcmp(p, "llama3") || !strcmp(p, "llama-bpe") || !strcmp(p, "llama-v3"))
            pre = LLM_PRE_LLAMA3;
        else if (!strcmp(p, "qwen2"))
            pre = LLM_PRE_QWEN2;
        else if (!strcmp(p, "deepseek-v3"))
            pre = LLM_PRE_DEEPSEEK3;
        else {
            cb_error("pre-tokenizer '%.40s' (tokenizer.ggml.pre) is not supported (default, gpt-2, llama-bpe, qwen2, deepseek-v3)", p);
            return CB_ERR_UNSUPPORTED;
        }
    }
    const llm_kv_t *tk;
    if (!kv_of(d, "tokenizer.ggml.tokens", LLM_KV_ARRAY, GGUF_STRING, &tk))
        return CB_ERR_INPUT;
    if (!tk || tk->n == 0 || tk->n > TOK_MAX_VOCAB) {
        cb_error("GGUF: tokenizer.ggml.tokens %s", tk ? "has an implausible count" : "is missing");
        return CB_ERR_INPUT;
    }
    llm_tok_t *t = calloc(1, sizeof *t);
    if (!t) {
        cb_error("out of memory");
        return CB_ERR_NOMEM;
    }
    t->kind = kind;
    t->pre = pre;
    t->n = (int)tk->n;
    t->bos = kind == LLM_TOK_SPM && t->n > 1 ? 1 : -1;
    t->eos = kind == LLM_TOK_SPM && t->n > 2 ? 2 : -1;
    t->unk = kind == LLM_TOK_SPM ? 0 : -1;
    t->eot = t->eom = -1;
    t->add_bos = kind == LLM_TOK_SPM;
    t->add_space_prefix = kind == LLM_TOK_SPM;
    t->ignore_merges = pre == LLM_PRE_LLAMA3;
    t->nfc = pre == LLM_PRE_QWEN2;
    if ((st = read_tokens(t, buf, len, tk)) != CB_OK || (st = read_scalars(t, buf, len, d)) != CB_OK ||
        (st = build_hash(t)) != CB_OK)
        goto fail;
    st = CB_ERR_INPUT;
    if (!kv_token_id(d, "tokenizer.ggml.bos_token_id", t->n, &t->bos) ||
        !kv_token_id(d, "tokenizer.ggml.eos_token_id", t->n, &t->eos) ||
        !kv_token_id(d, "tokenizer.ggml.eot_token_id", t->n, &t->eot) ||
        !kv_token_id(d, "tokenizer.ggml.eom_token_id", t->n, &t->eom) ||
        !kv_token_id(d, "tokenizer.ggml.unknown_token_id", t->n, &t->unk) ||
        !kv_bool(d, "tokenizer.ggml.add_bos_token", &t->add_bos) ||
        !kv_bool(d, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix))
        goto fail;
    const llm_kv_t *mk;
    if (!kv_of(d, "tokenizer.ggml.merges", LLM_KV_ARRAY, GGUF_STRING, &mk))
        goto fail;
    if (kind == LLM_TOK_BPE) {
        if (!mk) {
            cb_error("GGUF: a gpt2 tokenizer needs tokenizer.ggml.merges");
            goto fail;
        }
        if ((st = read_merges(t, buf, len, mk)) != CB_OK)
            goto fail;
        st = CB_ERR_INPUT;
        bytelevel_init();
        for (int b = 0; b < 256; b++) {
            t->byte_tok[b] = llm_tok_find(t, bl_char[b], (size_t)bl_len[b]);
            if (t->byte_tok[b] < 0) {
                cb_error("GGUF: the byte-level vocabulary lacks the token of byte 0x%02X", b);
                goto fail;
            }
        }
    } else {
        int missing = 0;
        for (int b = 0; b < 256; b++) {
            char s[8];
            snprintf(s, sizeof s, "<0x%02X>", b);
            t->byte_tok[b] = llm_tok_find(t, s, 6);
            missing += t->byte_tok[b] < 0;
        }
        if (missing && t->unk < 0) {
            cb_error("GGUF: the vocabulary has neither all 256 byte tokens <0xNN> nor an unknown token");
            goto fail;
        }
    }
    if (t->unk >= 0 && t->unk >= t->n)
        t->unk = -1;
    /* The parser keeps only the start of long strings: read it in full. */
    const llm_kv_t *ck;
    if (!kv_of(d, "tokenizer.chat_template", LLM_KV_STRING, -1, &ck))
        goto fail;
    if (ck) {
        uint64_t cl;
        if (ck->off > len || len - ck->off < 8 || (memcpy(&cl, buf + ck->off, 8), cl > len - ck->off - 8) ||
            cl > (1u << 20)) {
            cb_error("GGUF: tokenizer.chat_template is longer than the file or than 1 MiB");
            goto fail;
        }
        if (!(t->tmpl = malloc(cl + 1))) {
            cb_error("out of memory");
            st = CB_ERR_NOMEM;
            goto fail;
        }
        memcpy(t->tmpl, buf + ck->off + 8, cl);
        t->tmpl[cl] = 0;
        t->tmpl_len = cl;
    }
    if ((st = build_pieces(t)) != CB_OK || (st = build_specials(t)) != CB_OK || (st = build_eog(t)) != CB_OK)
        goto fail;
    *tok_p = t;
    return CB_OK;

fail:
    llm_tok_free(t);
    return st;
}

/* Map a file; *map_p NULL for an empty one. */
static cb_status_t map_file(const char *path, void **map_p, size_t *len_p)
{
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        cb_error("cannot open %s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return CB_ERR_IO;
    }
    *len_p = (size_t)sb.st_size;
    *map_p = NULL;
    if (sb.st_size > 0) {
        void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            cb_error("cannot map %s: %s", path, strerror(errno));
            close(fd);
            return CB_ERR_IO;
        }
        *map_p = map;
    }
    close(fd);
    return CB_OK;
}

cb_status_t llm_tok_open(const char *path, llm_tok_t **tok_p)
{
    void *map;
    size_t len;
    llm_desc_t d;
    cb_status_t st = map_file(path, &map, &len);
    if (st != CB_OK)
        return st;
    if (len < 4 || memcmp(map, "GGUF", 4) != 0) {
        cb_error("%s: not a GGUF file, so it has no tokenizer", path);
        st = CB_ERR_INPUT;
    } else if ((st = llm_gguf_parse(map, len, &d)) == CB_OK) {
        snprintf(d.source, sizeof d.source, "%s", path);
        st = llm_tok_parse(map, len, &d, tok_p);
        llm_desc_free(&d);
    }
    if (map)
        munmap(map, len);
    return st;
}

cb_status_t llm_tok_load(const llm_desc_t *d, llm_tok_t **tok_p)
{
    if (d->format != LLM_FMT_GGUF) {
        cb_error("%s: a %s model has no tokenizer: give token ids with --prompt-ids", d->source,
                 d->format == LLM_FMT_LLAMA2C ? "llama2.c" : "synthetic");
        return CB_ERR_USAGE;
    }
    int fd = open(d->source, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        cb_error("cannot open %s: %s", d->source, strerror(errno));
        if (fd >= 0)
            close(fd);
        return CB_ERR_IO;
    }
    if ((uint64_t)sb.st_size != d->file_size) {
        cb_error("%s changed while it was read", d->source);
        close(fd);
        return CB_ERR_IO;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        cb_error("cannot map %s: %s", d->source, strerror(errno));
        return CB_ERR_IO;
    }
    cb_status_t st = llm_tok_parse(map, (size_t)sb.st_size, d, tok_p);
    munmap(map, (size_t)sb.st_size);
    return st;
}

/* ================================================================ encode */

static cb_status_t encode_raw(const llm_tok_t *t, const char *s, size_t n, int *prev_special, llm_ids_t *ids)
{
    cb_status_t st;
    if (t->kind == LLM_TOK_SPM) {
        st = llm_tok_spm_encode(t, s, n, t->add_space_prefix && *prev_special, ids);
    } else if (t->nfc) {
        char *norm;
        size_t nn;
        if ((st = llm_nfc(s, n, &norm, &nn)) == CB_OK) {
            st = llm_tok_bpe_encode(t, norm, nn, ids);
            free(norm);
        }
    } else {
        st = llm_tok_bpe_encode(t, s, n, ids);
    }
    *prev_special = 0;
    return st;
}

cb_status_t llm_tok_encode(const llm_tok_t *t, const char *text, size_t len, int add_bos, int special, llm_ids_t *ids)
{
    cb_status_t st;
    int prev_special = 1;
    if (add_bos && t->bos >= 0 && (st = llm_ids_push(ids, t->bos)) != CB_OK)
        return st;
    size_t seg = 0;
    for (size_t i = 0; special && i < len;) {
        unsigned char b = (unsigned char)text[i];
        int match = -1;
        size_t mlen = 0;
        /* Leftmost-longest: the bucket is sorted longest first. */
        for (int k = t->sp_start[b]; k < t->sp_start[b + 1]; k++) {
            int id = t->sp[k];
            size_t sl = t->text_off[id + 1] - t->text_off[id] - 1;
            if (sl <= len - i && memcmp(text + i, t->text + t->text_off[id], sl) == 0) {
                match = id;
                mlen = sl;
                break;
            }
        }
        if (match < 0) {
            i++;
            continue;
        }
        if (i > seg && (st = encode_raw(t, text + seg, i - seg, &prev_special, ids)) != CB_OK)
            return st;
        if ((st = llm_ids_push(ids, match)) != CB_OK)
            return st;
        prev_special = 1;
        i += mlen;
        seg = i;
    }
    if (len > seg)
        return encode_raw(t, text + seg, len - seg, &prev_special, ids);
    return CB_OK;
}
