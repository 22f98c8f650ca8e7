/* HPL.dat: netlib's input file, read line by line with every field checked
 * and every error naming its line; and the expansion of its lists into the
 * tests netlib would run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "hpl.h"

const char *const hpl_fact_names[] = { "left", "crout", "right", NULL };
/* HPL.dat's BCAST codes 4 and 5 are netlib's long and longM; this solver runs
 * its own spread-roll for them (hpl_bcast.c), named for what it is */
const char *const hpl_bcast_names[] = { "1ring", "1ringM", "2ring", "2ringM", "sproll", "sprollM", NULL };
const char *const hpl_swap_names[] = { "binexch", "long", "mix", NULL };
const char *const hpl_pmap_names[] = { "row", "col", NULL };

#define HPL_DAT_MAX_BYTES (1 << 20)
#define HPL_NB_MAX 8192
#define HPL_N_MAX 100000000LL

/* ================================================================ defaults */

void hpl_input_defaults(hpl_input_t *in)
{
    memset(in, 0, sizeof(*in));
    snprintf(in->out_name, sizeof(in->out_name), "HPL.out");
    in->device = 6;
    in->n_ns = 1;      in->ns[0] = 1000;
    in->n_nbs = 1;     in->nbs[0] = 192;
    in->pmap = HPL_PMAP_ROW;
    in->n_grids = 1;   in->ps[0] = 1; in->qs[0] = 1;
    in->threshold = 16.0;
    in->n_pfacts = 1;  in->pfacts[0] = HPL_FACT_RIGHT;
    in->n_nbmins = 1;  in->nbmins[0] = 4;
    in->n_ndivs = 1;   in->ndivs[0] = 2;
    in->n_rfacts = 1;  in->rfacts[0] = HPL_FACT_CROUT;
    in->n_bcasts = 1;  in->bcasts[0] = HPL_BCAST_1RINGM;
    in->n_depths = 1;  in->depths[0] = 1;
    in->swap = HPL_SWAP_MIX;
    in->swap_threshold = 64;
    in->l1_notrans = 0; in->u_notrans = 0; in->equil = 1; in->align = 8;
    in->grid_line = 0;
}

/* ================================================================ lines */

#define HPL_DAT_LINES 31

typedef struct {
    const char *name;                 /* file name for messages */
    const char *line[HPL_DAT_LINES];  /* start of each line */
    size_t len[HPL_DAT_LINES];
    int n_lines;
} dat_t;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Split `text` into its first 31 lines; lines after them (hpcc's) are ignored. */
static cb_status_t dat_split(const char *text, size_t len, const char *name, dat_t *d)
{
    size_t pos = 0;
    d->name = name;
    d->n_lines = 0;
    while (pos < len && d->n_lines < HPL_DAT_LINES) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        d->line[d->n_lines] = text + pos;
        d->len[d->n_lines] = end - pos;
        d->n_lines++;
        pos = end + 1;
    }
    if (d->n_lines < HPL_DAT_LINES) {
        cb_error("%s:%d: file ends after %d lines; an HPL.dat has %d (the last is the memory alignment)",
                 name, d->n_lines + 1, d->n_lines, HPL_DAT_LINES);
        return CB_ERR_INPUT;
    }
    return CB_OK;
}

/* Copy the i-th whitespace token (0-based) of line `ln` (1-based) into tok;
 * returns 0 when the line has fewer tokens. */
static int dat_token(const dat_t *d, int ln, int i, char *tok, size_t toklen)
{
    const char *s = d->line[ln - 1], *e = s + d->len[ln - 1];
    for (;;) {
        while (s < e && is_space(*s)) s++;
        if (s >= e) return 0;
        const char *t = s;
        while (s < e && !is_space(*s)) s++;
        if (i-- == 0) {
            size_t n = (size_t)(s - t);
            if (n >= toklen) n = toklen - 1;
            memcpy(tok, t, n);
            tok[n] = '\0';
            return 1;
        }
    }
}

