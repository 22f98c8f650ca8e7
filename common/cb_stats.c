/* Timers and statistics over samples. */
#include "cb_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double cb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cb_percentile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    if (q <= 0.0)
        return sorted[0];
    if (q >= 1.0)
        return sorted[n - 1];
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    double frac = pos - (double)lo;
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

cb_status_t cb_stats_compute(const double *samples, size_t n, cb_stats_t *stats_p)
{
    cb_stats_t s;
    memset(&s, 0, sizeof s);
    s.n = n;
    if (n == 0) {
        *stats_p = s;
        return CB_OK;
    }
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        cb_error("cannot allocate statistics of %zu samples", n);
        return CB_ERR_NOMEM;
    }
    memcpy(sorted, samples, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_double);

    /* Mean and variance in one pass, Welford's way, for stability. */
    double mean = 0.0, m2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double delta = sorted[i] - mean;
        mean += delta / (double)(i + 1);
        m2 += delta * (sorted[i] - mean);
    }
    s.min = sorted[0];
    s.max = sorted[n - 1];
    s.mean = mean;
    s.sd = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
    s.p50 = cb_percentile_sorted(sorted, n, 0.50);
    s.p90 = cb_percentile_sorted(sorted, n, 0.90);
    s.p99 = cb_percentile_sorted(sorted, n, 0.99);
    free(sorted);
    *stats_p = s;
    return CB_OK;
}
