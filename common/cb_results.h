/* Results: the HDF5 file of a run (schema clusterbench/1, results/README.md)
 * and the tables a program fills, printed on stdout as they are written.
 * Rank 0 owns the file and prints; on other ranks every call is a no-op that
 * returns CB_OK, so programs call them unconditionally. */
#ifndef CB_RESULTS_H
#define CB_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>
#include "cb_status.h"
#include "cb_options.h"

typedef struct cb_results cb_results_t;
typedef struct cb_table cb_table_t;

/* Open the results of a run: on rank 0 create the HDF5 file (common->output,
 * or results/<program>-<UTC time>.h5, folders created; never overwrite an
 * existing file unless it was named with -o), write the provenance root
 * attributes, /ranks and /env, mark status "running"; a stop signal
 * (cb_signal.h) marks it "interrupted" and keeps every flushed row.
 * With common->no_output no file is written but tables still print.
 * Collective over `comm` (gathers host names and bindings); agrees on
 * failure, so every rank returns the same status. */
cb_status_t cb_results_open(const char *program, const cb_common_opts_t *common,
                            int argc, char **argv, MPI_Comm comm,
                            cb_results_t **results_p);

/* Set or replace a root attribute (string, integer or double). Rank 0 writes;
 * local. Use to refine provenance a program knows better (ucx_transports,
 * threads_per_rank, blas). */
cb_status_t cb_results_set_str(cb_results_t *results, const char *name, const char *value);
cb_status_t cb_results_set_int(cb_results_t *results, const char *name, long long value);
cb_status_t cb_results_set_double(cb_results_t *results, const char *name, double value);

/* The file name (NULL with --no-output or on ranks other than 0). Local. */
const char *cb_results_path(const cb_results_t *results);
/* The output format chosen with --format. Local. */
cb_format_t cb_results_format(const cb_results_t *results);

/* Print a "# ..." comment line on stdout in table format (not in csv/json):
 * rank 0 only. Local. */
void cb_results_comment(const cb_results_t *results, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Close the file: set finished_utc and status (complete for CB_OK/CB_DONE,
 * interrupted for CB_ERR_INTERRUPTED, failed otherwise), close every table,
 * print "# results: PATH" in table format. Frees `results`. Returns `status`,
 * or CB_ERR_IO on every rank when a run that ended well could not close its
 * file (the disk filled at the close: rank 0 prints the error, the file keeps
 * every row and says failed). Collective when `status` is CB_OK or CB_DONE
 * (then it is so on every rank), local otherwise (rank 0 writes). NULL is
 * accepted. */
cb_status_t cb_results_close(cb_results_t *results, cb_status_t status);

/* ----------------------------------------------------------- tables */

typedef enum { CB_COL_INT32, CB_COL_INT64, CB_COL_DOUBLE, CB_COL_STRING } cb_col_type_t;

typedef struct {
    const char *name;    /* HDF5 field name, with its unit: "lat_avg_us" */
    const char *title;   /* human column header: "Avg(us)" */
    cb_col_type_t type;
    size_t offset;       /* offsetof(row type, field) */
    size_t size;         /* sizeof the field (the char array's length for strings) */
    const char *fmt;     /* printf conversion for the table ("%.2f"); NULL: default */
    int width;           /* column width in table format; 0: from title and fmt */
} cb_column_t;

/* A column of a row struct: CB_COLUMN(row_t, field, CB_COL_DOUBLE, "Avg(us)", "%.2f").
 * The HDF5 field name is the struct field's name. */
#define CB_COLUMN(row_t, field, type, title, fmt) \
    { #field, (title), (type), offsetof(row_t, field), sizeof(((row_t *)0)->field), (fmt), 0 }

enum {
    CB_TABLE_PRINT = 0,      /* print rows on stdout as they are appended (default) */
    CB_TABLE_NO_PRINT = 1,   /* write to HDF5 only (raw samples, per-rank detail) */
};

/* Create (or reopen, if it exists with the same columns) the table at `path`
 * ("/microbench/latency": groups created as needed), a 1-D chunked extendible
 * dataset of a compound type, one row per cb_table_append(). Local (rank 0
 * writes; other ranks get a stub). */
cb_status_t cb_table_create(cb_results_t *results, const char *path,
                            const cb_column_t *columns, int n_columns,
                            size_t row_size, int flags, cb_table_t **table_p);

/* Attribute on the table's dataset (e.g. "transport", "description"). Local. */
cb_status_t cb_table_set_str(cb_table_t *table, const char *name, const char *value);
cb_status_t cb_table_set_double(cb_table_t *table, const char *name, double value);

/* Append one row (a pointer to the row struct): written and flushed to the
 * file at once, and printed on stdout in the chosen format (the header before
 * the first row). Local; rank 0 acts, other ranks return CB_OK. */
cb_status_t cb_table_append(cb_table_t *table, const void *row);

/* Close one table early (cb_results_close closes the rest). Local. */
void cb_table_close(cb_table_t *table);

#endif
