/* Unit checks of the text layer: UTF-8 decoding and the streaming output
 * (never half a character, U+FFFD for what cannot be one), the Unicode
 * classes, the pre-tokenizer splits on fixed examples, chat-template
 * recognition. With arguments VOCAB.gguf TEXTS (NUL-separated), also the
 * round trip: decoding the encoding of every text gives the text back (for
 * byte-level BPE, in NFC where the tokenizer normalizes; SentencePiece is not lossless: it puts a space after each
 * special token and reads a '▁' in the text as a space). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../llm/llm_tok.h"

static int fails;
#define CHECK(cond, ...) do { if (!(cond)) { fails++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

/* Stream `in` in pieces of `step` bytes; the concatenated output. */
static size_t stream_all(const char *in, size_t n, size_t step, char *out, int *early)
{
    llm_utf8_stream_t s = { { 0 }, 0 };
    size_t o = 0;
    *early = 0;
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        size_t w = llm_utf8_stream(&s, in + i, k, out + o);
        /* What came out so far is whole characters: it decodes cleanly. */
        for (size_t j = o; j < o + w;) {
            uint32_t cp;
            int l = llm_utf8_decode(out + j, o + w - j, &cp);
            if (cp == 0xFFFD && l == 1)
                *early = 1;
            j += (size_t)l;
        }
        o += w;
    }
    o += llm_utf8_stream(&s, NULL, 0, out + o);
    return o;
}

