/* Option parsing: good values land, bad values are refused with a message. */
#include "cb.h"
#include "../cb_check.h"

static int n = 100;
static double frac = 0.8;
static size_t bytes = 4096;
static int64_t big = 1;
static const char *name = NULL;
static int mode = 0;
static int flag = 0;
static const char *const modes[] = { "left", "crout", "right", NULL };

static const cb_opt_t opts[] = {
    { "size", 'N', CB_OPT_INT, &n, "N", "problem size", 1, 1000, NULL },
    { "fraction", 0, CB_OPT_DOUBLE, &frac, "F", "memory fraction", 0.01, 1.0, NULL },
    { "bytes", 'b', CB_OPT_SIZE, &bytes, "SIZE", "message size", 0, 1 << 30, NULL },
    { "big", 0, CB_OPT_INT64, &big, "N", "a large count", 1, 9e18, NULL },
    { "name", 0, CB_OPT_STRING, &name, "NAME", "a name", 1, 0, NULL },
    { "mode", 0, CB_OPT_CHOICE, &mode, "MODE", "a variant", 1, 0, modes },
    { "flag", 0, CB_OPT_FLAG, &flag, NULL, "a flag", 1, 0, NULL },
    { 0 },
};
static const cb_cli_t cli = { "test_options", "[options] [ARG...]", "A test.", opts, NULL };

static cb_status_t parse(cb_common_opts_t *common, int *first, int argc, ...)
{
    static char *argv[32];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "test_options";
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    memset(common, 0, sizeof *common);
    cb_error_clear();
    return cb_options_parse(&cli, argc, argv, common, first);
}

int main(void)
{
    cb_common_opts_t c;
    int first = 0;
    cb_set_program("test_options");

    CHECK(parse(&c, &first, 13, "-N", "200", "--fraction", "0.5", "-b", "4M", "--big", "8589934592",
                "--name", "x", "--mode=crout", "pos") == CB_OK);
    CHECK(n == 200 && frac == 0.5 && bytes == ((size_t)4 << 20) && big == 8589934592LL);
    CHECK(name && strcmp(name, "x") == 0);
    CHECK(mode == 1);

    /* Options after positionals still count; positionals are left at the end. */
    CHECK(parse(&c, &first, 6, "latency", "--flag", "bw", "-o", "out.h5") == CB_OK);
    CHECK(flag == 1);
    CHECK(c.output && strcmp(c.output, "out.h5") == 0);
    CHECK(first == 4);

    CHECK(parse(&c, &first, 3, "--format", "json") == CB_OK && c.format == CB_FORMAT_JSON);
    CHECK(parse(&c, &first, 2, "--no-output") == CB_OK && c.no_output == 1);

    /* Each bad input is refused with a held message naming the option. */
    struct { const char *a, *b; const char *needle; } bad[] = {
        { "-N", "0", "--size" },            /* below range */
        { "-N", "1001", "out of range" },   /* above range */
        { "-N", "12x", "not an integer" },  /* junk */
        { "--fraction", "nan", "not a number" },
        { "--fraction", "1.5", "out of range" },
        { "-b", "4Q", "not a size" },
        { "-b", "-1", "not a size" },
        { "-b", "2G", "out of range" },
        { "--big", "0", "out of range" },
        { "--mode", "sideways", "expected one of" },
        { "--format", "xml", "expected one of" },
        { "--name", "", "empty" },
        { "--bogus", "1", "unknown option" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cb_status_t st = parse(&c, &first, 3, bad[i].a, bad[i].b);
        CHECK(st == CB_ERR_USAGE);
        const char *msg = cb_error_message();
        CHECK(msg != NULL && strstr(msg, bad[i].needle) != NULL);
        if (!msg || !strstr(msg, bad[i].needle))
            fprintf(stderr, "  case %zu: %s %s -> %s\n", i, bad[i].a, bad[i].b, msg ? msg : "(no message)");
    }
    CHECK(parse(&c, &first, 2, "-N") == CB_ERR_USAGE);
    CHECK(cb_error_message() && strstr(cb_error_message(), "needs a value"));
    CHECK(parse(&c, &first, 2, "-Z") == CB_ERR_USAGE);

    /* Help is "done", not an error. */
    CHECK(parse(&c, &first, 2, "--help") == CB_DONE);

    /* Ranges MIN:MAX. */
    size_t lo, hi;
    CHECK(cb_parse_size_range("8:4M", "-m", &lo, &hi) == CB_OK && lo == 8 && hi == ((size_t)4 << 20));
    CHECK(cb_parse_size_range("64", "-m", &lo, &hi) == CB_OK && lo == 64 && hi == 64);
    CHECK(cb_parse_size_range("4M:8", "-m", &lo, &hi) == CB_ERR_USAGE);
    CHECK(cb_parse_size_range(":8", "-m", &lo, &hi) == CB_ERR_USAGE);
    char buf[32];
    CHECK_STR(cb_format_size(4 << 20, buf, sizeof buf), "4M");
    CHECK_STR(cb_format_size(1000, buf, sizeof buf), "1000");
    cb_error_clear();
    return cb_check_exit();
}
