/* Provenance: the MPI library and PML in use, the UCX lanes its endpoints really
 * use, BLAS (and the library file), HDF5, compiler, and each host's CPU, cores,
 * memory, NICs, OS and kernel. */
#define _GNU_SOURCE
#include "cb_provenance.h"

#include <cblas.h>
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <hdf5.h>
#include <ucp/api/ucp.h>
#include <ucs/config/global_opts.h>
#include <ucs/debug/log_def.h>

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

/* ------------------------------------------------------------ UCX lanes in use */

/* UCX says which transports an endpoint's lanes use only in an info-level log line,
 * "ep_cfg[N]: tag(posix/memory cma/memory); ", printed when an endpoint
 * configuration is first made (for Open MPI's PML, inside MPI_Init or at a first
 * message). A log handler installed at load time, before MPI_Init, keeps those
 * lines; the level is raised to info for them, and every message below the level
 * the user asked for (UCX_LOG_LEVEL, default warn) is dropped as before. */
static pthread_mutex_t ucx_seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char ucx_seen[1024];            /* distinct descriptions, " | " between */
static ucs_log_level_t ucx_user_level = UCS_LOG_LEVEL_WARN;
static int ucx_tap_on;

static void ucx_seen_add(const char *desc)
{
    size_t n = strlen(desc);
    while (n > 0 && (desc[n - 1] == ' ' || desc[n - 1] == ';'))
        n--;                           /* "tag(...); " ends with a separator */
    if (n == 0)
        return;
    pthread_mutex_lock(&ucx_seen_lock);
    char item[512];
    snprintf(item, sizeof item, "%.*s", (int)n, desc);
    const char *hit = strstr(ucx_seen, item);
    size_t k = strlen(item);
    int dup = 0;
    while (hit && !dup) {
        dup = (hit == ucx_seen || (hit - ucx_seen >= 2 && hit[-1] == ' ' && hit[-2] == '|')) &&
              (hit[k] == '\0' || (hit[k] == ' ' && hit[k + 1] == '|'));
        hit = strstr(hit + 1, item);
    }
    size_t used = strlen(ucx_seen);
    if (!dup && used + k + 4 < sizeof ucx_seen)
        snprintf(ucx_seen + used, sizeof ucx_seen - used, "%s%s", used ? " | " : "", item);
    pthread_mutex_unlock(&ucx_seen_lock);
}

static ucs_log_func_rc_t ucx_tap(const char *file, unsigned line, const char *function,
                                 ucs_log_level_t level, const ucs_log_component_config_t *comp,
                                 const char *format, va_list ap)
{
    (void)file; (void)line; (void)function; (void)comp;
    if (level == UCS_LOG_LEVEL_INFO) {
        char msg[512];
        va_list copy;
        va_copy(copy, ap);
        vsnprintf(msg, sizeof msg, format, copy);
        va_end(copy);
        const char *cfg = strstr(msg, "ep_cfg[");
        const char *colon = cfg ? strstr(cfg, "]: ") : NULL;
        if (colon)
            ucx_seen_add(colon + 3);
    }
    return level > ucx_user_level ? UCS_LOG_FUNC_RC_STOP : UCS_LOG_FUNC_RC_CONTINUE;
}

/* Runs when the program is loaded, after libucs has read its configuration. */
__attribute__((constructor)) static void ucx_tap_install(void)
{
    const char *off = getenv("CLUSTERBENCH_UCX_TAP");
    if (off && strcmp(off, "0") == 0)
        return;
    ucx_user_level = ucs_global_opts.log_component.log_level;
    ucs_log_push_handler(ucx_tap);
    if (ucs_global_opts.log_component.log_level < UCS_LOG_LEVEL_INFO)
        ucs_global_opts.log_component.log_level = UCS_LOG_LEVEL_INFO;
    ucx_tap_on = 1;
}

/* The transports of the PML's endpoints on every rank, into prov->ucx_transports
 * on rank 0. Collective: one MPI_Alltoall first connects every pair of ranks. */
