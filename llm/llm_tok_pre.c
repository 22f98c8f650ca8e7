/* The pre-tokenizer splits of byte-level BPE, as hand-written scanners over
 * code points with the Unicode classes of llm_unicode.c. Each reproduces the
 * leftmost-first matching (alternatives in order, greedy with backtracking)
 * of the regular expression the model's tokenizer.json names:
 *
 * gpt2:     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * llama3:   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * qwen2:    the same with \p{N} (one digit)
 * deepseek-v3: three splits in turn, each keeping the text between matches:
 *           \p{N}{1,3};  [\x{4e00}-\x{9fa5}\x{3040}-\x{309f}\x{30a0}-\x{30ff}]+;
 *           [!-/:-@[-`{-~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
 *            ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * Every scanner moves forward at each step, so a split is linear in the text. */
#include <stdlib.h>
#include "llm_tok.h"

typedef struct {
    const uint32_t *c;  /* code points */
    const size_t *off;  /* byte offset of each, off[n] = the length */
    llm_pre_emit_t emit;
    void *arg;
} pre_t;

static int is_l(uint32_t c) { return llm_ucat(c) == LLM_UCAT_L; }
static int is_n(uint32_t c) { return llm_ucat(c) == LLM_UCAT_N; }
static int is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }
static int is_ps(uint32_t c) { int k = llm_ucat(c); return k == LLM_UCAT_P || k == LLM_UCAT_S; }
static int is_lm(uint32_t c) { int k = llm_ucat(c); return k == LLM_UCAT_L || k == LLM_UCAT_M; }
/* [^\s\p{L}\p{N}] */
static int is_other(uint32_t c) { int k = llm_ucat(c); return !llm_uspace(c) && k != LLM_UCAT_L && k != LLM_UCAT_N; }
static int is_alpha(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_apunct(uint32_t c)
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}
static int is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x3040 && c <= 0x309F) || (c >= 0x30A0 && c <= 0x30FF);
}

static int run(const uint32_t *c, int i, int hi, int (*pred)(uint32_t))
{
    while (i < hi && pred(c[i]))
        i++;
    return i;
}

