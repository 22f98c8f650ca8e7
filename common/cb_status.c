/* Status codes, the held-error mechanism and logging. */
#include "cb_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *program_name = "clusterbench";
static int log_rank = 0;
static int log_size = 1;
static cb_log_level_t log_level = CB_LOG_NORMAL;

/* The held error: the first cause on this rank, printed once. */
static char held_error[1024];
static bool held = false;

static int progress_active = 0;

const char *cb_status_str(cb_status_t status)
{
    static const char *const names[CB_STATUS_COUNT] = {
        [CB_OK] = "success",
        [CB_DONE] = "done",
        [CB_ERR_USAGE] = "bad usage",
        [CB_ERR_INPUT] = "bad input",
        [CB_ERR_IO] = "I/O error",
        [CB_ERR_NOMEM] = "out of memory",
        [CB_ERR_MPI] = "MPI error",
        [CB_ERR_HDF5] = "HDF5 error",
        [CB_ERR_UCX] = "UCX error",
        [CB_ERR_UNSUPPORTED] = "unsupported",
        [CB_ERR_CHECK] = "verification failed",
        [CB_ERR_INTERRUPTED] = "interrupted",
        [CB_ERR_INTERNAL] = "internal error",
    };
    if ((int)status < 0 || status >= CB_STATUS_COUNT)
        return "unknown status";
    return names[status];
}

int cb_status_exit_code(cb_status_t status)
{
    switch (status) {
    case CB_OK:
    case CB_DONE:
        return 0;
    case CB_ERR_USAGE:
        return 2;
    case CB_ERR_INTERRUPTED:
        return 130;
    default:
        return 1;
    }
}

void cb_set_program(const char *name) { program_name = name; }
const char *cb_program(void) { return program_name; }

void cb_log_set_rank(int rank, int size)
{
    log_rank = rank;
    log_size = size;
}

void cb_log_set_level(cb_log_level_t level) { log_level = level; }
cb_log_level_t cb_log_level(void) { return log_level; }

/* ------------------------------------------------------------ errors */

static void end_progress_line(void)
{
    if (progress_active) {
        fputc('\n', stderr);
        progress_active = 0;
    }
}

void cb_error(const char *fmt, ...)
{
    if (held)
        return; /* the first cause wins */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(held_error, sizeof held_error, fmt, ap);
    va_end(ap);
    held = true;
}

bool cb_error_flush(void)
{
    if (!held)
        return false;
    end_progress_line();
    if (log_size > 1 && log_rank != 0)
        fprintf(stderr, "%s: rank %d: %s\n", program_name, log_rank, held_error);
    else
        fprintf(stderr, "%s: %s\n", program_name, held_error);
    fflush(stderr);
    held = false;
    return true;
}

void cb_error_clear(void) { held = false; }

const char *cb_error_message(void) { return held ? held_error : NULL; }

/* ------------------------------------------------------------ messages */

static void vmessage(const char *kind, bool with_rank, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    end_progress_line();
    if (with_rank && log_size > 1)
        fprintf(stderr, "%s: rank %d: %s%s\n", program_name, log_rank, kind, line);
    else
        fprintf(stderr, "%s: %s%s\n", program_name, kind, line);
    fflush(stderr);
}

void cb_warn(const char *fmt, ...)
{
    if (log_level < CB_LOG_NORMAL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmessage("warning: ", log_rank != 0, fmt, ap);
    va_end(ap);
}

void cb_warn_root(const char *fmt, ...)
{
    if (log_level < CB_LOG_NORMAL || log_rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmessage("warning: ", false, fmt, ap);
    va_end(ap);
}

void cb_info(const char *fmt, ...)
{
    if (log_level < CB_LOG_VERBOSE || log_rank != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmessage("", false, fmt, ap);
    va_end(ap);
}

void cb_debug(const char *fmt, ...)
{
    if (log_level < CB_LOG_DEBUG)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmessage("debug: ", true, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ progress */

void cb_progress(const char *fmt, ...)
{
    if (log_rank != 0 || log_level < CB_LOG_NORMAL || !isatty(STDERR_FILENO))
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\r%s: %-70s", program_name, line);
    fflush(stderr);
    progress_active = 1;
}

void cb_progress_done(void)
{
    if (!progress_active)
        return;
    fprintf(stderr, "\r%*s\r", 80 + (int)strlen(program_name), "");
    fflush(stderr);
    progress_active = 0;
}
