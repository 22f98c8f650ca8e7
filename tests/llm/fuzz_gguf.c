/* Fuzz target of the model parsers: a file image goes through the GGUF or
 * llama2.c parser, the configuration checks and the shard plans, as llm
 * would read it. Built for libFuzzer (configure --enable-fuzzers, clang),
 * and, linked with tests/fuzz_replay.c, as a plain program that replays the corpus
 * (tests/llm/fuzz/corpus) so that every build checks it with any compiler. */
#include <stdlib.h>
#include <string.h>
#include "../../llm/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llm_desc_t desc;
    cb_status_t st;
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0)
        st = llm_gguf_parse(data, size, &desc);
    else
        st = llm_l2c_parse(data, size, &desc);
    if (st == CB_OK) {
        if (llm_desc_config(&desc) == CB_OK) {
            for (int np = 1; np <= 4; np++) {
                llm_shard_t sh;
                for (int r = 0; r < np && llm_shard_plan(&desc, r, np, &sh) == CB_OK; r++)
                    (void)llm_shard_weight_bytes(&desc, &sh);
            }
        }
        llm_desc_free(&desc);
    }
    cb_error_clear();
    return 0;
}
