/* MPI start-up and shutdown, MPI error checking and agreement on failure. */
#define _GNU_SOURCE
#include "cb_mpi.h"
#include "cb_signal.h"
#include "cb_stats.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int world_rank = 0;
static int world_size = 1;
static char hostname[MPI_MAX_PROCESSOR_NAME + 1] = "unknown";
static double init_seconds = -1;
static int thread_level = MPI_THREAD_SINGLE;

cb_status_t cb_mpi_init(int *argc, char ***argv, const char *program)
{
    return cb_mpi_init_thread(argc, argv, program, MPI_THREAD_SINGLE);
}

cb_status_t cb_mpi_init_thread(int *argc, char ***argv, const char *program, int required)
{
    cb_set_program(program);
    /* SIGINT/SIGTERM/SIGHUP: stop at the next cb_agree(). Before MPI_Init, so
     * that a signal during start-up does not kill a rank inside it (Open MPI
     * 4.1's mpirun then crashed in PMIx_Finalize on a Ctrl-C). */
    cb_signal_init();
    double t0 = cb_now();
    int provided = MPI_THREAD_SINGLE;
    int rc = required == MPI_THREAD_SINGLE ? MPI_Init(argc, argv) : MPI_Init_thread(argc, argv, required, &provided);
    init_seconds = cb_now() - t0;
    thread_level = provided;
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "%s: cannot start MPI (MPI_Init returned %d)\n", program, rc);
        return CB_ERR_MPI;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    int len = 0;
    if (MPI_Get_processor_name(hostname, &len) != MPI_SUCCESS)
        snprintf(hostname, sizeof hostname, "unknown");
    hostname[MPI_MAX_PROCESSOR_NAME] = '\0';
    cb_log_set_rank(world_rank, world_size);
    return CB_OK;
}

double cb_mpi_init_seconds(void) { return init_seconds; }

int cb_mpi_thread_level(void) { return thread_level; }

const char *cb_mpi_thread_level_name(int level)
{
    switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "unknown";
    }
}

int cb_mpi_finalize(cb_status_t status)
{
    /* A stop signal from here on (mpirun ending the job after another rank's
     * error) changes nothing: no "stopping" line beside the error itself. */
    cb_signal_finishing();
    cb_progress_done();
    cb_error_flush();
    fflush(stdout);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Finalize();
    if ((status == CB_OK || status == CB_DONE) && cb_signal_pending())
        status = CB_ERR_INTERRUPTED; /* stopped by a signal after the last loop point */
    return cb_status_exit_code(status);
}

void cb_abort(cb_status_t status)
{
    cb_progress_done();
    if (!cb_error_flush())
        fprintf(stderr, "%s: rank %d: giving up: %s\n", cb_program(), world_rank, cb_status_str(status));
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, cb_status_exit_code(status) ? cb_status_exit_code(status) : 1);
    exit(cb_status_exit_code(status)); /* MPI_Abort does not return; be sure */
}

cb_status_t cb_mpi_check(int rc, const char *call, const char *file, int line)
{
    if (rc == MPI_SUCCESS)
        return CB_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error code %d", rc);
    /* Name the call up to its '(' only: the arguments are noise in a one-liner. */
    int name_len = (int)strcspn(call, "(");
    cb_error("%.*s failed: %s (%s:%d)", name_len, call, text, file, line);
    return CB_ERR_MPI;
}

cb_status_t cb_agree(cb_status_t status, MPI_Comm comm)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    /* A stop signal on any rank (cb_signal.h) makes every rank return
     * CB_ERR_INTERRUPTED here: each call is a loop point of the orderly stop. */
    if (status == CB_OK && cb_signal_pending()) {
        status = CB_ERR_INTERRUPTED;
        cb_error("interrupted by SIG%s%s", sigabbrev_np(cb_signal_pending()) ? sigabbrev_np(cb_signal_pending()) : "?",
                 rank == 0 ? "" : " on this rank");
    }
    int failed = status != CB_OK && status != CB_DONE;
    /* Lowest failing rank, and whether everyone is done. */
    int mine[2] = { failed ? rank : INT_MAX, status == CB_DONE ? 0 : 1 };
    int agreed[2] = { INT_MAX, 1 };
    if (MPI_Allreduce(mine, agreed, 2, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) {
        /* Communication itself broke: nothing to agree with; give up here. */
        cb_error("cannot agree on the outcome across ranks: MPI_Allreduce failed");
        cb_abort(CB_ERR_MPI);
    }
    if (agreed[0] == INT_MAX) {
        cb_error_clear();
        return (agreed[1] == 0) ? CB_DONE : CB_OK;
    }
    int code = (int)status;
    if (MPI_Bcast(&code, 1, MPI_INT, agreed[0], comm) != MPI_SUCCESS)
        cb_abort(CB_ERR_MPI);
    if (rank == agreed[0]) {
        if (!cb_error_flush())
            fprintf(stderr, "%s: %s\n", cb_program(), cb_status_str(status));
    } else {
        cb_error_clear();
    }
    return (cb_status_t)code;
}

int cb_rank(void) { return world_rank; }
int cb_nranks(void) { return world_size; }
const char *cb_hostname(void) { return hostname; }

cb_status_t cb_mpi_hosts(MPI_Comm comm, int *n_hosts_p, int *local_rank_p, int *local_size_p)
{
    cb_status_t st;
    MPI_Comm node = MPI_COMM_NULL;
    int rank = 0, size = 1, local_rank = 0, local_size = 1, n_hosts = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* Ranks on one host by host name (not shared memory: emulated hosts share
     * a kernel but are distinct hosts to a user). */
    char name[MPI_MAX_PROCESSOR_NAME + 1];
    memset(name, 0, sizeof name);
    snprintf(name, sizeof name, "%s", hostname);
    char *all = malloc((size_t)size * sizeof name);
    if (!all) {
        cb_error("cannot allocate host names of %d ranks", size);
        return CB_ERR_NOMEM;
    }
    st = CB_MPI(MPI_Allgather(name, (int)sizeof name, MPI_CHAR, all, (int)sizeof name, MPI_CHAR, comm));
    if (st != CB_OK)
        goto out;
    int color = -1;
    for (int r = 0; r < size; r++) {
        const char *h = all + (size_t)r * sizeof name;
        int first = r;
        for (int s = 0; s < r; s++)
            if (strcmp(all + (size_t)s * sizeof name, h) == 0) {
                first = s;
                break;
            }
        if (first == r)
            n_hosts++;
        if (r == rank)
            color = first;
    }
    st = CB_MPI(MPI_Comm_split(comm, color, rank, &node));
    if (st != CB_OK)
        goto out;
    MPI_Comm_rank(node, &local_rank);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
    *n_hosts_p = n_hosts;
    if (local_rank_p)
        *local_rank_p = local_rank;
    if (local_size_p)
        *local_size_p = local_size;
out:
    free(all);
    return st;
}
