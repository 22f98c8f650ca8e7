/* Unicode for the tokenizers: the category class of a code point (from the
 * generated table llm_unicode_tab.c), White_Space, UTF-8 decoding that never
 * reads past its input, and the streaming output that never cuts a character. */
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
