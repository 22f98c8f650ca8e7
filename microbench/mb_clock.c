/* The clock every iteration is timed with. A ping-pong over shared memory
 * lasts about 0.1 us, where clock_gettime's own cost (20-100 ns in a VM)
 * would be a large part of the figure; the time-stamp counter costs a few
 * ns. By default it is used when the CPU says it is invariant (constant_tsc
 * and nonstop_tsc), calibrated against CLOCK_MONOTONIC; else cb_now().
 * --timer clock and --timer wtime take CLOCK_MONOTONIC or MPI_Wtime (OSU's
 * clock) instead, so that a comparison with OSU can time alike: a clock's
 * own cost is part of every timed iteration. */
#include "mb.h"

#include <stdio.h>
#include <string.h>

uint64_t mb_tsc_start;
double mb_tsc_seconds_per_tick; /* 0: no TSC, mb_now() is cb_now() or MPI_Wtime() */
int mb_timer_wtime;

/* Both flags on the first "flags" line of /proc/cpuinfo. Local. */
static int tsc_invariant(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int ok = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) == 0) {
            ok = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc");
            break;
        }
    }
    fclose(f);
    return ok;
}

void mb_clock_init(mb_timer_t timer, char *desc, size_t len)
{
    mb_tsc_seconds_per_tick = 0;
    mb_timer_wtime = timer == MB_TIMER_WTIME;
    if (timer == MB_TIMER_WTIME) {
        snprintf(desc, len, "MPI_Wtime (resolution %.3g s)", MPI_Wtick());
        return;
    }
#if MB_HAVE_TSC
    if (timer == MB_TIMER_AUTO && tsc_invariant()) {
        /* 20 ms of both clocks: 1 ns in 20 ms is 5e-8 relative. */
        double t0 = cb_now();
        uint64_t c0 = __rdtsc();
        double t1;
        do
            t1 = cb_now();
        while (t1 - t0 < 0.02);
        uint64_t c1 = __rdtsc();
        if (c1 > c0) {
            mb_tsc_seconds_per_tick = (t1 - t0) / (double)(c1 - c0);
            mb_tsc_start = c1;
            snprintf(desc, len, "TSC at %.3f GHz, calibrated against CLOCK_MONOTONIC",
                     1e-9 / mb_tsc_seconds_per_tick);
            return;
        }
    }
#endif
    snprintf(desc, len, "CLOCK_MONOTONIC");
}
