/* Command-line options: a table of cb_opt_t drives getopt_long, range checks
 * and --help (which prints each option with its current value as default).
 * Every rank parses the same argv, so every rank reaches the same verdict. */
#ifndef CB_OPTIONS_H
#define CB_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include "cb_status.h"

typedef enum {
    CB_OPT_END = 0,  /* terminates a table */
    CB_OPT_FLAG,     /* int: set to 1 */
    CB_OPT_INT,      /* int */
    CB_OPT_INT64,    /* int64_t */
    CB_OPT_DOUBLE,   /* double */
    CB_OPT_SIZE,     /* size_t: bytes, suffixes k/K, m/M, g/G (powers of 1024) */
    CB_OPT_STRING,   /* const char *: points into argv */
    CB_OPT_CHOICE,   /* int: index into `choices` */
} cb_opt_type_t;

typedef struct {
    const char *name;            /* long name, without "--" */
    int short_name;              /* single letter, or 0 */
    cb_opt_type_t type;
    void *value;                 /* receives the value; holds the default before */
    const char *metavar;         /* "N", "FILE"; NULL for flags */
    const char *help;            /* one line */
    double min, max;             /* inclusive range for numbers; ignored if min > max */
    const char *const *choices;  /* CHOICE: NULL-terminated list of names */
} cb_opt_t;

typedef enum { CB_FORMAT_TABLE = 0, CB_FORMAT_CSV, CB_FORMAT_JSON } cb_format_t;

/* Options every program takes. */
typedef struct {
    const char *output;   /* -o/--output: HDF5 path; NULL: results/<program>-<UTC>.h5 */
    int no_output;        /* --no-output: write no HDF5 file */
    int format;           /* --format: cb_format_t for what rank 0 prints */
    int verbose;          /* -v/--verbose (repeatable count) */
    int quiet;            /* -q/--quiet */
} cb_common_opts_t;

typedef struct {
    const char *program;      /* "hpl", or "llm bench" for a subcommand */
    const char *synopsis;     /* after the program name: "[options] [TEST...]" */
    const char *description;  /* a few lines for --help */
    const cb_opt_t *opts;     /* the program's own options, ended by CB_OPT_END */
    const char *epilog;       /* printed after the options (examples), or NULL */
} cb_cli_t;

/* Parse argv against cli->opts plus the common options (-o, --no-output,
 * --format, -v, -q, -h/--help, -V/--version). On --help or --version rank 0
 * prints and CB_DONE is returned. On a bad option or value returns
 * CB_ERR_USAGE with the error held (cb_error) for cb_agree() to print.
 * Positional arguments are left in argv[*first_arg_p .. argc). Local (but
 * deterministic: the same on every rank). */
cb_status_t cb_options_parse(const cb_cli_t *cli, int argc, char **argv,
                             cb_common_opts_t *common, int *first_arg_p);

/* Print usage to `out` (rank 0 only). Local. */
void cb_options_usage(const cb_cli_t *cli, const cb_common_opts_t *common, void *out /* FILE* */);

/* Value parsers used by the table, exposed for positional arguments and
 * input files. Each returns CB_ERR_USAGE with a held error naming `what`
 * when `text` is not a number in [min, max]. Local. */
cb_status_t cb_parse_int(const char *text, const char *what, long long min, long long max, long long *value_p);
cb_status_t cb_parse_double(const char *text, const char *what, double min, double max, double *value_p);
cb_status_t cb_parse_size(const char *text, const char *what, size_t min, size_t max, size_t *value_p);
/* "MIN:MAX" or "SIZE" (both ends equal). */
cb_status_t cb_parse_size_range(const char *text, const char *what, size_t *min_p, size_t *max_p);

/* Format a byte count with a binary suffix ("4K", "1M", "512"). Local. */
const char *cb_format_size(size_t bytes, char *buf, size_t buflen);

#endif