static void gather_ucx_lanes(MPI_Comm comm, cb_provenance_t *prov)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int *ping = calloc((size_t)size * 2, sizeof *ping);
    if (ping)
        MPI_Alltoall(ping, 1, MPI_INT, ping + size, 1, MPI_INT, comm);
    free(ping);
    char mine[sizeof ucx_seen];
    pthread_mutex_lock(&ucx_seen_lock);
    memcpy(mine, ucx_seen, sizeof mine);
    pthread_mutex_unlock(&ucx_seen_lock);
    char *all = rank == 0 ? calloc((size_t)size, sizeof mine) : NULL;
    int ok = rank != 0 || all != NULL;
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
    if (!ok)
        return;
    MPI_Gather(mine, (int)sizeof mine, MPI_CHAR, all, (int)sizeof mine, MPI_CHAR, 0, comm);
    if (rank != 0)
        return;
    /* Distinct descriptions over all ranks, in rank order. */
    pthread_mutex_lock(&ucx_seen_lock);
    ucx_seen[0] = '\0';
    pthread_mutex_unlock(&ucx_seen_lock);
    for (int r = 0; r < size; r++) {
        char *one = all + (size_t)r * sizeof mine;
        one[sizeof mine - 1] = '\0';
        for (char *item = strtok(one, "|"); item; item = strtok(NULL, "|")) {
            while (*item == ' ')
                item++;
            ucx_seen_add(item);
        }
    }
    if (ucx_seen[0])
        snprintf(prov->ucx_transports, sizeof prov->ucx_transports, "%s", ucx_seen);
    free(all);
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
    snprintf(buf, len, "%s (requested; UCX did not report its choice)",
             tls ? tls : pml_tls ? pml_tls : "default");
}

/* The file the BLAS symbols come from, symlinks resolved (libopenblas.so.0 ->
 * /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0). */
static void blas_library(char *buf, size_t len)
{
    Dl_info info;
    snprintf(buf, len, "unknown");
    if (dladdr((void *)cblas_dgemm, &info) && info.dli_fname) {
        char real[PATH_MAX];
        const char *path = realpath(info.dli_fname, real) ? real : info.dli_fname;
        snprintf(buf, len, "%.*s", (int)len - 1, path);
    }
}

/* ------------------------------------------------------------ the host */

/* First line of a small file, without its newline; "" when unreadable. */
static void read_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(buf, (int)len, f))
        buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static void read_os(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/etc/os-release", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
            char *v = line + 12;
            v[strcspn(v, "\n")] = '\0';
            size_t n = strlen(v);
            if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
                v[n - 1] = '\0';
                v++;
            }
            snprintf(buf, len, "%.*s", (int)len - 1, v);
            break;
        }
    }
    fclose(f);
}

