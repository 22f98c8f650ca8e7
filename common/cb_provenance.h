/* Provenance: what a run ran on, to reproduce and compare it. */
#ifndef CB_PROVENANCE_H
#define CB_PROVENANCE_H

#include <mpi.h>
#include "cb_status.h"

#define CB_PROV_STR 256

typedef struct {
    char version[64];               /* clusterbench git describe */
    char mpi_library[CB_PROV_STR];  /* first line of MPI_Get_library_version */
    char mpi_pml[64];               /* PML in use (ucx, ob1, cm), from the loaded components */
    char ucx_version[64];           /* ucp_get_version_string() */
    char ucx_transports[CB_PROV_STR]; /* UCX_TLS / pml_ucx_tls as requested; programs refine */
    char blas[CB_PROV_STR];         /* BLAS build and the core type it runs on */
    char blas_coretype[64];         /* e.g. Haswell, SkylakeX */
    char hdf5_version[32];
    char compiler[128];
    char cpu_model[CB_PROV_STR];
    int n_ranks;
    int n_nodes;
    int threads_per_rank;           /* OMP_NUM_THREADS, else the BLAS's thread count, else 1 */
} cb_provenance_t;

/* Fill `prov`. Collective over `comm` (counts hosts). */
cb_status_t cb_provenance_collect(MPI_Comm comm, cb_provenance_t *prov);

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
