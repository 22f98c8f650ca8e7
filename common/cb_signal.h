/* Stopping on SIGINT, SIGTERM and SIGHUP (a user's Ctrl-C, a batch system's
 * time limit, a lost terminal): the first signal asks for an orderly stop, which
 * programs take at their next loop point (cb_agree, between measurements); a
 * second signal from the same sender, or any signal 3 s or more after the first,
 * ends the process at once, after the results writer has marked its file.
 *
 * SIGPIPE (a write to a connection whose other end is gone) still ends the
 * process, but only after the hook has recorded it. Over MPI's TCP transport it
 * is how a rank learns, within milliseconds, that a peer died: the thread that
 * was sending to it gets the signal long before the dead-rank watchdog
 * (cb_results.c) could mark the file, and the default action left it "running".
 * That thread waits in the handler (at most CB_SIGPIPE_WAIT_S) while the
 * signal thread calls the hook. */
#ifndef CB_SIGNAL_H
#define CB_SIGNAL_H

/* Seconds after the first signal from which any further signal ends the run at
 * once (before that, only a second one from the same sender does: a Ctrl-C
 * reaches every rank and the launcher, which then passes a SIGTERM on). */
#define CB_SIGNAL_GRACE_S 3.0

/* The longest a thread that got SIGPIPE waits for the hook before the process
 * ends: more than the hook's slowest close of the file, so that the end never
 * cuts an HDF5 write short. */
#define CB_SIGPIPE_WAIT_S 5.0

/* Install the handlers and start the thread that acts on them (every signal of
 * the process is blocked in it). Idempotent; called by cb_mpi_init. Returns 0,
 * or -1 if the thread cannot start (the default actions then stay). Local. */
int cb_signal_init(void);

/* The first stop signal received (SIGINT, SIGTERM, SIGHUP), 0 if none. Local;
 * async-signal-safe. */
int cb_signal_pending(void);

/* The pid that sent it (0 from the kernel or a terminal). Local. */
int cb_signal_sender(void);

/* The program is ending (cb_mpi_finalize): a stop signal from now on is not
 * announced (it would only add a line after the error that ends the run). */
void cb_signal_finishing(void);

/* Called from the signal thread, never inside a handler: `final` 0 at the first
 * signal (mark the file, keep running), 1 just before the process ends at once
 * (a second stop signal, or SIGPIPE: then sig is SIGPIPE, and the thread that
 * got it is held in its handler until the hook returns).
 * One hook; NULL removes it. The hook must take its own locks. Local. */
typedef void (*cb_signal_hook_t)(int sig, int final);
void cb_signal_set_hook(cb_signal_hook_t hook);

#endif
