/* Statistics against values computed by hand. */
#include "cb.h"
#include "../cb_check.h"

int main(void)
{
    cb_stats_t s;
    /* 1..10: mean 5.5, sample sd sqrt(82.5/9), median 5.5,
     * p90 at position 8.1 -> 9.1, p99 at 8.91 -> 9.91. */
    double v[10] = { 7, 3, 10, 1, 5, 9, 2, 8, 6, 4 };
    double copy[10];
    memcpy(copy, v, sizeof v);
    CHECK(cb_stats_compute(v, 10, &s) == CB_OK);
    CHECK(s.n == 10);
    CHECK_NEAR(s.min, 1.0, 0);
    CHECK_NEAR(s.max, 10.0, 0);
    CHECK_NEAR(s.mean, 5.5, 1e-15);
    CHECK_NEAR(s.sd, sqrt(82.5 / 9.0), 1e-15);
    CHECK_NEAR(s.p50, 5.5, 1e-15);
    CHECK_NEAR(s.p90, 9.1, 1e-12);
    CHECK_NEAR(s.p99, 9.91, 1e-12);
    CHECK(memcmp(v, copy, sizeof v) == 0); /* input untouched */

    /* One sample: everything is that sample, sd 0. */
    double one = 4.25;
    CHECK(cb_stats_compute(&one, 1, &s) == CB_OK);
    CHECK_NEAR(s.p99, 4.25, 0);
    CHECK_NEAR(s.sd, 0.0, 0);

    /* Empty: zeros, no crash. */
    CHECK(cb_stats_compute(NULL, 0, &s) == CB_OK);
    CHECK(s.n == 0 && s.mean == 0.0);

    /* Large offset: Welford keeps the variance exact where sum of squares would not. */
    double big[3] = { 1e9 + 1, 1e9 + 2, 1e9 + 3 };
    CHECK(cb_stats_compute(big, 3, &s) == CB_OK);
    CHECK_NEAR(s.sd, 1.0, 1e-9);

    /* Percentile of sorted data at the ends. */
    double sorted[4] = { 1, 2, 3, 4 };
    CHECK_NEAR(cb_percentile_sorted(sorted, 4, 0.0), 1.0, 0);
    CHECK_NEAR(cb_percentile_sorted(sorted, 4, 1.0), 4.0, 0);
    CHECK_NEAR(cb_percentile_sorted(sorted, 4, 0.5), 2.5, 0);

    /* The clock moves forward. */
    double t0 = cb_now(), t1 = cb_now();
    CHECK(t1 >= t0);
    return cb_check_exit();
}
