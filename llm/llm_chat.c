/* Chat templates: the Jinja template a model ships (tokenizer.chat_template)
 * is recognised as one of the built-in forms, never interpreted; each form
 * writes a conversation turn by turn, so that the KV cache of the turns
 * before stays valid (the text of turn k is what the template renders for
 * k+1 messages minus what it rendered for k). */
#include <stdlib.h>
#include <string.h>
#include "llm_tok.h"

const char *const llm_chat_names[] = { "chatml", "qwen3", "llama3", "deepseek-v3", NULL };

static int has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0)
            return 1;
    return 0;
}

int llm_chat_detect(const char *t, size_t n)
{
    if (has(t, n, "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>") && has(t, n, "<\xef\xbd\x9c" "User\xef\xbd\x9c>"))
        return LLM_CHAT_DEEPSEEK3;
    if (has(t, n, "<|start_header_id|>") && has(t, n, "<|eot_id|>"))
        return LLM_CHAT_LLAMA3;
    if (has(t, n, "<|im_start|>") && has(t, n, "<|im_end|>"))
        return has(t, n, "<think>") ? LLM_CHAT_QWEN3 : LLM_CHAT_CHATML;
    return -1;
}

/* ================================================================ writing */

typedef struct {
    char *s;
    size_t n, cap;
    int bad;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->bad = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void puts_(sbuf_t *b, const char *s) { put(b, s, strlen(s)); }

/* Llama 3's template trims each message. */
static void put_trimmed(sbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    while (n && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) {
        s++;
        n--;
    }
    put(b, s, n);
}

char *llm_chat_turn(int kind, int first, const char *bos, const char *system, const char *user)
{
    sbuf_t b = { 0 };
    int sys = system && *system;
    switch (kind) {
    case LLM_CHAT_CHATML:
    case LLM_CHAT_QWEN3:
        if (!first)
            puts_(&b, "<|im_end|>\n");
        if (first && sys) {
            puts_(&b, "<|im_start|>system\n");
            puts_(&b, system);
            puts_(&b, "<|im_end|>\n");
        }
        puts_(&b, "<|im_start|>user\n");
        puts_(&b, user);
        puts_(&b, "<|im_end|>\n<|im_start|>assistant\n");
        break;
    case LLM_CHAT_LLAMA3:
        if (!first)
            puts_(&b, "<|eot_id|>");
        if (first && bos)
            puts_(&b, bos);
        if (first && sys) {
            puts_(&b, "<|start_header_id|>system<|end_header_id|>\n\n");
            put_trimmed(&b, system);
            puts_(&b, "<|eot_id|>");
        }
        puts_(&b, "<|start_header_id|>user<|end_header_id|>\n\n");
        put_trimmed(&b, user);
        puts_(&b, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case LLM_CHAT_DEEPSEEK3:
        if (!first)
            puts_(&b, "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>");
        if (first && bos)
            puts_(&b, bos);
        if (first && sys)
            puts_(&b, system);
        puts_(&b, "<\xef\xbd\x9c" "User\xef\xbd\x9c>");
        puts_(&b, user);
        puts_(&b, "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>");
        break;
    default:
        b.bad = 1;
    }
    if (b.bad) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