/* Printable copy of a token for messages (no control bytes from hostile files). */
static const char *printable(char *tok)
{
    for (char *p = tok; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    if (strlen(tok) > 40) strcpy(tok + 37, "...");
    return tok;
}

static cb_status_t dat_int(const dat_t *d, int ln, int i, const char *what, long long min, long long max,
                           long long *value_p)
{
    char tok[128];
    if (!dat_token(d, ln, i, tok, sizeof(tok))) {
        if (i == 0) cb_error("%s:%d: %s: line is empty, expected a number", d->name, ln, what);
        else cb_error("%s:%d: %s: expected more values, found %d", d->name, ln, what, i);
        return CB_ERR_INPUT;
    }
    char *end;
    errno = 0;
    long long v = strtoll(tok, &end, 10);
    if (end != tok && *end == '\0' && errno == ERANGE) {
        cb_error("%s:%d: %s: %s is out of range [%lld, %lld]", d->name, ln, what, printable(tok), min, max);
        return CB_ERR_INPUT;
    }
    if (end == tok || *end != '\0') {
        if (i == 0) cb_error("%s:%d: %s: '%s' is not an integer", d->name, ln, what, printable(tok));
        else cb_error("%s:%d: %s: value %d: '%s' is not an integer", d->name, ln, what, i + 1, printable(tok));
        return CB_ERR_INPUT;
    }
    if (v < min || v > max) {
        cb_error("%s:%d: %s: %lld is out of range [%lld, %lld]", d->name, ln, what, v, min, max);
        return CB_ERR_INPUT;
    }
    *value_p = v;
    return CB_OK;
}

/* A count line (ln) followed by a list line (ln + 1) of int values. */
static cb_status_t dat_list(const dat_t *d, int ln, const char *what, long long min, long long max,
                            int *count_p, long long *values)
{
    long long count;
    char label[64];
    snprintf(label, sizeof(label), "number of %s", what);
    cb_status_t st = dat_int(d, ln, 0, label, 1, HPL_MAX_LIST, &count);
    if (st != CB_OK) return st;
    for (int i = 0; i < count; i++) {
        st = dat_int(d, ln + 1, i, what, min, max, &values[i]);
        if (st != CB_OK) return st;
    }
    *count_p = (int)count;
    return CB_OK;
}

/* ================================================================ parse */

cb_status_t hpl_input_parse(const char *text, size_t len, const char *name, hpl_input_t *in)
{
    dat_t d;
    long long v[HPL_MAX_LIST], w[HPL_MAX_LIST], x;
    int n;
    cb_status_t st;

    hpl_input_defaults(in);
    if (memchr(text, '\0', len) != NULL) {
        cb_error("%s: contains NUL bytes: not a text HPL.dat", name);
        return CB_ERR_INPUT;
    }
    if ((st = dat_split(text, len, name, &d)) != CB_OK) return st;

    char tok[256];
    if (!dat_token(&d, 3, 0, tok, sizeof(tok))) {
        cb_error("%s:3: output file name: line is empty", name);
        return CB_ERR_INPUT;
    }
    snprintf(in->out_name, sizeof(in->out_name), "%s", tok);
    if ((st = dat_int(&d, 4, 0, "device out", INT_MIN, INT_MAX, &x)) != CB_OK) return st;
    in->device = (int)x;

    if ((st = dat_list(&d, 5, "Ns", 1, HPL_N_MAX, &n, v)) != CB_OK) return st;
    in->n_ns = n;
    for (int i = 0; i < n; i++) in->ns[i] = v[i];
    if ((st = dat_list(&d, 7, "NBs", 1, HPL_NB_MAX, &n, v)) != CB_OK) return st;
    in->n_nbs = n;
    for (int i = 0; i < n; i++) in->nbs[i] = (int)v[i];
    if ((st = dat_int(&d, 9, 0, "PMAP (0=row-major, 1=column-major)", 0, 1, &x)) != CB_OK) return st;
    in->pmap = (hpl_pmap_t)x;

    if ((st = dat_list(&d, 10, "Ps", 1, 1 << 20, &n, v)) != CB_OK) return st;
    for (int i = 0; i < n; i++) {
        if ((st = dat_int(&d, 12, i, "Qs", 1, 1 << 20, &w[i])) != CB_OK) return st;
        if (v[i] * w[i] > (1 << 24)) {
            cb_error("%s:11: grid %lld x %lld: too many processes", name, v[i], w[i]);
            return CB_ERR_INPUT;
        }
        in->ps[i] = (int)v[i];
        in->qs[i] = (int)w[i];
    }
    in->n_grids = n;
    in->grid_line = 11;
    snprintf(in->name, sizeof(in->name), "%s", name);

    if (!dat_token(&d, 13, 0, tok, sizeof(tok))) {
        cb_error("%s:13: threshold: line is empty, expected a number", name);
        return CB_ERR_INPUT;
    }
    char *end;
    errno = 0;
    in->threshold = strtod(tok, &end);
    if (end == tok || *end != '\0' || errno == ERANGE || !isfinite(in->threshold)) {
        cb_error("%s:13: threshold: '%s' is not a number", name, printable(tok));
        return CB_ERR_INPUT;
    }

    if ((st = dat_list(&d, 14, "PFACTs (0=left, 1=Crout, 2=Right)", 0, 2, &n, v)) != CB_OK) return st;
    in->n_pfacts = n;
    for (int i = 0; i < n; i++) in->pfacts[i] = (hpl_fact_t)v[i];
    if ((st = dat_list(&d, 16, "NBMINs", 1, HPL_NB_MAX, &n, v)) != CB_OK) return st;
    in->n_nbmins = n;
    for (int i = 0; i < n; i++) in->nbmins[i] = (int)v[i];
    if ((st = dat_list(&d, 18, "NDIVs", 2, 64, &n, v)) != CB_OK) return st;
    in->n_ndivs = n;
    for (int i = 0; i < n; i++) in->ndivs[i] = (int)v[i];
    if ((st = dat_list(&d, 20, "RFACTs (0=left, 1=Crout, 2=Right)", 0, 2, &n, v)) != CB_OK) return st;
    in->n_rfacts = n;
    for (int i = 0; i < n; i++) in->rfacts[i] = (hpl_fact_t)v[i];
    if ((st = dat_list(&d, 22, "BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)", 0, 5, &n, v)) != CB_OK) return st;
    in->n_bcasts = n;
    for (int i = 0; i < n; i++) in->bcasts[i] = (hpl_bcast_algo_t)v[i];
    /* netlib allows any depth; this solver implements 0 to HPL_MAX_DEPTH */
    if ((st = dat_list(&d, 24, "DEPTHs (0, 1 or 2: the depths implemented)", 0, HPL_MAX_DEPTH, &n, v)) != CB_OK)
        return st;
    in->n_depths = n;
    for (int i = 0; i < n; i++) in->depths[i] = (int)v[i];
    if ((st = dat_int(&d, 26, 0, "SWAP (0=bin-exch, 1=long, 2=mix)", 0, 2, &x)) != CB_OK) return st;
    in->swap = (hpl_swap_algo_t)x;
    if ((st = dat_int(&d, 27, 0, "swapping threshold", 0, INT_MAX, &x)) != CB_OK) return st;
    in->swap_threshold = (int)x;
    if ((st = dat_int(&d, 28, 0, "L1 form (0=transposed, 1=no-transposed)", 0, 1, &x)) != CB_OK) return st;
    in->l1_notrans = (int)x;
    if ((st = dat_int(&d, 29, 0, "U form (0=transposed, 1=no-transposed)", 0, 1, &x)) != CB_OK) return st;
    in->u_notrans = (int)x;
    if ((st = dat_int(&d, 30, 0, "equilibration (0=no, 1=yes)", 0, 1, &x)) != CB_OK) return st;
    in->equil = (int)x;
    if ((st = dat_int(&d, 31, 0, "memory alignment in doubles", 1, 1024, &x)) != CB_OK) return st;
    in->align = (int)x;
    return CB_OK;
}

/* ================================================================ read */

cb_status_t hpl_input_read(const char *path, MPI_Comm comm, hpl_input_t *in, int *missing_p)
{
    int rank;
    long long len = 0;      /* -1: missing, -2: other error */
    char *text = NULL;
    cb_status_t st = CB_OK;

    MPI_Comm_rank(comm, &rank);
    *missing_p = 0;
    if (rank == 0) {
        /* open without blocking (a FIFO would wait for a writer), then
         * accept only a regular file */
        FILE *f = NULL;
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        struct stat sb;
        if (fd < 0) {
            if (errno == ENOENT) len = -1;
            else { cb_error("cannot open %s: %s", path, strerror(errno)); len = -2; }
        } else if (fstat(fd, &sb) != 0) {
            cb_error("cannot read %s: %s", path, strerror(errno));
            len = -2;
        } else if (!S_ISREG(sb.st_mode)) {
            cb_error("%s: not a regular file (%s): an HPL.dat must be one",
                     path, S_ISFIFO(sb.st_mode) ? "a FIFO" : S_ISDIR(sb.st_mode) ? "a directory" :
                     S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) ? "a device" : S_ISSOCK(sb.st_mode) ? "a socket" : "special");
            len = -2;
        } else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 || (f = fdopen(fd, "rb")) == NULL) {
            cb_error("cannot read %s: %s", path, strerror(errno));
            len = -2;
        }
        if (f == NULL && fd >= 0) close(fd);
        if (f != NULL) {
            text = cb_alloc(HPL_DAT_MAX_BYTES + 1, 0, "HPL.dat text");
            if (text == NULL) len = -2;
            else {
                size_t got = fread(text, 1, HPL_DAT_MAX_BYTES + 1, f);
                if (ferror(f)) { cb_error("cannot read %s: %s", path, strerror(errno)); len = -2; }
                else if (got > HPL_DAT_MAX_BYTES) {
                    cb_error("%s: larger than %d bytes: not an HPL.dat", path, HPL_DAT_MAX_BYTES);
                    len = -2;
                } else len = (long long)got;
            }
            fclose(f);
        }
    }
    if ((st = CB_MPI(MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm))) != CB_OK) goto out_free;
    if (len == -1) {
        *missing_p = 1;
        if (rank == 0) cb_error("cannot open %s: %s", path, strerror(ENOENT));
        st = CB_ERR_IO;
        goto out_free;
    }
    st = cb_agree(len == -2 ? CB_ERR_IO : CB_OK, comm);
    if (st != CB_OK) goto out_free;
    if (rank != 0) {
        text = cb_alloc((size_t)len + 1, 0, "HPL.dat text");
    }
    st = cb_agree(text == NULL ? CB_ERR_NOMEM : CB_OK, comm);
    if (st != CB_OK) goto out_free;
    if ((st = CB_MPI(MPI_Bcast(text, (int)len, MPI_CHAR, 0, comm))) != CB_OK) goto out_free;
    text[len] = '\0';
    st = hpl_input_parse(text, (size_t)len, path, in);
    /* the same text on every rank: every rank reached the same verdict */
    if (rank != 0) cb_error_clear();
    st = cb_agree(st, comm);
