/* Fuzz target of the model parsers: a file image goes through the GGUF or
 * llama2.c parser, the configuration checks and the shard plans, as llm
 * would read it. Built for libFuzzer (configure --enable-fuzzers, clang),
 * and, with LLM_FUZZ_REPLAY, as a plain program that replays the corpus
 * (tests/llm/fuzz/corpus) so that every build checks it with any compiler. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#ifdef LLM_FUZZ_REPLAY
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* An exact-size heap copy, so that a tool like valgrind sees overreads. */
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "fuzz_replay: cannot read %s\n", path);
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                    continue;
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
                bad += replay_file(p);
                n++;
            }
            if (d)
                closedir(d);
        } else {
            bad += replay_file(argv[i]);
            n++;
        }
    }
    printf("fuzz_replay: %d inputs replayed through the parsers, %d unreadable\n", n, bad);
    return bad || n == 0;
}
#endif
