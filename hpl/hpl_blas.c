/* The BLAS hpl runs on: a short DGEMM self-test on every rank at once of the
 * DGEMM the run uses (hpl_gemm: the BLAS's or the own; the rate the run is
 * judged against), the core type OpenBLAS chose, and a
 * warning with the fix when that is far under what the CPU's vector units
 * allow (an OPENBLAS_CORETYPE=Haswell left in the environment of an AVX-512
 * machine halves it; so does a BLAS too old to know the CPU). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "hpl.h"

#define ST_M 1024
#define ST_K 256

/* DP flops per cycle per core from the vector extensions, assuming two FMA
 * pipes; 0 if unknown. */
static double cpu_flops_per_cycle(double *mhz_p)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    double fpc = 0.0, mhz = 0.0;
    if (f == NULL) return 0.0;
    while (fgets(line, sizeof(line), f)) {
        if (mhz == 0.0 && strncmp(line, "cpu MHz", 7) == 0) {
            const char *c = strchr(line, ':');
            if (c) mhz = atof(c + 1);
        }
        if (fpc == 0.0 && strncmp(line, "flags", 5) == 0) {
            if (strstr(line, " avx512f")) fpc = 32.0;
            else if (strstr(line, " avx2") && strstr(line, " fma")) fpc = 16.0;
            else if (strstr(line, " avx")) fpc = 8.0;
            else fpc = 4.0;
        }
    }
    fclose(f);
    *mhz_p = mhz;
    return fpc;
}

cb_status_t hpl_blas_selftest(MPI_Comm comm, double seconds, hpl_blas_info_t *info)
{
    cb_status_t st;
    double *a = NULL, *b = NULL, *c = NULL;
    memset(info, 0, sizeof(*info));
    snprintf(info->coretype, sizeof(info->coretype), "%s", cb_blas_coretype());

    a = cb_alloc((size_t)ST_M * ST_K * sizeof(double), 0, "DGEMM test A");
    b = cb_alloc((size_t)ST_K * ST_M * sizeof(double), 0, "DGEMM test B");
    c = cb_alloc((size_t)ST_M * ST_M * sizeof(double), 1, "DGEMM test C");
    st = cb_agree(a && b && c ? CB_OK : CB_ERR_NOMEM, comm);
    if (st != CB_OK) goto out;
    for (size_t i = 0; i < (size_t)ST_M * ST_K; i++) {
        a[i] = (double)(i % 17) * 0.01 - 0.08;
        b[i] = (double)(i % 13) * 0.01 - 0.06;
    }
    /* warm up (threads, pages), then run for `seconds`, every rank together */
    hpl_gemm(0, ST_M, ST_M, ST_K, -1.0, a, ST_M, b, ST_K, c, ST_M);
    if ((st = CB_MPI(MPI_Barrier(comm))) != CB_OK) goto out;
    double t0 = cb_now(), el;
    int reps = 0;
    do {
        hpl_gemm(0, ST_M, ST_M, ST_K, -1.0, a, ST_M, b, ST_K, c, ST_M);
        reps++;
        el = cb_now() - t0;
    } while (el < seconds && reps < 1000);
    info->gflops_rank = 2.0 * ST_M * ST_M * ST_K * reps / el * 1e-9;

    MPI_Comm host;
    if ((st = CB_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &host))) != CB_OK) goto out;
    double node = 0.0;
    st = CB_MPI(MPI_Allreduce(&info->gflops_rank, &node, 1, MPI_DOUBLE, MPI_SUM, host));
    MPI_Comm_free(&host);
    if (st == CB_OK) st = CB_MPI(MPI_Allreduce(&node, &info->gflops_node, 1, MPI_DOUBLE, MPI_MAX, comm));
    if (st == CB_OK) st = CB_MPI(MPI_Allreduce(&info->gflops_rank, &info->gflops_total, 1, MPI_DOUBLE, MPI_SUM, comm));
    if (st != CB_OK) goto out;

    double mhz = 0.0;
    double fpc = cpu_flops_per_cycle(&mhz);
    info->peak_core = fpc * mhz * 1e-3;
    int threads = 1, own = hpl_dgemm_own_in_use();
    const char *e = getenv("OPENBLAS_NUM_THREADS");
    if (!own && e && atoi(e) > 0) threads = atoi(e);
    double per_thread = info->gflops_rank / threads;
    char fix[160];
    if (own && info->peak_core > 0 && per_thread < 0.5 * info->peak_core)
        cb_warn_root("the own DGEMM (%s) reaches %.1f Gflops per rank, under half of the %.1f the vector units "
                     "allow at %.0f MHz: check the CPU binding and the load", hpl_dgemm_isa_name(), per_thread,
                     info->peak_core, mhz);
    else if (own)
        ;   /* the BLAS's core type does not matter to it */
    else if (cb_blas_skips_avx512(fix, sizeof fix))
        cb_warn_root("the BLAS runs its %s kernels on a CPU with AVX-512 (DGEMM %.1f Gflops per rank): %s, "
                     "for about twice that (or --dgemm own)", info->coretype, info->gflops_rank, fix);
    else if (info->peak_core > 0 && per_thread < 0.5 * info->peak_core)
        cb_warn_root("DGEMM reaches %.1f Gflops per thread, under half of the %.1f the vector units allow at "
                     "%.0f MHz: check the BLAS (core type %s, OPENBLAS_CORETYPE) and the CPU binding",
                     per_thread, info->peak_core, mhz, info->coretype);
out:
    cb_free(c);
    cb_free(b);
    cb_free(a);
    return st;
}
