/* Unicode for the tokenizers: the category class of a code point (from the
 * generated table llm_unicode_tab.c), White_Space, UTF-8 decoding that never
 * reads past its input, the streaming output that never cuts a character,
 * and NFC (UAX #15: canonical decomposition, ordering, composition). */
#include <stdlib.h>
#include <string.h>
#include "llm_tok.h"

/* ================================================================ classes */

int llm_ucat(uint32_t cp)
{
    if (cp > 0x10FFFF)
        return LLM_UCAT_C;
    /* The last range whose first code point is <= cp. */
    int lo = 0, hi = llm_ucat_n_ranges - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if ((llm_ucat_ranges[mid] >> 3) <= cp)
            lo = mid;
        else
            hi = mid - 1;
    }
    return (int)(llm_ucat_ranges[lo] & 7);
}

int llm_uspace(uint32_t cp)
{
    /* PropList.txt's White_Space: short and stable, so written out. */
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

/* ================================================================ UTF-8 */

int llm_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned c = u[0];
    int len;
    uint32_t v, min;
    *cp = 0xFFFD;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; min = 0x10000; }
    else
        return 1;
    if ((size_t)len > n)
        return 1;
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 1;
        v = v << 6 | (u[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 1;
    *cp = v;
    return len;
}

int llm_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ================================================================ streaming */

/* Length of the character a lead byte announces (0: not a lead byte). */
static int utf8_lead_len(unsigned c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* 1 if p[0..n) (n below the announced length) can still become a valid character. */
static int utf8_viable_prefix(const unsigned char *p, int n)
{
    uint32_t cp;
    char tmp[4] = { 0 };
    memcpy(tmp, p, (size_t)n);
    /* Complete it with the smallest and largest continuation bytes: valid
     * with either means some completion is valid (the bounds are monotone). */
    int len = utf8_lead_len(p[0]);
    for (int i = n; i < len; i++)
        tmp[i] = (char)0x80;
    if (llm_utf8_decode(tmp, (size_t)len, &cp) == len)
        return 1;
    for (int i = n; i < len; i++)
        tmp[i] = (char)0xBF;
    return llm_utf8_decode(tmp, (size_t)len, &cp) == len;
}

size_t llm_utf8_stream(llm_utf8_stream_t *s, const char *in, size_t n, char *out)
{
    static const char fffd[3] = { (char)0xEF, (char)0xBF, (char)0xBD };
    size_t o = 0;
    if (!in) {
        if (s->n > 0) {
            memcpy(out, fffd, 3);
            o = 3;
        }
        s->n = 0;
        return o;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (s->n == 0) {
            int len = utf8_lead_len(c);
            if (len == 1) {
                out[o++] = (char)c;
            } else if (len == 0) {
                memcpy(out + o, fffd, 3);
                o += 3;
            } else {
                s->pend[s->n++] = c;
            }
            continue;
        }
        s->pend[s->n++] = c;
        int len = utf8_lead_len(s->pend[0]);
        if (!utf8_viable_prefix(s->pend, s->n < len ? s->n : len) || (c & 0xC0) != 0x80) {
            /* The pending bytes cannot finish a character: one U+FFFD for
             * them, and this byte starts afresh. */
            memcpy(out + o, fffd, 3);
            o += 3;
            s->n = 0;
            i--; /* reconsider c */
            continue;
        }
        if (s->n == len) {
            memcpy(out + o, s->pend, (size_t)len);
            o += (size_t)len;
            s->n = 0;
        }
    }
    return o;
}

/* ================================================================ NFC */

int llm_ccc_of(uint32_t cp)
{
    int lo = 0, hi = llm_ccc_n - 1;
    if (cp < 0x300)
        return 0;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        uint32_t k = llm_ccc[mid] >> 8;
        if (k == cp)
            return (int)(llm_ccc[mid] & 0xFF);
        if (k < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

enum { H_SBASE = 0xAC00, H_LBASE = 0x1100, H_VBASE = 0x1161, H_TBASE = 0x11A7,
       H_LCOUNT = 19, H_VCOUNT = 21, H_TCOUNT = 28, H_NCOUNT = H_VCOUNT * H_TCOUNT, H_SCOUNT = H_LCOUNT * H_NCOUNT };

/* The full canonical decomposition of cp into d (at most 8): its length. */
static int decompose(uint32_t cp, uint32_t *d)
{
    if (cp >= H_SBASE && cp < H_SBASE + H_SCOUNT) {
        uint32_t s = cp - H_SBASE;
        d[0] = H_LBASE + s / H_NCOUNT;
        d[1] = H_VBASE + (s % H_NCOUNT) / H_TCOUNT;
        if (s % H_TCOUNT == 0)
            return 2;
        d[2] = H_TBASE + s % H_TCOUNT;
        return 3;
    }
    int lo = 0, hi = llm_decomp_n - 1;
    while (cp >= 0xC0 && lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (llm_decomp_cp[mid] == cp) {
            uint32_t o = llm_decomp_off[mid] >> 3, n = llm_decomp_off[mid] & 7;
            memcpy(d, llm_decomp_pool + o, n * sizeof(uint32_t));
            return (int)n;
        }
        if (llm_decomp_cp[mid] < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    d[0] = cp;
    return 1;
}

/* The primary composite of a and b, or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= H_LBASE && a < H_LBASE + H_LCOUNT && b >= H_VBASE && b < H_VBASE + H_VCOUNT)
        return H_SBASE + ((a - H_LBASE) * H_VCOUNT + (b - H_VBASE)) * H_TCOUNT;
    if (a >= H_SBASE && a < H_SBASE + H_SCOUNT && (a - H_SBASE) % H_TCOUNT == 0 && b > H_TBASE &&
        b < H_TBASE + H_TCOUNT)
        return a + (b - H_TBASE);
    uint64_t k = (uint64_t)a << 21 | b;
    int lo = 0, hi = llm_comp_n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (llm_comp_pair[mid] == k)
            return llm_comp_cp[mid];
        if (llm_comp_pair[mid] < k)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

/* NFC of the code points c[0..n) in place; returns the new length. */
static size_t nfc_run(uint32_t *c, size_t n)
{
    /* Canonical order: a stable sort of each run of non-starters by class
     * (insertion sort: runs of marks are short). */
    for (size_t i = 1; i < n; i++) {
        int cc = llm_ccc_of(c[i]);
        if (cc == 0)
            continue;
        for (size_t j = i; j > 0 && llm_ccc_of(c[j - 1]) > cc; j--) {
            uint32_t t = c[j];
            c[j] = c[j - 1];
            c[j - 1] = t;
        }
    }
    if (n == 0)
        return 0;
    /* Compose each character with the last starter unless a character of
     * the same or a higher class (or a starter) stands between them. */
    size_t starter = 0, k = 1;
    int last = llm_ccc_of(c[0]) ? 256 : 0;
    for (size_t i = 1; i < n; i++) {
        int cc = llm_ccc_of(c[i]);
        uint32_t comp = compose(c[starter], c[i]);
        if (comp && (last < cc || last == 0)) {
            c[starter] = comp;
            continue;
        }
        if (cc == 0)
            starter = k;
        last = cc;
        c[k++] = c[i];
    }
    return k;
}

cb_status_t llm_nfc(const char *s, size_t n, char **out_p, size_t *on_p)
{
    /* The decomposition takes at most 8 code points per character (at least
     * one byte each), and each comes back as at most 4 bytes. */
    uint32_t *c = n <= SIZE_MAX / 64 ? malloc(sizeof(uint32_t) * 8 * (n ? n : 1)) : NULL;
    char *out = n <= SIZE_MAX / 64 ? malloc(32 * (n ? n : 1)) : NULL;
    if (!c || !out) {
        free(c);
        free(out);
        cb_error("out of memory normalizing %zu bytes of text", n);
        return CB_ERR_NOMEM;
    }
    size_t o = 0, nc = 0;
    for (size_t i = 0; i <= n;) {
        uint32_t cp = 0;
        int len = i < n ? llm_utf8_decode(s + i, n - i, &cp) : 0;
        int invalid = i < n && len == 1 && cp == 0xFFFD;
        /* A run ends at an invalid byte, the end, or before a starter that
         * nothing can compose with backwards (a cheap, safe cut: ASCII). */
        if (invalid || i == n || (cp < 0x80 && nc > 0)) {
            size_t m = nfc_run(c, nc);
            for (size_t j = 0; j < m; j++)
                o += (size_t)llm_utf8_encode(c[j], out + o);
            nc = 0;
        }
        if (i == n)
            break;
        if (invalid)
            out[o++] = s[i];
        else
            nc += (size_t)decompose(cp, c + nc);
        i += (size_t)len;
    }
    free(c);
    *out_p = out;
    *on_p = o;
    return CB_OK;
}
