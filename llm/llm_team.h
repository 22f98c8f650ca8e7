/* One persistent team of threads per rank: T-1 workers created once, woken
 * for each parallel step (no fork/join per matrix), waiting by a bounded
 * spin and then a futex, or on the futex at once when the host's ranks times
 * threads outnumber its cores. Local to a rank: MPI knows nothing of it. */
#ifndef LLM_TEAM_H
#define LLM_TEAM_H

#include <stdatomic.h>
#include <stdint.h>

#include "../common/cb_status.h"

/* --wait: how an idle thread waits for the next step. */
typedef enum { LLM_WAIT_AUTO = 0, LLM_WAIT_ACTIVE, LLM_WAIT_PASSIVE } llm_wait_t;
extern const char *const llm_wait_names[]; /* "auto", "active", "passive", NULL */

/* The step every thread of the team runs: tid in [0, nt), the caller is 0. */
typedef void (*llm_team_fn)(void *arg, int tid, int nt);

/* Start (or restart, joining the old one) the team of `threads` threads
 * (<= 0: OpenMP's or the host's count) waiting by `wait`; LLM_WAIT_AUTO
 * turns into passive when local_ranks * threads exceeds the cores online,
 * or threads exceed the cores this process may run on, into active
 * otherwise (local_ranks <= 0: OMPI_COMM_WORLD_LOCAL_SIZE or 1). The
 * environment's LLM_WAIT (auto, active, passive) overrides `wait`;
 * LLM_TEAM_SPIN_US sets the active spin (default 50 us). Local; call it from
 * the rank's main thread, never from inside a step. */
cb_status_t llm_team_start(int threads, llm_wait_t wait, int local_ranks);
/* Join the workers. Local; also run at exit. */
void llm_team_stop(void);
/* Threads in the team (starting it with the defaults if it is not running). */
int llm_team_size(void);
/* The policy in force, active or passive (auto resolved), and its name. */
llm_wait_t llm_team_wait(void);
const char *llm_team_wait_name(void);

/* Run fn(arg, tid, nt) on every thread of the team and return when all have
 * finished. Called from inside a step, or from a second thread while a step
 * runs, it runs fn(arg, 0, 1) on the calling thread alone (no nesting, no
 * deadlock; the split is then one thread's). Local. */
void llm_team_run(llm_team_fn fn, void *arg);
/* All threads of the current step wait for each other (only inside fn,
 * called by every thread of the step the same number of times). */
void llm_team_barrier(int tid);

/* A dynamic schedule: set to 0 before llm_team_run, then each thread takes
 * indices while llm_team_next(c) < n. */
typedef atomic_int llm_team_counter_t;
static inline int llm_team_next(llm_team_counter_t *c)
{
    return atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* A static schedule: thread tid's share [*lo, *hi) of [0, n), contiguous
 * and as even as whole items allow. */
static inline void llm_team_split(int64_t n, int tid, int nt, int64_t *lo, int64_t *hi)
{
    *lo = n * tid / nt;
    *hi = n * (tid + 1) / nt;
}

/* fn(arg, lo, hi) over a static split of [0, n) on the team, or on the
 * caller alone when n < min_n (too little work to wake anyone). Local. */
typedef void (*llm_team_range_fn)(void *arg, int64_t lo, int64_t hi);
void llm_team_for(int64_t n, int64_t min_n, llm_team_range_fn fn, void *arg);

/* fn(arg, i, tid) for every i of [0, n), each taken in turn by whichever
 * thread of the team is free (OpenMP's schedule(dynamic, 1)): a thread slowed
 * by another process on its core leaves the rest to the others. Local. */
typedef void (*llm_team_item_fn)(void *arg, int64_t i, int tid);
void llm_team_dynamic(int64_t n, llm_team_item_fn fn, void *arg);

#endif
