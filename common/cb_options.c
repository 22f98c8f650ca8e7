/* Table-driven option parsing with range checks and generated --help. */
#include "cb_options.h"
#include "cb_version.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cb_mpi.h"

static const char *const format_names[] = { "table", "csv", "json", NULL };

/* The options every program takes, appended to the program's own. Their
 * `value` pointers are filled in per call. */
enum { COMMON_OUTPUT, COMMON_NO_OUTPUT, COMMON_FORMAT, COMMON_VERBOSE, COMMON_QUIET, COMMON_HELP, COMMON_VERSION, COMMON_COUNT };

/* ------------------------------------------------------------ value parsers */

cb_status_t cb_parse_int(const char *text, const char *what, long long min, long long max, long long *value_p)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0') {
        cb_error("%s: '%s' is not an integer", what, text);
        return CB_ERR_USAGE;
    }
    if (v < min || v > max) {
        cb_error("%s: %lld is out of range [%lld, %lld]", what, v, min, max);
        return CB_ERR_USAGE;
    }
    *value_p = v;
    return CB_OK;
}

cb_status_t cb_parse_double(const char *text, const char *what, double min, double max, double *value_p)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v)) {
        cb_error("%s: '%s' is not a number", what, text);
        return CB_ERR_USAGE;
    }
    if (v < min || v > max) {
        cb_error("%s: %g is out of range [%g, %g]", what, v, min, max);
        return CB_ERR_USAGE;
    }
    *value_p = v;
    return CB_OK;
}

cb_status_t cb_parse_size(const char *text, const char *what, size_t min, size_t max, size_t *value_p)
{
    char *end = NULL;
    errno = 0;
    if (text[0] == '-') {
        cb_error("%s: '%s' is not a size", what, text);
        return CB_ERR_USAGE;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text) {
        cb_error("%s: '%s' is not a size", what, text);
        return CB_ERR_USAGE;
    }
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: end = NULL; break;
    }
    if (end && (*end == 'i' || *end == 'B')) /* accept KiB, KB */
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (!end || *end != '\0') {
        cb_error("%s: '%s' is not a size (bytes, or with a K, M or G suffix)", what, text);
        return CB_ERR_USAGE;
    }
    if (shift && v > (~0ULL >> shift)) {
        cb_error("%s: '%s' is too large", what, text);
        return CB_ERR_USAGE;
    }
    v <<= shift;
    if (v < min || v > max) {
        char a[32], b[32];
        cb_error("%s: %s is out of range [%s, %s]", what, text, cb_format_size(min, a, sizeof a),
                 cb_format_size(max, b, sizeof b));
        return CB_ERR_USAGE;
    }
    *value_p = (size_t)v;
    return CB_OK;
}

cb_status_t cb_parse_size_range(const char *text, const char *what, size_t *min_p, size_t *max_p)
{
    const char *colon = strchr(text, ':');
    size_t lo, hi;
    cb_status_t st;
    if (!colon) {
        st = cb_parse_size(text, what, 0, (size_t)1 << 40, &lo);
        if (st != CB_OK)
            return st;
        *min_p = *max_p = lo;
        return CB_OK;
    }
    char first[64];
    size_t len = (size_t)(colon - text);
    if (len == 0 || len >= sizeof first) {
        cb_error("%s: '%s' is not MIN:MAX", what, text);
        return CB_ERR_USAGE;
    }
    memcpy(first, text, len);
    first[len] = '\0';
    if ((st = cb_parse_size(first, what, 0, (size_t)1 << 40, &lo)) != CB_OK)
        return st;
    if ((st = cb_parse_size(colon + 1, what, 0, (size_t)1 << 40, &hi)) != CB_OK)
        return st;
    if (lo > hi) {
        cb_error("%s: '%s': MIN is larger than MAX", what, text);
        return CB_ERR_USAGE;
    }
    *min_p = lo;
    *max_p = hi;
    return CB_OK;
}

const char *cb_format_size(size_t bytes, char *buf, size_t buflen)
{
    static const char suffix[] = { 'K', 'M', 'G', 'T' };
    int i = -1;
    size_t v = bytes;
    while (v >= 1024 && v % 1024 == 0 && i < 3) {
        v /= 1024;
        i++;
    }
    if (i < 0)
        snprintf(buf, buflen, "%zu", bytes);
    else
        snprintf(buf, buflen, "%zu%c", v, suffix[i]);
    return buf;
}

/* ------------------------------------------------------------ usage */

static void format_value(const cb_opt_t *o, char *buf, size_t len)
{
    buf[0] = '\0';
    switch (o->type) {
    case CB_OPT_INT: snprintf(buf, len, "%d", *(const int *)o->value); break;
    case CB_OPT_INT64: snprintf(buf, len, "%lld", (long long)*(const int64_t *)o->value); break;
    case CB_OPT_DOUBLE: snprintf(buf, len, "%g", *(const double *)o->value); break;
    case CB_OPT_SIZE: cb_format_size(*(const size_t *)o->value, buf, len); break;
    case CB_OPT_STRING: {
        const char *s = *(const char *const *)o->value;
        if (s)
            snprintf(buf, len, "%s", s);
        break;
    }
    case CB_OPT_CHOICE: {
        int idx = *(const int *)o->value;
        if (idx >= 0)
            snprintf(buf, len, "%s", o->choices[idx]);
        break;
    }
    default: break;
    }
}

