/* Status codes, error reporting and logging shared by every clusterbench program.
 * Errors are values (cb_status_t); a message is logged once, where the error is
 * found, and printed once per run by cb_agree() or at exit. */
#ifndef CB_STATUS_H
#define CB_STATUS_H

#include <stdarg.h>
#include <stdbool.h>

typedef enum {
    CB_OK = 0,
    CB_DONE,             /* nothing more to do, successfully (--help, --version) */
    CB_ERR_USAGE,        /* bad option or value on the command line */
    CB_ERR_INPUT,        /* malformed input file (HPL.dat, model file) */
    CB_ERR_IO,           /* a file or folder could not be read or written */
    CB_ERR_NOMEM,        /* allocation failed, or the run would not fit in memory */
    CB_ERR_MPI,          /* an MPI call failed */
    CB_ERR_HDF5,         /* an HDF5 call failed */
    CB_ERR_UCX,          /* a UCX call failed, or a transport cannot be opened */
    CB_ERR_UNSUPPORTED,  /* valid but not supported (tensor type, architecture, grid) */
    CB_ERR_CHECK,        /* a result failed its verification (residual, --validate) */
    CB_ERR_INTERRUPTED,  /* SIGINT or SIGTERM */
    CB_ERR_INTERNAL,     /* a bug */
    CB_STATUS_COUNT
} cb_status_t;

/* Short description of a status ("bad usage", "MPI error", ...). Local. */
const char *cb_status_str(cb_status_t status);

/* Process exit code for a final status: 0 for CB_OK and CB_DONE, 2 for usage
 * errors, 130 for interruption, 1 otherwise. Local. */
int cb_status_exit_code(cb_status_t status);

/* Name used as the prefix of every message ("hpl", "llm"). Local. */
void cb_set_program(const char *name);
const char *cb_program(void);

/* This process's rank and the world size, for message prefixes. Set by
 * cb_mpi_init(); (0, 1) before it. Local. */
void cb_log_set_rank(int rank, int size);

typedef enum { CB_LOG_QUIET = 0, CB_LOG_NORMAL = 1, CB_LOG_VERBOSE = 2, CB_LOG_DEBUG = 3 } cb_log_level_t;
void cb_log_set_level(cb_log_level_t level);
cb_log_level_t cb_log_level(void);

/* Record an error: "program: message". It is not printed at once but held
 * until cb_agree() (which prints the message of the lowest failing rank, once)
 * or cb_error_flush() / exit. A later cb_error() on the same rank replaces an
 * unprinted earlier one only if none is held: the first cause wins. Local. */
void cb_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print the held error now (with a "rank N:" prefix on a multi-rank run) and
 * clear it. Returns true if there was one. Local. */
bool cb_error_flush(void);
/* Drop the held error without printing it. Local. */
void cb_error_clear(void);
/* The held error's text (without prefix), or NULL. Local. */
const char *cb_error_message(void);

/* Immediate messages on stderr, "program: warning: ...". cb_warn prints on
 * every rank that calls it; cb_warn_root only on rank 0. Local. */
void cb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cb_warn_root(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational messages on stderr at CB_LOG_VERBOSE / CB_LOG_DEBUG, rank 0
 * only for cb_info, every rank for cb_debug (prefixed with the rank). Local. */
void cb_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cb_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Progress line on stderr, rewritten in place, only on rank 0 and only when
 * stderr is a terminal; cb_progress_done() ends the line. Local. */
void cb_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cb_progress_done(void);

#endif
