/* Minimal assertions for the C unit tests: count failures, report them with
 * their line, and exit 1 at the end if any failed. */
#ifndef CB_CHECK_H
#define CB_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int cb_check_failures = 0;

static inline void cb_check_report(int ok, const char *expr, const char *file, int line)
{
    if (!ok) {
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, expr);
        cb_check_failures++;
    }
}

static inline void cb_check_near(double got, double want, double tol, const char *expr, const char *file, int line)
{
    if (!(fabs(got - want) <= tol * (1.0 + fabs(want)))) {
        fprintf(stderr, "FAIL %s:%d: %s: got %.17g, want %.17g\n", file, line, expr, got, want);
        cb_check_failures++;
    }
}

/* Macros only to capture the expression's text and line. */
#define CHECK(cond) cb_check_report(!!(cond), #cond, __FILE__, __LINE__)
#define CHECK_NEAR(got, want, tol) cb_check_near((got), (want), (tol), #got, __FILE__, __LINE__)
#define CHECK_STR(got, want) cb_check_report(strcmp((got), (want)) == 0, #got " == " #want, __FILE__, __LINE__)

static inline int cb_check_exit(void)
{
    if (cb_check_failures)
        fprintf(stderr, "%d check(s) failed\n", cb_check_failures);
    return cb_check_failures ? 1 : 0;
}

#endif