/* Physical cores: distinct (package, core) pairs among the online CPUs. */
static int count_cores(int n_pus)
{
    int n = 0, cap = n_pus > 0 ? n_pus : 1;
    long *seen = calloc((size_t)cap, sizeof *seen);
    if (!seen)
        return n_pus;
    for (int cpu = 0; cpu < 4096 && n < cap; cpu++) {
        char path[128], v[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        read_line(path, v, sizeof v);
        if (!v[0])
            continue;
        long core = atol(v);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        read_line(path, v, sizeof v);
        long id = atol(v) * 100000 + core;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = seen[i] == id;
        if (!dup)
            seen[n++] = id;
    }
    free(seen);
    return n > 0 ? n : n_pus;
}

/* Network interfaces (not loopback) with speed and state, then RDMA devices. */
static void read_nics(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    DIR *d = opendir("/sys/class/net");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "lo") == 0)
            continue;
        char path[512], speed[32], state[32], dev[PATH_MAX];
        snprintf(path, sizeof path, "/sys/class/net/%s/speed", e->d_name);
        read_line(path, speed, sizeof speed);
        snprintf(path, sizeof path, "/sys/class/net/%s/operstate", e->d_name);
        read_line(path, state, sizeof state);
        snprintf(path, sizeof path, "/sys/class/net/%s/device", e->d_name);
        int physical = realpath(path, dev) != NULL;
        int n = snprintf(buf + used, len - used, "%s%s%s%s%s %s%s", used ? "; " : "", e->d_name,
                         speed[0] && speed[0] != '-' ? " " : "", speed[0] && speed[0] != '-' ? speed : "",
                         speed[0] && speed[0] != '-' ? "Mb/s" : "", state[0] ? state : "?",
                         physical ? "" : " virtual");
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    if (d)
        closedir(d);
    d = opendir("/sys/class/infiniband");
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512], rate[64], state[64];
        snprintf(path, sizeof path, "/sys/class/infiniband/%s/ports/1/rate", e->d_name);
        read_line(path, rate, sizeof rate);
        snprintf(path, sizeof path, "/sys/class/infiniband/%s/ports/1/state", e->d_name);
        read_line(path, state, sizeof state);
        int n = snprintf(buf + used, len - used, "%s%s port 1 %s %s", used ? "; " : "", e->d_name,
                         rate[0] ? rate : "?", state[0] ? state : "?");
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    if (d)
        closedir(d);
    if (!buf[0])
        snprintf(buf, len, "none");
}

void cb_host_info(cb_host_info_t *h)
{
    memset(h, 0, sizeof *h);
    snprintf(h->host, sizeof h->host, "%s", cb_hostname());
    read_cpu_model(h->cpu_model, sizeof h->cpu_model);
    long pus = sysconf(_SC_NPROCESSORS_ONLN);
    h->n_pus = pus > 0 ? (int32_t)pus : 1;
    h->n_cores = count_cores(h->n_pus);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    h->mem_total_B = pages > 0 && page > 0 ? (int64_t)pages * page : 0;
    read_nics(h->nics, sizeof h->nics);
    read_os(h->os, sizeof h->os);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(h->kernel, sizeof h->kernel, "%.16s %.56s %.16s", u.sysname, u.release, u.machine);
    else
        snprintf(h->kernel, sizeof h->kernel, "unknown");
}

/* Every rank's host description to rank 0, one per distinct host name. Collective. */
static cb_status_t gather_hosts(MPI_Comm comm, cb_provenance_t *prov)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    cb_host_info_t mine;
    cb_host_info(&mine);
    snprintf(prov->os, sizeof prov->os, "%s", mine.os);
    snprintf(prov->kernel, sizeof prov->kernel, "%s", mine.kernel);
    cb_host_info_t *all = rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
    cb_status_t st = cb_agree(rank == 0 && !all ? CB_ERR_NOMEM : CB_OK, comm);
    if (st != CB_OK) {
        free(all);
        return st;
    }
    st = CB_MPI(MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0, comm));
    if (rank != 0 || st != CB_OK) {
        free(all);
        return cb_agree(st, comm);
    }
    int n = 0;
    for (int r = 0; r < size; r++) {
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            dup = strcmp(all[i].host, all[r].host) == 0;
        if (!dup)
            all[n++] = all[r];
    }
    prov->hosts = all;
    prov->n_hosts = n;
    return cb_agree(CB_OK, comm);
}

void cb_provenance_free(cb_provenance_t *prov)
{
    if (!prov)
        return;
    free(prov->hosts);
    prov->hosts = NULL;
    prov->n_hosts = 0;
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
    /* Every rank takes part (the same branch: the PML is the same everywhere). */
    if (strcmp(prov->mpi_pml, "ucx") == 0 && ucx_tap_on)
        gather_ucx_lanes(comm, prov);
    blas_library(prov->blas_library, sizeof prov->blas_library);

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
    cb_status_t st = cb_mpi_hosts(comm, &prov->n_nodes, NULL, NULL);
    if (st == CB_OK)
        st = gather_hosts(comm, prov);
    return st;
}