/* 's 't 're 've 'm 'll 'd: the length matched at i, or 0. */
static int contraction(const uint32_t *c, int i, int hi, int fold)
{
    if (c[i] != '\'' || i + 1 >= hi)
        return 0;
    uint32_t a = c[i + 1], b = i + 2 < hi ? c[i + 2] : 0;
    if (fold) {
        a = a >= 'A' && a <= 'Z' ? a + 32 : a;
        b = b >= 'A' && b <= 'Z' ? b + 32 : b;
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* \s+(?!\S)|\s+ at i (c[i] a space): the whole run at the end or before
 * more space, else all but its last character, which goes with what follows. */
static int spaces(const uint32_t *c, int i, int hi)
{
    int e = run(c, i, hi, llm_uspace);
    if (e == hi || e - i < 2)
        return e;
    return e - 1;
}

/* \s*[\r\n]+ at i: up to the last CR or LF of the run of spaces, or 0. */
static int spaces_newline(const uint32_t *c, int i, int hi)
{
    int e = run(c, i, hi, llm_uspace), last = -1;
    for (int k = i; k < e; k++)
        if (is_crlf(c[k]))
            last = k;
    return last >= 0 ? last + 1 : 0;
}

static int match_gpt2(const uint32_t *c, int i, int hi)
{
    int k;
    if ((k = contraction(c, i, hi, 0)))
        return i + k;
    int sp = c[i] == ' ' && i + 1 < hi;
    if (sp && is_l(c[i + 1])) return run(c, i + 1, hi, is_l);
    if (is_l(c[i])) return run(c, i, hi, is_l);
    if (sp && is_n(c[i + 1])) return run(c, i + 1, hi, is_n);
    if (is_n(c[i])) return run(c, i, hi, is_n);
    if (sp && is_other(c[i + 1])) return run(c, i + 1, hi, is_other);
    if (is_other(c[i])) return run(c, i, hi, is_other);
    return spaces(c, i, hi);
}

static int match_llama3(const uint32_t *c, int i, int hi, int max_digits)
{
    int k;
    if ((k = contraction(c, i, hi, 1)))
        return i + k;
    if (!is_crlf(c[i]) && !is_l(c[i]) && !is_n(c[i]) && i + 1 < hi && is_l(c[i + 1]))
        return run(c, i + 1, hi, is_l);
    if (is_l(c[i]))
        return run(c, i, hi, is_l);
    if (is_n(c[i])) {
        int e = i;
        while (e < hi && e - i < max_digits && is_n(c[e]))
            e++;
        return e;
    }
    if (c[i] == ' ' && i + 1 < hi && is_other(c[i + 1]))
        return run(c, run(c, i + 1, hi, is_other), hi, is_crlf);
    if (is_other(c[i]))
        return run(c, run(c, i, hi, is_other), hi, is_crlf);
    if ((k = spaces_newline(c, i, hi)))
        return k;
    return spaces(c, i, hi);
}

/* The last of DeepSeek V3's splits; 0 where nothing matches at i. */
static int match_deepseek3(const uint32_t *c, int i, int hi)
{
    int k;
    if (is_apunct(c[i]) && i + 1 < hi && is_alpha(c[i + 1]))
        return run(c, i + 1, hi, is_alpha);
    int kc = llm_ucat(c[i]);
    if (!is_crlf(c[i]) && kc != LLM_UCAT_L && kc != LLM_UCAT_P && kc != LLM_UCAT_S && i + 1 < hi && is_lm(c[i + 1]))
        return run(c, i + 1, hi, is_lm);
    if (is_lm(c[i]))
        return run(c, i, hi, is_lm);
    if (c[i] == ' ' && i + 1 < hi && is_ps(c[i + 1]))
        return run(c, run(c, i + 1, hi, is_ps), hi, is_crlf);
    if (is_ps(c[i]))
        return run(c, run(c, i, hi, is_ps), hi, is_crlf);
    if (!llm_uspace(c[i]))
        return 0;
    if ((k = spaces_newline(c, i, hi)))
        return k;
    return spaces(c, i, hi);
}

static cb_status_t out(pre_t *p, int a, int b)
{
    return a < b ? p->emit(p->arg, p->off[a], p->off[b]) : CB_OK;
}

/* DeepSeek V3, third split of [lo, hi): matches and the gaps between them. */
static cb_status_t ds_split3(pre_t *p, int lo, int hi)
{
    cb_status_t st;
    int gap = lo;
    for (int i = lo; i < hi;) {
        int e = match_deepseek3(p->c, i, hi);
        if (e <= i) {
            i++;
            continue;
        }
        if ((st = out(p, gap, i)) != CB_OK || (st = out(p, i, e)) != CB_OK)
            return st;
        i = gap = e;
    }
    return out(p, gap, hi);
}

/* Second split: runs of CJK ideographs and kana. */
static cb_status_t ds_split2(pre_t *p, int lo, int hi)
{
    cb_status_t st;
    int gap = lo;
    for (int i = lo; i < hi;) {
        if (!is_cjk(p->c[i])) {
            i++;
            continue;
        }
        int e = run(p->c, i, hi, is_cjk);
        if ((st = ds_split3(p, gap, i)) != CB_OK || (st = out(p, i, e)) != CB_OK)
            return st;
        i = gap = e;
    }
    return ds_split3(p, gap, hi);
}

/* First split: digits in threes. */
static cb_status_t ds_split1(pre_t *p, int n)
{
    cb_status_t st;
    int gap = 0;
    for (int i = 0; i < n;) {
        if (!is_n(p->c[i])) {
            i++;
            continue;
        }
        int e = i;
        while (e < n && e - i < 3 && is_n(p->c[e]))
            e++;
        if ((st = ds_split2(p, gap, i)) != CB_OK || (st = out(p, i, e)) != CB_OK)
            return st;
        i = gap = e;
    }
    return ds_split2(p, gap, n);
}

cb_status_t llm_pre_split(int pre, const char *text, size_t len, llm_pre_emit_t emit, void *arg)
{
    if (len > (size_t)INT32_MAX) {
        cb_error("text of %zu bytes is too long to tokenize", len);
        return CB_ERR_USAGE;
    }
    uint32_t *c = malloc(sizeof(uint32_t) * (len ? len : 1));
    size_t *off = malloc(sizeof(size_t) * (len + 1));
    cb_status_t st = CB_OK;
    if (!c || !off) {
        cb_error("out of memory in the tokenizer");
        st = CB_ERR_NOMEM;
        goto done;
    }
    int n = 0;
    for (size_t i = 0; i < len;) {
        off[n] = i;
        i += (size_t)llm_utf8_decode(text + i, len - i, &c[n]);
        n++;
    }
    off[n] = len;
    pre_t p = { c, off, emit, arg };
    if (pre == LLM_PRE_DEEPSEEK3) {
        st = ds_split1(&p, n);
        goto done;
    }
    for (int i = 0; i < n && st == CB_OK;) {
        int e = pre == LLM_PRE_GPT2 ? match_gpt2(c, i, n) : match_llama3(c, i, n, pre == LLM_PRE_QWEN2 ? 1 : 3);
        if (e <= i)
            e = i + 1; /* cannot happen: every character matches some alternative */
        st = out(&p, i, e);
        i = e;
    }
done:
    free(off);
    free(c);
    return st;
}
