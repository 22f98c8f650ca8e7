/* Timers and statistics over samples. */
#ifndef CB_STATS_H
#define CB_STATS_H

#include <stddef.h>
#include "cb_status.h"

/* Seconds from an arbitrary origin, monotonic, ns resolution. Local. */
double cb_now(void);

typedef struct {
    size_t n;      /* number of samples */
    double min;
    double max;
    double mean;
    double sd;     /* sample standard deviation (n - 1); 0 when n < 2 */
    double p50;    /* median */
    double p90;
    double p99;
} cb_stats_t;

/* Statistics of samples[0..n). Percentiles by linear interpolation between
 * closest ranks (p = q (n - 1)), as numpy's default. `samples` is not
 * modified; a copy is sorted. n == 0 gives all zeros. Returns CB_ERR_NOMEM
 * only when the copy cannot be allocated. Local. */
cb_status_t cb_stats_compute(const double *samples, size_t n, cb_stats_t *stats_p);

/* Percentile q in [0, 1] of already sorted samples[0..n). Local. */
double cb_percentile_sorted(const double *sorted, size_t n, double q);

#endif
