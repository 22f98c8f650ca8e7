/* Fuzz target of the option parser: the input, split at NUL bytes or newlines,
 * is an argv that cb_options_parse reads against a table holding every kind
 * of option (and the common ones). Built for libFuzzer (configure
 * --enable-fuzzers, clang) and, linked with tests/fuzz_replay.c, as a plain
 * program that replays the corpus (tests/common/fuzz/corpus) in make check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

static const char *const modes[] = { "left", "crout", "right", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Defaults restored for every input: a parse may leave values behind. */
    int n = 100, mode = 0, flag = 0;
    double frac = 0.8;
    size_t bytes = 4096;
    int64_t big = 1;
    const char *name = NULL;
    const cb_opt_t opts[] = {
        { "size", 'N', CB_OPT_INT, &n, "N", "problem size", 1, 1000, NULL },
        { "fraction", 0, CB_OPT_DOUBLE, &frac, "F", "memory fraction", 0.01, 1.0, NULL },
        { "bytes", 'b', CB_OPT_SIZE, &bytes, "SIZE", "message size", 0, 1 << 30, NULL },
        { "big", 0, CB_OPT_INT64, &big, "N", "a large count", 1, 9e18, NULL },
        { "name", 0, CB_OPT_STRING, &name, "NAME", "a name", 1, 0, NULL },
        { "mode", 0, CB_OPT_CHOICE, &mode, "MODE", "a variant", 1, 0, modes },
        { "flag", 0, CB_OPT_FLAG, &flag, NULL, "a flag", 1, 0, NULL },
        { 0 },
    };
    const cb_cli_t cli = { "fuzz_options", "[options] [ARG...]", "A fuzz target.", opts, NULL };

    /* One copy of the input with a terminator; arguments point into it. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "fuzz_options";
    char *p = text, *end = text + size;
    while (p <= end && argc <= MAX_ARGS) {
        char *q = p;
        while (q < end && *q != '\0' && *q != '\n')
            q++;
        *q = '\0';
        argv[argc++] = p;
        p = q + 1;
    }
    argv[argc] = NULL;

    cb_common_opts_t common;
    memset(&common, 0, sizeof common);
    int first = 0;
    cb_status_t st = cb_options_parse(&cli, argc, argv, &common, &first);
    if (st == CB_OK && (first < 1 || first > argc))
        abort(); /* positional arguments must lie inside argv */
    if (st == CB_OK && (n < 1 || n > 1000 || frac < 0.01 || frac > 1.0 || bytes > (1u << 30) || big < 1))
        abort(); /* an accepted value outside its declared range */
    cb_error_clear();
    free(text);
    return 0;
}
