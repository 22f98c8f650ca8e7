/* SentencePiece-style BPE (tokenizer.ggml.model = llama): spaces become
 * U+2581 ('▁', one in front of the text after a special token or at the
 * start), the text is cut into characters, and the adjacent pair whose
 * concatenation is the best-scored token is merged until none is left;
 * characters outside the vocabulary fall back to their bytes <0xNN>. */
#include <stdlib.h>
#include <string.h>
#include "llm_tok.h"

typedef struct {
    int start, len;     /* bytes in the escaped text */
    int prev, next;     /* -1 at the ends */
} spm_sym_t;

static cb_status_t try_pair(const llm_tok_t *t, const char *s, const spm_sym_t *sym, int l, int r,
                            llm_tok_heap_t *h)
{
    if (l < 0 || r < 0)
        return CB_OK;
    int id = llm_tok_find(t, s + sym[l].start, (size_t)(sym[l].len + sym[r].len));
    if (id < 0)
        return CB_OK;
    llm_tok_cand_t c = { -(double)llm_tok_score(t, id), l, r, sym[l].len, sym[r].len, id };
    return llm_tok_heap_push(h, &c);
}

cb_status_t llm_tok_spm_encode(const llm_tok_t *t, const char *text, size_t len, int space_prefix, llm_ids_t *ids)
{
    static const char wsp[3] = { (char)0xE2, (char)0x96, (char)0x81 };
    cb_status_t st = CB_OK;
    size_t n_sp = 0;
    for (size_t i = 0; i < len; i++)
        n_sp += text[i] == ' ';
    if (len > (size_t)INT32_MAX / 4) {
        cb_error("text of %zu bytes is too long to tokenize", len);
        return CB_ERR_USAGE;
    }
    size_t n = len + 2 * n_sp + (space_prefix ? 3 : 0); /* ' ' -> 3 bytes of U+2581 */
    char *s = malloc(n ? n : 1);
    spm_sym_t *sym = malloc(sizeof *sym * (n ? n : 1));
    llm_tok_heap_t heap = { 0 };
    if (!s || !sym) {
        cb_error("out of memory in the tokenizer");
        st = CB_ERR_NOMEM;
        goto done;
    }
    size_t o = 0;
    if (space_prefix) {
        memcpy(s, wsp, 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + o, wsp, 3);
            o += 3;
        } else {
            s[o++] = text[i];
        }
    }
    int ns = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int cl = llm_utf8_decode(s + i, n - i, &cp);
        sym[ns] = (spm_sym_t){ (int)i, cl, ns - 1, -1 };
        if (ns > 0)
            sym[ns - 1].next = ns;
        ns++;
        i += (size_t)cl;
    }
    for (int i = 0; i + 1 < ns && st == CB_OK; i++)
        st = try_pair(t, s, sym, i, i + 1, &heap);
    llm_tok_cand_t c;
    while (st == CB_OK && llm_tok_heap_pop(&heap, &c)) {
        spm_sym_t *l = &sym[c.left], *r = &sym[c.right];
        /* Stale: one side was merged into something else since. */
        if (l->len == 0 || r->len == 0 || l->next != c.right || l->len != c.lid || r->len != c.rid)
            continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = c.left;
        st = try_pair(t, s, sym, l->prev, c.left, &heap);
        if (st == CB_OK)
            st = try_pair(t, s, sym, c.left, l->next, &heap);
    }
    for (int i = 0; ns > 0 && i >= 0 && st == CB_OK; i = sym[i].next) {
        int id = llm_tok_find(t, s + sym[i].start, (size_t)sym[i].len);
        if (id >= 0) {
            st = llm_ids_push(ids, id);
            continue;
        }
        for (int k = 0; k < sym[i].len && st == CB_OK; k++) {
            int b = llm_tok_byte_token(t, (unsigned char)s[sym[i].start + k]);
            st = llm_ids_push(ids, b >= 0 ? b : llm_tok_unk(t));
        }
    }
done:
    free(heap.v);
    free(sym);
    free(s);
    return st;
}
