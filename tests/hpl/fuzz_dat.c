/* Fuzz target of the HPL.dat parser: a file image goes through
 * hpl_input_parse and, when it parses, the expansion of its lists into tests
 * and their variant codes, as hpl would read it. Built for libFuzzer
 * (configure --enable-fuzzers, clang), and, linked with tests/fuzz_replay.c,
 * as a plain program that replays the corpus (tests/hpl/fuzz/corpus) so that
 * every build checks it with any compiler. */
#include <stdlib.h>
#include <string.h>
#include "../../hpl/hpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* hpl_input_read hands the parser its bytes with a NUL after them. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    hpl_input_t in;
    if (hpl_input_parse(text, size, "fuzz.dat", &in) == CB_OK) {
        hpl_test_t *tests = NULL;
        int n = 0;
        if (hpl_input_tests(&in, 42, HPL_SOLVER_HPL, &tests, &n) == CB_OK) {
            char code[16];
            for (int i = 0; i < n; i++)
                hpl_test_code(&tests[i], code);
            cb_free(tests);
        }
    }
    cb_error_clear();
    free(text);
    return 0;
}
