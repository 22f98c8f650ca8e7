/* MPI helpers: start-up and shutdown, error checking of MPI calls, agreement
 * on failure across ranks, host information. */
#ifndef CB_MPI_H
#define CB_MPI_H

#include <mpi.h>
#include "cb_status.h"

/* Start MPI, set MPI_ERRORS_RETURN on MPI_COMM_WORLD, name the program for
 * messages and record rank and size for them. Collective over MPI_COMM_WORLD.
 * On failure prints one line and returns CB_ERR_MPI (MPI may not be usable). */
cb_status_t cb_mpi_init(int *argc, char ***argv, const char *program);
/* The same with MPI_Init_thread at thread level `required` (MPI_THREAD_SINGLE:
 * plain MPI_Init). What MPI provided is cb_mpi_thread_level(); it may be less. */
cb_status_t cb_mpi_init_thread(int *argc, char ***argv, const char *program, int required);
/* The thread level MPI provided at start-up, and the name of a level. Local. */
int cb_mpi_thread_level(void);
const char *cb_mpi_thread_level_name(int level);

/* Seconds this rank spent in MPI_Init inside cb_mpi_init (as osu_init
 * times it), or -1 before it. Local. */
double cb_mpi_init_seconds(void);

/* End the run: print any held error, finalize MPI and return the process exit
 * code for `status` (see cb_status_exit_code). Collective over
 * MPI_COMM_WORLD: every rank must call it with a status agreed by cb_agree(). */
int cb_mpi_finalize(cb_status_t status);

/* Give up on a local error that other ranks cannot learn of: print the held
 * error and MPI_Abort the job with the exit code of `status`. Local; does not
 * return. */
void cb_abort(cb_status_t status) __attribute__((noreturn));

/* Turn an MPI return code into a status, logging failures with cb_error()
 * (naming the call and where it was made). Use through CB_MPI(). Local. */
cb_status_t cb_mpi_check(int rc, const char *call, const char *file, int line);
#define CB_MPI(call) cb_mpi_check((call), #call, __FILE__, __LINE__)

/* Agree on a status: every rank returns the same value, CB_OK only if every
 * rank passed CB_OK (or all passed CB_DONE: CB_DONE). Otherwise the lowest
 * failing rank prints its held error (or a generic line) once, the others drop
 * theirs, and all return that rank's status. A pending stop signal on a rank
 * counts as CB_ERR_INTERRUPTED there (cb_signal.h). Collective over `comm`. */
cb_status_t cb_agree(cb_status_t status, MPI_Comm comm);

int cb_rank(void);   /* rank in MPI_COMM_WORLD */
int cb_nranks(void); /* size of MPI_COMM_WORLD */

/* This process's host name (MPI_Get_processor_name). Local. */
const char *cb_hostname(void);

/* Number of distinct hosts among the ranks of `comm`, and this rank's index
 * among the ranks of its own host (0-based) and their count. Collective. */
cb_status_t cb_mpi_hosts(MPI_Comm comm, int *n_hosts_p, int *local_rank_p, int *local_size_p);

#endif
