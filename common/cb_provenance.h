/* Provenance: what a run ran on, to reproduce and compare it. */
#ifndef CB_PROVENANCE_H
#define CB_PROVENANCE_H

#include <mpi.h>
#include <stdint.h>
#include "cb_status.h"

#define CB_PROV_STR 256

/* One host of the run: what /hosts holds, one row per distinct host name. */
typedef struct {
    char host[64];
    char cpu_model[128];            /* /proc/cpuinfo "model name" */
    int32_t n_cores;                /* physical cores (distinct package and core ids) */
    int32_t n_pus;                  /* logical CPUs online (hardware threads) */
    int64_t mem_total_B;            /* MemTotal */
    char nics[512];                 /* "eth0 10000Mb/s up; mlx5_0 port 1 100 Gb/sec ACTIVE"; no loopback */
    char os[96];                    /* /etc/os-release PRETTY_NAME */
    char kernel[96];                /* uname -r and -m */
} cb_host_info_t;

typedef struct {
    char version[64];               /* clusterbench git describe */
    char mpi_library[CB_PROV_STR];  /* first line of MPI_Get_library_version */
    char mpi_pml[64];               /* PML in use (ucx, ob1, cm), from the loaded components */
    char ucx_version[64];           /* ucp_get_version_string() */
    char ucx_transports[1024];      /* the lanes UCX chose for the PML's endpoints (all ranks), else the request */
    char blas[CB_PROV_STR];         /* BLAS build and the core type it runs on */
    char blas_coretype[64];         /* e.g. Haswell, SkylakeX */
    char hdf5_version[32];
    char compiler[128];
    char cpu_model[CB_PROV_STR];
    char blas_library[CB_PROV_STR]; /* path of the BLAS shared object loaded (after symlinks) */
    char os[96];                    /* rank 0's; each host's in hosts[] */
    char kernel[96];
    cb_host_info_t *hosts;          /* rank 0: one per distinct host, in rank order; NULL elsewhere */
    int n_hosts;                    /* entries in hosts (rank 0), else 0 */
    int n_ranks;
    int n_nodes;
    int threads_per_rank;           /* OMP_NUM_THREADS, else the BLAS's thread count, else 1 */
} cb_provenance_t;

/* Fill `prov`. Collective over `comm`: counts hosts, gathers each host's
 * description and the UCX lanes every rank's PML endpoints use (after one
 * MPI_Alltoall, so that every pair of ranks is connected) to rank 0. Free with
 * cb_provenance_free. */
cb_status_t cb_provenance_collect(MPI_Comm comm, cb_provenance_t *prov);

/* Free what cb_provenance_collect allocated (hosts). Local. */
void cb_provenance_free(cb_provenance_t *prov);

/* This machine's description (host name from cb_hostname). Local. */
void cb_host_info(cb_host_info_t *info);

/* The BLAS core type string alone ("Haswell"), or "unknown". Local. */
const char *cb_blas_coretype(void);

/* 1 when the CPU has AVX-512 and the BLAS runs kernels without it (an
 * OpenBLAS core type such as Haswell: about half the DGEMM/SGEMM rate), 0
 * otherwise or when unknown. With 1, `fix` gets what to do about it: unset
 * or change an OPENBLAS_CORETYPE the environment sets, or set SkylakeX. Local. */
int cb_blas_skips_avx512(char *fix, size_t len);

/* This process's CPU binding as a list ("0-1", "3"), into buf. Local. */
const char *cb_cpu_binding(char *buf, size_t buflen);

#endif