static void test_stream(void)
{
    static const char *const ok[] = { "plain", "Gr\xc3\xb6\xc3\x9f" "e", "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x98\x80!",
                                      "a\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd" "b", NULL };
    char out[256];
    int early;
    for (int i = 0; ok[i]; i++)
        for (size_t step = 1; step <= 4; step++) {
            size_t n = stream_all(ok[i], strlen(ok[i]), step, out, &early);
            CHECK(n == strlen(ok[i]) && !memcmp(out, ok[i], n) && !early, "stream of '%s' in steps of %zu", ok[i], step);
        }
    /* Bad bytes: one U+FFFD each (a lone continuation, 0xFF, an overlong
     * C0 80, a surrogate ED A0 80, a truncated character at the end). */
    struct { const char *in, *want; } bad[] = {
        { "a\x80" "b", "a\xef\xbf\xbd" "b" },
        { "\xff", "\xef\xbf\xbd" },
        { "\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd" },
        { "\xe4\xb8", "\xef\xbf\xbd" },
        { "\xe4\xb8" "x", "\xef\xbf\xbd" "x" },
        { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
        { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (size_t step = 1; step <= 3; step++) {
            size_t n = stream_all(bad[i].in, strlen(bad[i].in), step, out, &early);
            CHECK(n == strlen(bad[i].want) && !memcmp(out, bad[i].want, n), "bad input %zu in steps of %zu: got %zu bytes", i, step, n);
        }
    /* Nothing comes out before a character is whole. */
    llm_utf8_stream_t s = { { 0 }, 0 };
    CHECK(llm_utf8_stream(&s, "\xf0\x9f", 2, out) == 0, "half an emoji came out");
    CHECK(llm_utf8_stream(&s, "\x98", 1, out) == 0, "three quarters of an emoji came out");
    CHECK(llm_utf8_stream(&s, "\x80", 1, out) == 4, "the whole emoji did not come out");
}

static void test_classes(void)
{
    struct { uint32_t cp; int cat; } c[] = {
        { 'a', LLM_UCAT_L }, { 'Z', LLM_UCAT_L }, { '7', LLM_UCAT_N }, { ' ', LLM_UCAT_Z }, { '!', LLM_UCAT_P },
        { '$', LLM_UCAT_S }, { 0x00E9, LLM_UCAT_L }, { 0x0301, LLM_UCAT_M }, { 0x4E2D, LLM_UCAT_L }, { 0x0663, LLM_UCAT_N },
        { 0x216B, LLM_UCAT_N }, { 0x1F600, LLM_UCAT_S }, { 0x200D, LLM_UCAT_C }, { 0x3000, LLM_UCAT_Z }, { 0x0000, LLM_UCAT_C },
        { 0x10FFFF, LLM_UCAT_C }, { 0x110000, LLM_UCAT_C }, { 0x2581, LLM_UCAT_S }, { 0xFF5C, LLM_UCAT_S }, { 0x094D, LLM_UCAT_M },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        CHECK(llm_ucat(c[i].cp) == c[i].cat, "class of U+%04X is %d, not %d", c[i].cp, llm_ucat(c[i].cp), c[i].cat);
    CHECK(llm_uspace('\t') && llm_uspace(0x3000) && llm_uspace(0xA0) && !llm_uspace(0x200B) && !llm_uspace('x'), "White_Space");
}

typedef struct { char buf[512]; size_t n; const char *text; } split_t;
static cb_status_t collect(void *arg, size_t a, size_t b)
{
    split_t *s = arg;
    if (s->n + (b - a) + 2 < sizeof s->buf) {
        memcpy(s->buf + s->n, s->text + a, b - a);
        s->n += b - a;
        s->buf[s->n++] = '|';
        s->buf[s->n] = 0;
    }
    return CB_OK;
}

static void test_splits(void)
{
    /* Worked by hand from the regular expressions (llm_tok_pre.c's header). */
    struct { int pre; const char *in, *want; } c[] = {
        { LLM_PRE_GPT2, "Hello world", "Hello| world|" },
        { LLM_PRE_GPT2, "it's  ok!!\n", "it|'s| | ok|!!|\n|" },
        { LLM_PRE_GPT2, "I'M 12345", "I|'|M| 12345|" },
        { LLM_PRE_LLAMA3, "I'M 12345", "I|'M| |123|45|" },
        { LLM_PRE_LLAMA3, "x  \n\n  y", "x|  \n\n| | y|" },
        { LLM_PRE_LLAMA3, "a.b\n!?", "a|.b|\n|!?|" },
        { LLM_PRE_QWEN2, "v1.23", "v|1|.|2|3|" },
        { LLM_PRE_DEEPSEEK3, "12345abc", "123|45|abc|" },
        { LLM_PRE_DEEPSEEK3, "\xe4\xb8\xad\xe6\x96\x87text", "\xe4\xb8\xad\xe6\x96\x87|text|" },
        { LLM_PRE_DEEPSEEK3, "x.Foo bar", "x|.Foo| bar|" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        split_t s = { "", 0, c[i].in };
        llm_pre_split(c[i].pre, c[i].in, strlen(c[i].in), collect, &s);
        CHECK(!strcmp(s.buf, c[i].want), "split %zu (%s): got '%s', want '%s'", i, llm_pre_names[c[i].pre], s.buf, c[i].want);
    }
}

static void test_chat(void)
{
    const char *q3 = "{%- if enable_thinking %}<think>{% endif %}<|im_start|>assistant<|im_end|>";
    const char *cm = "{{'<|im_start|>' + m.role}}<|im_end|>";
    const char *l3 = "<|start_header_id|>{{ role }}<|end_header_id|>{{ content }}<|eot_id|>";
    const char *ds = "<\xef\xbd\x9cUser\xef\xbd\x9c>{{ c }}<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>";
    CHECK(llm_chat_detect(q3, strlen(q3)) == LLM_CHAT_QWEN3, "qwen3");
    CHECK(llm_chat_detect(cm, strlen(cm)) == LLM_CHAT_CHATML, "chatml");
    CHECK(llm_chat_detect(l3, strlen(l3)) == LLM_CHAT_LLAMA3, "llama3");
    CHECK(llm_chat_detect(ds, strlen(ds)) == LLM_CHAT_DEEPSEEK3, "deepseek");
    CHECK(llm_chat_detect("[INST] {{ x }} [/INST]", 22) == -1, "an unknown template");
    CHECK(llm_chat_detect(cm, 10) == -1, "a template cut short");
}

static int roundtrip(const char *vocab, const char *texts)
{
    llm_tok_t *tok;
    if (llm_tok_open(vocab, &tok) != CB_OK) {
        printf("FAIL: %s: %s\n", vocab, cb_error_message());
        return 1;
    }
    FILE *f = fopen(texts, "rb");
    static char buf[1 << 20];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    int n = 0, good = 0;
    llm_ids_t ids = { 0 };
    for (size_t a = 0; a < len;) {
        size_t b = a;
        while (b < len && buf[b])
            b++;
        ids.n = 0;
        char *out = NULL;
        size_t o = 0, cap = 0;
        if (llm_tok_encode(tok, buf + a, b - a, 0, 1, &ids) == CB_OK) {
            for (int i = 0; i < ids.n; i++) {
                size_t pn;
                const char *p = llm_tok_piece(tok, ids.v[i], 1, &pn);
                if (i == 0 && llm_tok_add_space_prefix(tok) && pn && *p == ' ') {
                    p++;
                    pn--;
                }
                if (o + pn + 1 > cap) {
                    cap = 2 * (o + pn + 1);
                    out = realloc(out, cap);
                }
                memcpy(out + o, p, pn);
                o += pn;
            }
        }
        n++;
        /* A tokenizer that normalizes gives the normalized text back. */
        char *want = buf + a, *norm = NULL;
        size_t wn = b - a;
        if (llm_tok_nfc(tok) && llm_nfc(buf + a, b - a, &norm, &wn) == CB_OK)
            want = norm;
        if (o == wn && (o == 0 || !memcmp(out, want, o)))
            good++;
        else
            printf("  text %d does not come back (%zu bytes for %zu)\n", n, o, b - a);
        free(out);
        free(norm);
        a = b + 1;
    }
    printf("%s: %d/%d texts come back from their tokens\n", vocab, good, n);
    llm_ids_free(&ids);
    llm_tok_free(tok);
    return good != n || n == 0;
}

static int nfc_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    static char buf[1 << 22];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (!f)
        return 1;
    fclose(f);
    for (size_t a = 0; a < len;) {
        size_t b = a;
        while (b < len && buf[b])
            b++;
        char *out;
        size_t on;
        if (llm_nfc(buf + a, b - a, &out, &on) != CB_OK)
            return 1;
        fwrite(out, 1, on, stdout);
        putchar(0);
        free(out);
        a = b + 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--nfc"))
        return nfc_file(argv[2]);
    test_stream();
    test_classes();
    test_splits();
    test_chat();
    printf("text unit checks: %d failures (Unicode %s)\n", fails, llm_unicode_version);
    int rt = 0;
    for (int i = 1; i + 1 < argc; i += 2)
        rt |= roundtrip(argv[i], argv[i + 1]);
    return fails || rt;
}
