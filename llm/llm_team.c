/* The rank's persistent thread team (llm_team.h): T-1 workers parked on a
 * generation word between steps, a join counter, a barrier, each waited on by
 * a bounded spin and then a Linux futex. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#include "llm_team.h"

const char *const llm_wait_names[] = { "auto", "active", "passive", NULL };

/* A futex word and the count of threads asleep on it: a waker makes the
 * system call only when someone sleeps. (Both sides use sequentially
 * consistent operations: a sleeper counts itself before the kernel checks the
 * word, a waker changes the word before it reads the count, so one of them
 * sees the other.) */
typedef struct {
    _Atomic unsigned word;
    atomic_int sleepers;
    char pad[64 - sizeof(unsigned) - sizeof(int)];
} team_word_t;

typedef struct {
    int n;                 /* threads, the caller included */
    llm_wait_t wait;       /* active or passive */
    long spin_ns;          /* how long a waiter spins before it sleeps */
    pthread_t *th;         /* (n - 1) workers */
    team_word_t gen;       /* step number: bumped to wake the workers */
    team_word_t pending;   /* workers still in the current step */
    team_word_t bar;       /* barrier generation */
    atomic_int bar_count;  /* threads arrived at the current barrier */
    atomic_int busy;       /* a step runs: further calls run alone */
    int stop;              /* workers leave at the next step */
    llm_team_fn fn;
    void *arg;
} team_t;

static team_t g_team;
static int g_started;
static _Thread_local int t_in_step; /* this thread runs a team step: nested calls run alone */
static _Thread_local int t_alone;   /* this thread runs a step alone: barriers are no-ops */

/* ================================================================ waiting */

static long futex(_Atomic unsigned *w, int op, unsigned val)
{
    return syscall(SYS_futex, (unsigned *)w, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Wait until w->word != old; return the new value. */
static unsigned word_wait(team_word_t *w, unsigned old, long spin_ns)
{
    unsigned v = atomic_load_explicit(&w->word, memory_order_acquire);
    if (v != old)
        return v;
    if (spin_ns > 0) {
        const long end = now_ns() + spin_ns;
        for (int i = 1;; i++) {
            CPU_RELAX();
            if ((v = atomic_load_explicit(&w->word, memory_order_acquire)) != old)
                return v;
            if ((i & 63) == 0 && now_ns() > end)
                break;
        }
    }
    for (;;) {
        atomic_fetch_add(&w->sleepers, 1);
        if (atomic_load(&w->word) == old)
            futex(&w->word, FUTEX_WAIT, old);
        atomic_fetch_sub(&w->sleepers, 1);
        if ((v = atomic_load_explicit(&w->word, memory_order_acquire)) != old)
            return v;
    }
}

static void word_wake(team_word_t *w)
{
    if (atomic_load(&w->sleepers) > 0)
        futex(&w->word, FUTEX_WAKE, INT_MAX);
}

/* ================================================================ workers */

static void *worker(void *p)
{
    team_t *t = &g_team;
    const int tid = (int)(intptr_t)p;
    unsigned seen = 0;
    t_in_step = 1;
    for (;;) {
        seen = word_wait(&t->gen, seen, t->spin_ns);
        if (t->stop)
            break;
        t->fn(t->arg, tid, t->n);
        if (atomic_fetch_sub(&t->pending.word, 1) == 1)
            word_wake(&t->pending);
    }
    return NULL;
}

/* ================================================================ the policy */

static int cores_allowed(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return (int)sysconf(_SC_NPROCESSORS_ONLN);
    return CPU_COUNT(&set);
}

static llm_wait_t wait_resolve(llm_wait_t wait, int threads, int local_ranks)
{
    const char *e = getenv("LLM_WAIT");
    for (int i = 0; e && llm_wait_names[i]; i++)
        if (!strcmp(e, llm_wait_names[i]))
            wait = (llm_wait_t)i;
    if (wait != LLM_WAIT_AUTO)
        return wait;
    if (local_ranks <= 0) {
        const char *l = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        local_ranks = l && atoi(l) > 0 ? atoi(l) : 1;
    }
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    const int allowed = cores_allowed();
    if ((online > 0 && (long)local_ranks * threads > online) || (allowed > 0 && threads > allowed))
        return LLM_WAIT_PASSIVE;
    return LLM_WAIT_ACTIVE;
}

/* ================================================================ the team */

void llm_team_stop(void)
{
    team_t *t = &g_team;
    if (!g_started)
        return;
    t->stop = 1;
    atomic_fetch_add(&t->gen.word, 1);
    word_wake(&t->gen);
    for (int i = 0; i < t->n - 1; i++)
        pthread_join(t->th[i], NULL);
    free(t->th);
    t->th = NULL;
    g_started = 0;
}

static int default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)c : 1;
#endif
}