out_free:
    cb_free(text);
    return st;
}

/* ================================================================ tests */

cb_status_t hpl_input_tests(const hpl_input_t *in, uint64_t seed, hpl_solver_t solver,
                            hpl_test_t **tests_p, int *n_tests_p)
{
    size_t n = (size_t)in->n_grids * in->n_ns * in->n_nbs * in->n_depths * in->n_bcasts *
               in->n_rfacts * in->n_ndivs * in->n_pfacts * in->n_nbmins;
    if (n > HPL_MAX_TESTS) {
        /* 20 values on each of 9 lines would ask for 5e11 runs */
        cb_error("%s: the lists ask for %zu combinations; at most %d run in one HPL.dat",
                 in->name[0] ? in->name : "options", n, HPL_MAX_TESTS);
        return CB_ERR_INPUT;
    }
    hpl_test_t *tests = cb_alloc(cb_mul_size(n, sizeof(*tests)), 1, "test list");
    if (tests == NULL) return CB_ERR_NOMEM;
    size_t i = 0;
    /* netlib's loop order (HPL_pddriver) */
    for (int ig = 0; ig < in->n_grids; ig++)
    for (int in_ = 0; in_ < in->n_ns; in_++)
    for (int inb = 0; inb < in->n_nbs; inb++)
    for (int idp = 0; idp < in->n_depths; idp++)
    for (int ibc = 0; ibc < in->n_bcasts; ibc++)
    for (int irf = 0; irf < in->n_rfacts; irf++)
    for (int ind = 0; ind < in->n_ndivs; ind++)
    for (int ipf = 0; ipf < in->n_pfacts; ipf++)
    for (int inm = 0; inm < in->n_nbmins; inm++) {
        hpl_test_t *t = &tests[i++];
        t->n = in->ns[in_];
        t->nb = in->nbs[inb];
        t->pmap = in->pmap;
        t->p = in->ps[ig];
        t->q = in->qs[ig];
        t->threshold = in->threshold;
        t->pfact = in->pfacts[ipf];
        t->nbmin = in->nbmins[inm];
        t->ndiv = in->ndivs[ind];
        t->rfact = in->rfacts[irf];
        t->bcast = in->bcasts[ibc];
        t->depth = in->depths[idp];
        t->swap = in->swap;
        t->swap_threshold = in->swap_threshold;
        t->l1_notrans = in->l1_notrans;
        t->u_notrans = in->u_notrans;
        t->equil = in->equil;
        t->align = in->align;
        t->seed = seed;
        t->solver = solver;
    }
    *tests_p = tests;
    *n_tests_p = (int)n;
    return CB_OK;
}

void hpl_test_code(const hpl_test_t *t, char code[16])
{
    static const char fact_letter[] = { 'L', 'C', 'R' };
    /* netlib's "W%c%1d%c%c%1d%c%1d": numbers keep all their digits */
    snprintf(code, 16, "W%c%d%d%c%d%c%d", t->pmap == HPL_PMAP_ROW ? 'R' : 'C', t->depth, (int)t->bcast,
             fact_letter[t->rfact], t->ndiv, fact_letter[t->pfact], t->nbmin);
}
