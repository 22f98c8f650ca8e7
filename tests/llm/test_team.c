/* The kernels' thread team (llm_team.c): every thread runs each step exactly
 * once, thousands of back-to-back steps lose no wake-up under either wait
 * policy, the dynamic schedule hands out every index exactly once, barriers
 * hold, a nested call runs alone instead of deadlocking, a team of one runs
 * on the caller, and a restart with another size takes effect. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../llm/llm_team.h"
#include "../cb_check.h"

enum { MAXT = 8, STEPS = 20000, N_DYN = 5000 };

typedef struct {
    atomic_int ran[MAXT];   /* calls per tid in this step */
    atomic_int bad_nt;      /* a thread saw another nt than the team's */
    int nt;
} step_t;

static void count_step(void *arg, int tid, int nt)
{
    step_t *s = arg;
    if (nt != s->nt || tid < 0 || tid >= nt)
        atomic_fetch_add(&s->bad_nt, 1);
    else
        atomic_fetch_add(&s->ran[tid], 1);
}

/* STEPS steps in a row, each checked: every tid once, none twice. */
static void back_to_back(int nt)
{
    int missing = 0, bad = 0;
    for (int k = 0; k < STEPS; k++) {
        step_t s;
        memset(&s, 0, sizeof s);
        s.nt = nt;
        llm_team_run(count_step, &s);
        for (int t = 0; t < nt; t++)
            missing += atomic_load(&s.ran[t]) != 1;
        bad += atomic_load(&s.bad_nt);
    }
    CHECK(missing == 0);
    CHECK(bad == 0);
}

static atomic_int hits[N_DYN];
static atomic_int dyn_bad_tid;
static void dyn_item(void *arg, int64_t i, int tid)
{
    const int nt = *(const int *)arg;
    if (tid < 0 || tid >= nt)
        atomic_fetch_add(&dyn_bad_tid, 1);
    atomic_fetch_add(&hits[i], 1);
}

static void dynamic_once(int nt)
{
    for (int n = 0; n <= N_DYN; n = n ? n * 3 : 1) {
        for (int i = 0; i < N_DYN; i++)
            atomic_store(&hits[i], 0);
        llm_team_dynamic(n, dyn_item, &nt);
        int wrong = 0;
        for (int i = 0; i < N_DYN; i++)
            wrong += atomic_load(&hits[i]) != (i < n);
        CHECK(wrong == 0);
    }
    CHECK(atomic_load(&dyn_bad_tid) == 0);
}

/* Barriers: phase p's writes are all seen by every thread after barrier p. */
typedef struct {
    atomic_int slot[MAXT];
    atomic_int wrong;
} bar_t;

static void bar_step(void *arg, int tid, int nt)
{
    bar_t *b = arg;
    for (int p = 1; p <= 200; p++) {
        atomic_store(&b->slot[tid], p);
        llm_team_barrier(tid);
        for (int t = 0; t < nt; t++)
            if (atomic_load(&b->slot[t]) < p)
                atomic_fetch_add(&b->wrong, 1);
        llm_team_barrier(tid);
    }
}

/* A team step that calls the team again: the inner call runs alone. */
static atomic_int inner_alone, inner_other;
static void inner_step(void *arg, int tid, int nt)
{
    (void)arg;
    if (tid == 0 && nt == 1)
        atomic_fetch_add(&inner_alone, 1);
    else
        atomic_fetch_add(&inner_other, 1);
}
static void outer_step(void *arg, int tid, int nt)
{
    (void)arg, (void)tid, (void)nt;
    llm_team_run(inner_step, NULL);
}

static void one_team(int nt, llm_wait_t wait)
{
    CHECK(llm_team_start(nt, wait, 1) == CB_OK);
    CHECK(llm_team_size() == nt);
    CHECK(llm_team_wait() == (wait == LLM_WAIT_PASSIVE ? LLM_WAIT_PASSIVE : LLM_WAIT_ACTIVE) ||
          wait == LLM_WAIT_AUTO);
    back_to_back(nt);
    dynamic_once(nt);
    bar_t b;
    memset(&b, 0, sizeof b);
    llm_team_run(bar_step, &b);
    CHECK(atomic_load(&b.wrong) == 0);
    atomic_store(&inner_alone, 0);
    atomic_store(&inner_other, 0);
    llm_team_run(outer_step, NULL);
    CHECK(atomic_load(&inner_alone) == nt); /* each of the nt threads ran the inner step alone */
    CHECK(atomic_load(&inner_other) == 0);
    fprintf(stderr, "team of %d, %s: %d steps, dynamic, barriers, nesting: ok\n", nt, llm_team_wait_name(), STEPS);
}

int main(void)
{
    unsetenv("LLM_WAIT"); /* the policies under test, not the environment's */
    one_team(1, LLM_WAIT_ACTIVE);
    one_team(2, LLM_WAIT_ACTIVE);
    one_team(2, LLM_WAIT_PASSIVE);
    one_team(4, LLM_WAIT_PASSIVE);  /* more threads than this machine's cores */
    one_team(3, LLM_WAIT_ACTIVE);
    /* auto: passive when ranks x threads exceed the cores online */
    CHECK(llm_team_start(2, LLM_WAIT_AUTO, 1 << 16) == CB_OK);
    CHECK(llm_team_wait() == LLM_WAIT_PASSIVE);
    CHECK(llm_team_start(1, LLM_WAIT_AUTO, 1) == CB_OK);
    CHECK(llm_team_wait() == LLM_WAIT_ACTIVE);
    /* the environment overrides the option */
    setenv("LLM_WAIT", "passive", 1);
    CHECK(llm_team_start(2, LLM_WAIT_ACTIVE, 1) == CB_OK);
    CHECK(llm_team_wait() == LLM_WAIT_PASSIVE);
    unsetenv("LLM_WAIT");
    llm_team_stop();
    return cb_check_exit();
}
