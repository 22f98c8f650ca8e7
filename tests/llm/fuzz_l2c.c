/* Fuzz target of the llama2.c loader alone: any bytes are a llama2.c
 * checkpoint (a 28-byte header of 7 int32 then float weights), parsed, its
 * configuration checked and its shard plans made, as llm would. fuzz_gguf
 * reaches this parser only for inputs that do not start with "GGUF"; this one
 * spends every input on it. Built for libFuzzer by scripts/fuzz; the corpus
 * is tests/llm/fuzz/corpus-fuzz_l2c. */
#include <stdlib.h>
#include <string.h>
#include "../../llm/llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llm_desc_t desc;
    if (llm_l2c_parse(data, size, &desc) == CB_OK) {
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
