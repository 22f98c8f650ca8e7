/* Fuzz target of the tokenizer data and the chat-template recognition: a
 * GGUF image goes through the GGUF parser, the tokenizer reader
 * (llm_tok_parse) and, when it yields a tokenizer, encodes and decodes a
 * text taken from the input's tail and recognises its chat template, as
 * llm would. Built for libFuzzer (configure --enable-fuzzers, clang), and,
 * linked with tests/fuzz_replay.c, as a plain program that replays the
 * corpus (tests/llm/fuzz/tok) in every build. */
#include <stdlib.h>
#include <string.h>
#include "../../llm/llm_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llm_desc_t desc;
    llm_tok_t *tok = NULL;
    /* Any bytes are also a template and a text. */
    (void)llm_chat_detect((const char *)data, size);
    if (size < 4 || memcmp(data, "GGUF", 4) != 0 || llm_gguf_parse(data, size, &desc) != CB_OK) {
        cb_error_clear();
        return 0;
    }
    if (llm_tok_parse(data, size, &desc, &tok) == CB_OK) {
        size_t tn = size < 256 ? size : 256, pn;
        const char *text = (const char *)data + size - tn;
        llm_ids_t ids = { 0 };
        for (int special = 0; special < 2; special++) {
            ids.n = 0;
            if (llm_tok_encode(tok, text, tn, 1, special, &ids) != CB_OK)
                break;
            llm_utf8_stream_t us = { { 0 }, 0 };
            for (int i = 0; i < ids.n; i++) {
                if (ids.v[i] < 0 || ids.v[i] >= llm_tok_n_vocab(tok))
                    abort(); /* an encoder made an id that is no token */
                const char *p = llm_tok_piece(tok, ids.v[i], special, &pn);
                char *out = malloc(3 * (pn + 4));
                if (out)
                    (void)llm_utf8_stream(&us, p, pn, out);
                free(out);
            }
        }
        const char *t = llm_tok_chat_template(tok, &pn);
        if (t)
            (void)llm_chat_detect(t, pn);
        llm_ids_free(&ids);
        llm_tok_free(tok);
    }
    llm_desc_free(&desc);
    cb_error_clear();
    return 0;
}