static void print_option(FILE *out, const cb_opt_t *o)
{
    char left[96], def[128];
    int n = 0;
    if (o->short_name)
        n = snprintf(left, sizeof left, "  -%c, --%s", o->short_name, o->name);
    else
        n = snprintf(left, sizeof left, "      --%s", o->name);
    if (o->metavar && n > 0 && (size_t)n < sizeof left)
        snprintf(left + n, sizeof left - (size_t)n, " %s", o->metavar);
    fprintf(out, "%-28s %s", left, o->help ? o->help : "");
    if (o->type == CB_OPT_CHOICE) {
        fputs(" (", out);
        for (int i = 0; o->choices[i]; i++)
            fprintf(out, "%s%s", i ? ", " : "", o->choices[i]);
        fputc(')', out);
    }
    if (o->type != CB_OPT_FLAG && o->value) {
        format_value(o, def, sizeof def);
        if (def[0])
            fprintf(out, " [default: %s]", def);
    }
    fputc('\n', out);
}

static void fill_common(cb_opt_t common[COMMON_COUNT + 1], cb_common_opts_t *c)
{
    const cb_opt_t table[COMMON_COUNT + 1] = {
        [COMMON_OUTPUT] = { "output", 'o', CB_OPT_STRING, &c->output, "FILE",
                            "HDF5 results file [default: results/PROGRAM-UTCTIME.h5]", 1, 0, NULL },
        [COMMON_NO_OUTPUT] = { "no-output", 0, CB_OPT_FLAG, &c->no_output, NULL, "write no HDF5 file", 1, 0, NULL },
        [COMMON_FORMAT] = { "format", 0, CB_OPT_CHOICE, &c->format, "FMT", "what rank 0 prints", 1, 0, format_names },
        [COMMON_VERBOSE] = { "verbose", 'v', CB_OPT_FLAG, &c->verbose, NULL, "more messages on stderr (repeat for debug)", 1, 0, NULL },
        [COMMON_QUIET] = { "quiet", 'q', CB_OPT_FLAG, &c->quiet, NULL, "no warnings or progress", 1, 0, NULL },
        [COMMON_HELP] = { "help", 'h', CB_OPT_FLAG, NULL, NULL, "show this help and exit", 1, 0, NULL },
        [COMMON_VERSION] = { "version", 'V', CB_OPT_FLAG, NULL, NULL, "show the version and exit", 1, 0, NULL },
        [COMMON_COUNT] = { 0 },
    };
    memcpy(common, table, sizeof table);
}

void cb_options_usage(const cb_cli_t *cli, const cb_common_opts_t *common, void *stream)
{
    FILE *out = stream;
    cb_opt_t std[COMMON_COUNT + 1];
    cb_common_opts_t copy = *common;
    fill_common(std, &copy);
    fprintf(out, "Usage: %s %s\n", cli->program, cli->synopsis ? cli->synopsis : "[options]");
    if (cli->description)
        fprintf(out, "\n%s\n", cli->description);
    if (cli->opts && cli->opts[0].type != CB_OPT_END) {
        fputs("\nOptions:\n", out);
        for (const cb_opt_t *o = cli->opts; o->type != CB_OPT_END; o++)
            print_option(out, o);
    }
    fputs("\nCommon options:\n", out);
    for (int i = 0; i < COMMON_COUNT; i++)
        print_option(out, &std[i]);
    if (cli->epilog)
        fprintf(out, "\n%s\n", cli->epilog);
}

/* ------------------------------------------------------------ parsing */

