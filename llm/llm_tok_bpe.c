/* Byte-level BPE (tokenizer.ggml.model = gpt2): the pre-tokenizer cuts the
 * text into words; each word's bytes become GPT-2's byte-level characters,
 * one symbol each, and the adjacent pair with the lowest merge rank is
 * merged (leftmost first) until no listed merge applies. Llama 3 takes a
 * word that is itself a token whole (ignore_merges). */
#include <stdlib.h>
#include <string.h>
#include "llm_tok.h"

typedef struct {
    int id;             /* token of the symbol */
    int prev, next;     /* -1 at the ends */
    int alive;
} bpe_sym_t;

typedef struct {
    const llm_tok_t *t;
    const char *text;
    llm_ids_t *ids;
    bpe_sym_t *sym;     /* scratch, grown to the longest word */
    size_t sym_cap;
    char *mapped;       /* scratch: the word in byte-level characters */
    size_t mapped_cap;
    llm_tok_heap_t heap;
} bpe_ctx_t;

static cb_status_t try_pair(bpe_ctx_t *x, int l, int r)
{
    if (l < 0 || r < 0)
        return CB_OK;
    int res, rank = llm_tok_merge(x->t, x->sym[l].id, x->sym[r].id, &res);
    if (rank < 0)
        return CB_OK;
    llm_tok_cand_t c = { (double)rank, l, r, x->sym[l].id, x->sym[r].id, res };
    return llm_tok_heap_push(&x->heap, &c);
}

static cb_status_t grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return CB_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) {
        cb_error("out of memory in the tokenizer");
        return CB_ERR_NOMEM;
    }
    *p = q;
    *cap = c;
    return CB_OK;
}

static cb_status_t bpe_word(void *arg, size_t start, size_t end)
{
    bpe_ctx_t *x = arg;
    const llm_tok_t *t = x->t;
    const unsigned char *w = (const unsigned char *)x->text + start;
    size_t n = end - start;
    cb_status_t st;
    if (n == 0)
        return CB_OK;
    if (llm_tok_ignore_merges(t)) {
        if ((st = grow((void **)&x->mapped, &x->mapped_cap, 2 * n, 1)) != CB_OK)
            return st;
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            int cl;
            const char *c = llm_bytelevel_char(w[i], &cl);
            memcpy(x->mapped + o, c, (size_t)cl);
            o += (size_t)cl;
        }
        int id = llm_tok_find(t, x->mapped, o);
        if (id >= 0)
            return llm_ids_push(x->ids, id);
    }
    if (n > (size_t)INT32_MAX / 2) {
        cb_error("a word of %zu bytes is too long to tokenize", n);
        return CB_ERR_USAGE;
    }
    if ((st = grow((void **)&x->sym, &x->sym_cap, n, sizeof(bpe_sym_t))) != CB_OK)
        return st;
    bpe_sym_t *sym = x->sym;
    for (size_t i = 0; i < n; i++)
        sym[i] = (bpe_sym_t){ llm_tok_byte_token(t, w[i]), (int)i - 1, i + 1 < n ? (int)i + 1 : -1, 1 };
    x->heap.n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if ((st = try_pair(x, (int)i, (int)i + 1)) != CB_OK)
            return st;
    llm_tok_cand_t c;
    while (llm_tok_heap_pop(&x->heap, &c)) {
        bpe_sym_t *l = &sym[c.left], *r = &sym[c.right];
        if (!l->alive || !r->alive || l->next != c.right || l->id != c.lid || r->id != c.rid)
            continue;
        l->id = c.res;
        r->alive = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = c.left;
        if ((st = try_pair(x, l->prev, c.left)) != CB_OK || (st = try_pair(x, c.left, l->next)) != CB_OK)
            return st;
    }
    for (int i = 0; i >= 0; i = sym[i].next)
        if ((st = llm_ids_push(x->ids, sym[i].id)) != CB_OK)
            return st;
    return CB_OK;
}

cb_status_t llm_tok_bpe_encode(const llm_tok_t *t, const char *text, size_t len, llm_ids_t *ids)
{
    bpe_ctx_t x = { t, text, ids, NULL, 0, NULL, 0, { 0 } };
    cb_status_t st = llm_pre_split(llm_tok_pre(t), text, len, bpe_word, &x);
    free(x.sym);
    free(x.mapped);
    free(x.heap.v);
    return st;
}
