/* Provenance: the MPI library and PML in use, UCX, BLAS, HDF5, compiler, CPU. */
#define _GNU_SOURCE
#include "cb_provenance.h"

#include <cblas.h>
#include <ctype.h>
#include <link.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <ucp/api/ucp.h>

#include "config.h"
#include "cb_mpi.h"
#include "cb_version.h"

#ifdef HAVE_OPENBLAS_GET_CONFIG
char *openblas_get_config(void);
#endif
#ifdef HAVE_OPENBLAS_GET_CORENAME
char *openblas_get_corename(void);
#endif
#ifdef HAVE_OPENBLAS_GET_NUM_THREADS
int openblas_get_num_threads(void);
#endif

/* ------------------------------------------------------------ MPI PML */

/* Open MPI loads its components as shared objects and unloads the ones it did
 * not select, so the mca_pml_* object still mapped after MPI_Init is the PML
 * in use. */
struct pml_search {
    char name[64];
};

static int find_pml(struct dl_phdr_info *info, size_t size, void *data)
{
    struct pml_search *search = data;
    const char *base = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
    base = base ? base + 1 : info->dlpi_name;
    if (base && strncmp(base, "mca_pml_", 8) == 0) {
        const char *end = strstr(base, ".so");
        size_t len = end ? (size_t)(end - base - 8) : strlen(base + 8);
        char this[64];
        snprintf(this, sizeof this, "%.*s", (int)len, base + 8);
        /* "monitoring" wraps the real PML: report the other one. */
        if (search->name[0] == '\0' || strcmp(search->name, "monitoring") == 0)
            snprintf(search->name, sizeof search->name, "%s", this);
    }
    return 0;
}

static void detect_pml(char *buf, size_t len)
{
    struct pml_search search = { "" };
    dl_iterate_phdr(find_pml, &search);
    if (search.name[0])
        snprintf(buf, len, "%s", search.name);
    else {
        /* Statically linked or not Open MPI: report what was asked for. */
        const char *asked = getenv("OMPI_MCA_pml");
        snprintf(buf, len, "%s", asked ? asked : "unknown");
    }
}

/* ------------------------------------------------------------ small readers */

static void read_cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(buf, len, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

const char *cb_blas_coretype(void)
{
#ifdef HAVE_OPENBLAS_GET_CORENAME
    const char *core = openblas_get_corename();
    if (core && core[0])
        return core;
#endif
    return "unknown";
}

int cb_blas_skips_avx512(char *fix, size_t len)
{
    /* OpenBLAS core types whose kernels use AVX-512 */
    static const char *const wide[] = { "skylakex", "cooperlake", "sapphirerapids", "zen4", "zen5", NULL };
    const char *core = cb_blas_coretype();
    char lower[64];
    size_t i;
    if (strcmp(core, "unknown") == 0)
        return 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        return 0;
#else
    return 0;
#endif
    for (i = 0; core[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)tolower((unsigned char)core[i]);
    lower[i] = '\0';
    for (int k = 0; wide[k]; k++)
        if (strstr(lower, wide[k]))
            return 0;
    const char *forced = getenv("OPENBLAS_CORETYPE");
    if (forced && forced[0])
        snprintf(fix, len, "the environment sets OPENBLAS_CORETYPE=%s: unset it, or set SkylakeX", forced);
    else
        snprintf(fix, len, "set OPENBLAS_CORETYPE=SkylakeX (or use a BLAS that knows this CPU)");
    return 1;
}

const char *cb_cpu_binding(char *buf, size_t buflen)
{
    snprintf(buf, buflen, "unknown");
#ifdef HAVE_SCHED_GETAFFINITY
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return buf;
    size_t used = 0;
    buf[0] = '\0';
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set))
            continue;
        int last = cpu;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
            last++;
        int n = last == cpu ? snprintf(buf + used, buflen - used, "%s%d", used ? "," : "", cpu)
                            : snprintf(buf + used, buflen - used, "%s%d-%d", used ? "," : "", cpu, last);
        if (n < 0 || (size_t)n >= buflen - used)
            break;
        used += (size_t)n;
        cpu = last;
    }
#endif
    return buf;
}

static void requested_transports(const char *pml, char *buf, size_t len)
{
    if (strcmp(pml, "ucx") != 0) {
        snprintf(buf, len, "none (pml %s)", pml);
        return;
    }
    const char *tls = getenv("UCX_TLS");
    const char *pml_tls = getenv("OMPI_MCA_pml_ucx_tls");
    snprintf(buf, len, "%s", tls ? tls : pml_tls ? pml_tls : "default");
}

/* ------------------------------------------------------------ collect */

cb_status_t cb_provenance_collect(MPI_Comm comm, cb_provenance_t *prov)
{
    memset(prov, 0, sizeof *prov);
    snprintf(prov->version, sizeof prov->version, "%s", CB_VERSION);

    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(lib, &len) == MPI_SUCCESS) {
        lib[strcspn(lib, "\n,")] = '\0';
        snprintf(prov->mpi_library, sizeof prov->mpi_library, "%s", lib);
    } else
        snprintf(prov->mpi_library, sizeof prov->mpi_library, "unknown");
    detect_pml(prov->mpi_pml, sizeof prov->mpi_pml);
    snprintf(prov->ucx_version, sizeof prov->ucx_version, "%s", ucp_get_version_string());
    requested_transports(prov->mpi_pml, prov->ucx_transports, sizeof prov->ucx_transports);

    snprintf(prov->blas_coretype, sizeof prov->blas_coretype, "%s", cb_blas_coretype());
#ifdef HAVE_OPENBLAS_GET_CONFIG
    snprintf(prov->blas, sizeof prov->blas, "%s (core %s)", openblas_get_config(), prov->blas_coretype);
#else
    snprintf(prov->blas, sizeof prov->blas, "cblas (unknown build)");
#endif
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(prov->hdf5_version, sizeof prov->hdf5_version, "%u.%u.%u", maj, min, rel);
#if defined(__clang__)
    snprintf(prov->compiler, sizeof prov->compiler, "clang %s", __clang_version__);
#elif defined(__GNUC__)
    snprintf(prov->compiler, sizeof prov->compiler, "gcc %s", __VERSION__);
#else
    snprintf(prov->compiler, sizeof prov->compiler, "unknown");
#endif
    read_cpu_model(prov->cpu_model, sizeof prov->cpu_model);

    MPI_Comm_size(comm, &prov->n_ranks);
    const char *omp = getenv("OMP_NUM_THREADS");
    prov->threads_per_rank = omp ? atoi(omp) : 0;
#ifdef HAVE_OPENBLAS_GET_NUM_THREADS
    if (prov->threads_per_rank <= 0)
        prov->threads_per_rank = openblas_get_num_threads();
#endif
    if (prov->threads_per_rank <= 0)
        prov->threads_per_rank = 1;
    return cb_mpi_hosts(comm, &prov->n_nodes, NULL, NULL);
}