static cb_status_t set_value(const cb_opt_t *o, const char *arg, const char *spelled)
{
    char what[96];
    snprintf(what, sizeof what, "%s", spelled);
    long long iv;
    double dv;
    size_t sv;
    cb_status_t st = CB_OK;
    bool ranged = o->min <= o->max;
    switch (o->type) {
    case CB_OPT_FLAG:
        (*(int *)o->value)++;
        break;
    case CB_OPT_INT:
        st = cb_parse_int(arg, what, ranged ? (long long)o->min : -2147483647LL - 1,
                          ranged ? (long long)o->max : 2147483647LL, &iv);
        if (st == CB_OK)
            *(int *)o->value = (int)iv;
        break;
    case CB_OPT_INT64:
        st = cb_parse_int(arg, what, ranged ? (long long)o->min : INT64_MIN,
                          ranged ? (long long)o->max : INT64_MAX, &iv);
        if (st == CB_OK)
            *(int64_t *)o->value = (int64_t)iv;
        break;
    case CB_OPT_DOUBLE:
        st = cb_parse_double(arg, what, ranged ? o->min : -HUGE_VAL, ranged ? o->max : HUGE_VAL, &dv);
        if (st == CB_OK)
            *(double *)o->value = dv;
        break;
    case CB_OPT_SIZE:
        st = cb_parse_size(arg, what, ranged ? (size_t)o->min : 0, ranged ? (size_t)o->max : SIZE_MAX, &sv);
        if (st == CB_OK)
            *(size_t *)o->value = sv;
        break;
    case CB_OPT_STRING:
        if (arg[0] == '\0') {
            cb_error("%s: empty value", what);
            return CB_ERR_USAGE;
        }
        *(const char **)o->value = arg;
        break;
    case CB_OPT_CHOICE: {
        for (int i = 0; o->choices[i]; i++)
            if (strcmp(o->choices[i], arg) == 0) {
                *(int *)o->value = i;
                return CB_OK;
            }
        char list[256] = "";
        for (int i = 0; o->choices[i]; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", o->choices[i]);
        }
        cb_error("%s: unknown value '%s' (expected one of: %s)", what, arg, list);
        return CB_ERR_USAGE;
    }
    default:
        return CB_ERR_INTERNAL;
    }
    return st;
}

cb_status_t cb_options_parse(const cb_cli_t *cli, int argc, char **argv,
                             cb_common_opts_t *common, int *first_arg_p)
{
    cb_opt_t std[COMMON_COUNT + 1];
    fill_common(std, common);

    int n_own = 0;
    while (cli->opts && cli->opts[n_own].type != CB_OPT_END)
        n_own++;
    int n_all = n_own + COMMON_COUNT;
    const cb_opt_t **all = calloc((size_t)n_all, sizeof *all);
    struct option *longopts = calloc((size_t)n_all + 1, sizeof *longopts);
    char *shortopts = calloc((size_t)n_all * 2 + 2, 1);
    cb_status_t st = CB_OK;
    if (!all || !longopts || !shortopts) {
        cb_error("cannot allocate the option table");
        st = CB_ERR_NOMEM;
        goto out;
    }
    char *sp = shortopts;
    *sp++ = ':'; /* report a missing argument as ':' */
    for (int i = 0; i < n_all; i++) {
        const cb_opt_t *o = i < n_own ? &cli->opts[i] : &std[i - n_own];
        all[i] = o;
        longopts[i].name = o->name;
        longopts[i].has_arg = o->type == CB_OPT_FLAG ? no_argument : required_argument;
        longopts[i].flag = NULL;
        longopts[i].val = 256 + i;
        if (o->short_name) {
            *sp++ = (char)o->short_name;
            if (o->type != CB_OPT_FLAG)
                *sp++ = ':';
        }
    }

    /* A full restart of getopt: glibc keeps a pointer into the argv of the
     * previous parse (inside a cluster of short options left half-read after
     * an error), which optind = 1 alone does not reset. */
#ifdef __GLIBC__
    optind = 0;
#else
    optind = 1;
#endif
    opterr = 0;
    for (;;) {
        int longindex = -1;
        int c = getopt_long(argc, argv, shortopts, longopts, &longindex);
        if (c == -1)
            break;
        if (c == '?' || c == ':') {
            const char *bad = argv[optind - 1];
            if (c == ':')
                cb_error("option %s needs a value (see --help)", bad);
            else if (optopt && optopt < 256)
                cb_error("unknown option -%c (see --help)", optopt);
            else
                cb_error("unknown option %s (see --help)", bad);
            st = CB_ERR_USAGE;
            goto out;
        }
        int idx = -1;
        if (c >= 256)
            idx = c - 256;
        else
            for (int i = 0; i < n_all; i++)
                if (all[i]->short_name == c) {
                    idx = i;
                    break;
                }
        if (idx < 0) {
            cb_error("internal: unhandled option %d", c);
            st = CB_ERR_INTERNAL;
            goto out;
        }
        const cb_opt_t *o = all[idx];
        if (idx - n_own == COMMON_HELP) {
            if (cb_rank() == 0)
                cb_options_usage(cli, common, stdout);
            st = CB_DONE;
            goto out;
        }
        if (idx - n_own == COMMON_VERSION) {
            if (cb_rank() == 0)
                printf("%s (clusterbench) %s\n", cli->program, CB_VERSION);
            st = CB_DONE;
            goto out;
        }
        char spelled[96];
        snprintf(spelled, sizeof spelled, "--%s", o->name);
        st = set_value(o, optarg, spelled);
        if (st != CB_OK)
            goto out;
    }
    if (common->verbose)
        cb_log_set_level(common->verbose >= 2 ? CB_LOG_DEBUG : CB_LOG_VERBOSE);
    else if (common->quiet)
        cb_log_set_level(CB_LOG_QUIET);
    if (first_arg_p)
        *first_arg_p = optind;
out:
    free(shortopts);
    free(longopts);
    free(all);
    return st;
}
