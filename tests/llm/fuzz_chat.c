/* Fuzz target of the chat templates: the input is a Jinja template
 * (tokenizer.chat_template) up to its first NUL byte, then the system prompt,
 * the BOS text and the user's message, NUL-separated. The template is
 * recognised, its date read (Llama 3.1), and the turns built for every
 * built-in form, first and later turns, as llm chat would. Built for
 * libFuzzer by scripts/fuzz; the corpus is tests/llm/fuzz/corpus-fuzz_chat. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../../llm/llm_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated field of [*p, end) as a malloc'ed string. */
static char *field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
    size_t n = nul ? (size_t)(nul - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, *p, n);
        s[n] = '\0';
    }
    *p += nul ? n + 1 : n;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    const uint8_t *tmpl = p;
    const uint8_t *nul = memchr(p, 0, size);
    size_t tn = nul ? (size_t)(nul - p) : size;
    p += nul ? tn + 1 : tn;
    char *system = field(&p, end), *bos = field(&p, end), *user = field(&p, end);
    int kind = llm_chat_detect((const char *)tmpl, tn);
    char date[64];
    llm_chat_date((const char *)tmpl, tn, (time_t)1764547200, date, sizeof date);
    if (strlen(date) >= sizeof date)
        abort();
    if (system && bos && user) {
        for (int k = 0; llm_chat_names[k]; k++) {
            if (kind >= 0 && k != kind && k > 1)
                continue; /* the detected form, and two others always */
            for (int first = 0; first < 2; first++) {
                char *turn = llm_chat_turn(k, first, bos[0] ? bos : NULL, system[0] ? system : NULL, date, user);
                free(turn);
            }
        }
    }
    free(system);
    free(bos);
    free(user);
    cb_error_clear();
    return 0;
}