cb_status_t llm_team_start(int threads, llm_wait_t wait, int local_ranks)
{
    static int registered;
    team_t *t = &g_team;
    if (t_in_step || atomic_load(&t->busy)) {
        cb_error("llm_team_start: called from inside a team step");
        return CB_ERR_INTERNAL;
    }
    llm_team_stop();
    if (threads <= 0)
        threads = default_threads();
    if (!registered) {
        atexit(llm_team_stop);
        registered = 1;
    }
    memset(t, 0, sizeof *t);
    t->n = threads;
    t->wait = wait_resolve(wait, threads, local_ranks);
    const char *s = getenv("LLM_TEAM_SPIN_US");
    long spin_us = s ? atol(s) : 50;
    /* passive: a spin about as long as a wake-up costs, no more */
    t->spin_ns = t->wait == LLM_WAIT_PASSIVE ? 0 : (spin_us < 0 ? 0 : spin_us) * 1000L;
    if (threads > 1 && !(t->th = malloc(sizeof(pthread_t) * (size_t)(threads - 1)))) {
        cb_error("cannot allocate the thread team");
        return CB_ERR_NOMEM;
    }
    for (int i = 0; i < threads - 1; i++) {
        int e = pthread_create(&t->th[i], NULL, worker, (void *)(intptr_t)(i + 1));
        if (e != 0) {
            cb_error("cannot start thread %d of %d: %s", i + 1, threads, strerror(e));
            t->n = i + 1; /* join those started */
            g_started = 1;
            llm_team_stop();
            return CB_ERR_NOMEM;
        }
    }
    g_started = 1;
    return CB_OK;
}

static void team_ensure(void)
{
    if (!g_started && llm_team_start(0, LLM_WAIT_AUTO, 0) != CB_OK)
        llm_team_start(1, LLM_WAIT_AUTO, 0); /* a team of one needs no thread */
}

int llm_team_size(void)
{
    team_ensure();
    return g_team.n;
}

llm_wait_t llm_team_wait(void)
{
    team_ensure();
    return g_team.wait;
}

const char *llm_team_wait_name(void) { return llm_wait_names[llm_team_wait()]; }

void llm_team_run(llm_team_fn fn, void *arg)
{
    team_t *t = &g_team;
    team_ensure();
    int expect = 0;
    if (t->n == 1 || t_in_step || !atomic_compare_exchange_strong(&t->busy, &expect, 1)) {
        const int was = t_alone;
        t_alone = 1;
        fn(arg, 0, 1);
        t_alone = was;
        return;
    }
    t->fn = fn;
    t->arg = arg;
    atomic_store(&t->pending.word, (unsigned)(t->n - 1));
    atomic_fetch_add(&t->gen.word, 1); /* releases fn, arg and pending to the workers */
    word_wake(&t->gen);
    t_in_step = 1;
    fn(arg, 0, t->n);
    t_in_step = 0;
    for (unsigned left; (left = atomic_load_explicit(&t->pending.word, memory_order_acquire)) != 0;)
        word_wait(&t->pending, left, t->spin_ns);
    atomic_store(&t->busy, 0);
}

void llm_team_barrier(int tid)
{
    team_t *t = &g_team;
    (void)tid;
    if (t_alone || t->n == 1)
        return;
    const unsigned g = atomic_load(&t->bar.word);
    if (atomic_fetch_add(&t->bar_count, 1) == t->n - 1) {
        atomic_store(&t->bar_count, 0);
        atomic_fetch_add(&t->bar.word, 1);
        word_wake(&t->bar);
    } else {
        word_wait(&t->bar, g, t->spin_ns);
    }
}

/* ================================================================ loops */

typedef struct {
    int64_t n;
    llm_team_range_fn fn;
    void *arg;
} team_for_t;

static void team_for_step(void *p, int tid, int nt)
{
    const team_for_t *f = p;
    int64_t lo, hi;
    llm_team_split(f->n, tid, nt, &lo, &hi);
    if (lo < hi)
        f->fn(f->arg, lo, hi);
}

void llm_team_for(int64_t n, int64_t min_n, llm_team_range_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (n < min_n) {
        fn(arg, 0, n);
        return;
    }
    team_for_t f = { n, fn, arg };
    llm_team_run(team_for_step, &f);
}

typedef struct {
    int64_t n;
    llm_team_item_fn fn;
    void *arg;
    _Atomic int64_t next;
} team_dyn_t;

static void team_dyn_step(void *p, int tid, int nt)
{
    team_dyn_t *d = p;
    (void)nt;
    for (int64_t i; (i = atomic_fetch_add_explicit(&d->next, 1, memory_order_relaxed)) < d->n;)
        d->fn(d->arg, i, tid);
}

void llm_team_dynamic(int64_t n, llm_team_item_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (n == 1) {
        fn(arg, 0, 0);
        return;
    }
    team_dyn_t d = { n, fn, arg, 0 };
    llm_team_run(team_dyn_step, &d);
}
