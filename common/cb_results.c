/* The results file of a run (HDF5, schema clusterbench/1) and its tables,
 * printed on stdout as rows are appended. Rank 0 owns the file.
 *
 * Interruption (cb_signal.h): at the first SIGINT/SIGTERM/SIGHUP the signal
 * thread waits for the HDF5 lock (so no HDF5 call is ever interrupted half-way)
 * and marks the file "interrupted" at once, flushed, in case the launcher's
 * SIGKILL follows; the program stops at its next loop point and closes the
 * file. At a second signal the thread closes the file itself before the
 * process ends. Every appended row was flushed when it was written. SIGPIPE
 * (a peer's TCP connection gone: it died) closes the file "failed", naming the
 * dead rank when this host can see it, before the process ends by it. */
#define _GNU_SOURCE
#include "cb_results.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "cb_mpi.h"
#include "cb_provenance.h"
#include "cb_signal.h"

#define CB_SCHEMA "clusterbench/1"
#define ROWS_PER_CHUNK 64
#define HOST_LEN 64
#define MAX_TABLES 64

struct cb_table {
    cb_results_t *results;
    hid_t dset;               /* the dataset; H5I_INVALID_HID on other ranks / no file */
    hid_t mtype;              /* compound type matching the row struct in memory */
    hsize_t n_rows;
    cb_column_t *columns;
    int n_columns;
    size_t row_size;
    int flags;
    int header_done;
    char name[128];           /* last path component, for csv/json */
};

struct cb_results {
    int rank;
    hid_t file;               /* H5I_INVALID_HID unless rank 0 with a file */
    char path[4096];
    cb_format_t format;
    cb_table_t *tables[MAX_TABLES];
    int n_tables;
    char reserve[4096 + 16];  /* "<path>.reserve": disk space held back for closing, "" if none */
    int reserve_fd;           /* the reserve, open and already unlinked; -1 if none */
    int broken;               /* a write failed (disk full): no more rows, the reserve released */
    int lock_fd;              /* rank 0: holds the writer lock on the file (see writer_lock); -1 if none */
    struct cb_peer *peers;    /* (n_ranks): every rank's pid, host and boot id, for the watchdog */
    int n_peers;
    int dead_rank;            /* the first peer found dead, -1 while none */
    MPI_Comm comm;            /* the ranks of the run (cb_results_open's) */
    pthread_t watchdog;
    int watchdog_running;
    volatile int watchdog_stop;
};

/* A rank as the watchdog sees it: a process it can look up in /proc when both
 * run under the same kernel (same boot id: one host, or emulated hosts). */
struct cb_peer {
    int64_t pid;
    char host[HOST_LEN];
    char boot_id[40];
};

/* ------------------------------------------------------------ disk-full reserve
 *
 * HDF5 1.10 cannot close a file whose final metadata write fails (a full
 * disk): the close fails, the file stays half-open, and the library crashes at
 * MPI_Finalize. So rank 0 holds RESERVE_BYTES of the disk in a file beside the
 * results (unlinked at once, held open); the first failed write releases it, and the file is then closed
 * readable with every row written before the fault and status "failed". A
 * disk without room for the reserve is refused up front. */
#define RESERVE_BYTES (2u << 20)

static int reserve_take(cb_results_t *r)
{
    snprintf(r->reserve, sizeof r->reserve, "%s.reserve", r->path);
    int fd = open(r->reserve, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    int err = posix_fallocate(fd, 0, RESERVE_BYTES);
    if (err == EOPNOTSUPP || err == EINVAL) {
        /* A file system without fallocate: write the bytes. */
        static const char zero[65536];
        err = 0;
        for (size_t done = 0; done < RESERVE_BYTES && !err; done += sizeof zero)
            if (write(fd, zero, sizeof zero) != (ssize_t)sizeof zero)
                err = errno ? errno : ENOSPC;
    }
    /* Held by the open descriptor alone: no name is left behind, even by a
     * writer killed with SIGKILL (the kernel frees the space at its exit). */
    unlink(r->reserve);
    if (err) {
        close(fd);
        r->reserve[0] = '\0';
        return err;
    }
    r->reserve_fd = fd;
    return 0;
}

static void reserve_release(cb_results_t *r)
{
    if (r->reserve[0]) {
        if (r->reserve_fd >= 0)
            close(r->reserve_fd);
        r->reserve_fd = -1;
        r->reserve[0] = '\0';
    }
}

/* A write to the file failed: say so once, stop writing rows, free the reserve
 * so that the close can succeed. Called with h5_lock held. */
static void results_broken(cb_results_t *r, const char *what)
{
    if (!r->broken)
        cb_error("cannot write %s to %s: %s (disk full?); the file keeps every row written before", what, r->path,
                 errno ? strerror(errno) : "HDF5 write failed");
    r->broken = 1;
    reserve_release(r);
}

/* ------------------------------------------------------------ HDF5 lock, signals */

static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;
static cb_results_t *active = NULL;      /* the open results of this process */
static void utc_now(char *buf, size_t len, int compact)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static herr_t write_attr_str(hid_t obj, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    herr_t rc = -1;
    hid_t attr;
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t space = H5Screate(H5S_SCALAR);
    attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0) {
        rc = H5Awrite(attr, type, &value);
        H5Aclose(attr);
    }
    H5Sclose(space);
    H5Tclose(type);
    return rc;
}

static herr_t write_attr_num(hid_t obj, const char *name, hid_t type, const void *value)
{
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = -1;
    if (attr >= 0) {
        rc = H5Awrite(attr, type, value);
        H5Aclose(attr);
    }
    H5Sclose(space);
    return rc;
}

/* Mark and close the file; called with h5_lock held. Returns 0, or -1 when a
 * write of the close itself failed (the disk filled at the very end): then the
 * one-line error is printed and the file, closed with the space held back for
 * it, keeps every row and says "failed" (or "interrupted") with the cause. */
static int finish_file(cb_results_t *r, const char *status)
{
    if (r->file < 0)
        return 0;
    int failed = 0;
    char now[32];
    utc_now(now, sizeof now, 0);
    write_attr_str(r->file, "finished_utc", now);
    if (r->dead_rank >= 0)
        status = "failed"; /* a rank died: the error attribute names it */
    write_attr_str(r->file, "status", r->broken && strcmp(status, "interrupted") != 0 ? "failed" : status);
    if (r->broken)
        write_attr_str(r->file, "error", "a write to the results file failed (disk full?): later rows are missing");
    for (int i = 0; i < r->n_tables; i++) {
        cb_table_t *t = r->tables[i];
        if (t->dset >= 0) {
            H5Dclose(t->dset);
            t->dset = H5I_INVALID_HID;
        }
        if (t->mtype >= 0) {
            H5Tclose(t->mtype);
            t->mtype = H5I_INVALID_HID;
        }
    }
    errno = 0;
    if (H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0 && r->reserve[0]) {
        /* The disk filled at the very end: free the reserve, say so in the file
         * (every row is in it: nothing before the close failed) and flush again. */
        int err = errno;
        reserve_release(r);
        failed = 1;
        if (!r->broken) {
            cb_error("cannot close %s: %s (disk full?); closed with the space held back for it, every row is kept",
                     r->path, err ? strerror(err) : "HDF5 could not write it");
            write_attr_str(r->file, "status", strcmp(status, "interrupted") == 0 ? "interrupted" : "failed");
            write_attr_str(r->file, "error", "the disk filled while the file was closed (disk full?): every row is kept");
        }
        if (H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
            cb_error("cannot close %s: the space held back for it was not enough; the file may not be readable",
                     r->path);
    }
    if (H5Fclose(r->file) < 0 && !failed) {
        cb_error("cannot close %s: HDF5 could not write it (disk full?)", r->path);
        failed = 1;
    }
    r->file = H5I_INVALID_HID;
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* the writer lock (writer_lock) */
    r->lock_fd = -1;
    reserve_release(r);
    return failed ? -1 : 0;
}

static int find_dead_peer(const cb_results_t *r);
static void mark_dead(cb_results_t *r, int dead);

/* SIGPIPE is about to end the process (cb_signal.h); h5_lock held. Over MPI's
 * TCP transport that is a write to a peer that died a moment ago: the socket
 * closes while the peer's exit is still under way, so its pid is gone from
 * /proc a few milliseconds later. Look for it for up to PIPE_LOOK_S and name
 * it; a peer this rank cannot see (another host), or a closed stdout, gets the
 * cause instead. Then close the file: nothing of the process runs after. */
#define PIPE_LOOK_S 0.5

static void on_broken_pipe(cb_results_t *r)
{
    int dead = -1;
    struct timespec step = { 0, 10 * 1000 * 1000 };
    for (int t = 0; r->n_peers > 1 && t < (int)(PIPE_LOOK_S * 100) && (dead = find_dead_peer(r)) < 0; t++)
        nanosleep(&step, NULL);
    if (dead >= 0) {
        mark_dead(r, dead);
    } else if (r->dead_rank < 0 && !r->broken) {
        if (write_attr_str(r->file, "status", "failed") < 0 ||
            write_attr_str(r->file, "error", "ended by SIGPIPE: a connection closed under the run (a rank on "
                                             "another host lost, or the output closed)") < 0 ||
            H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
            results_broken(r, "the failed status");
    }
    finish_file(r, "failed");
}

/* The signal thread's hook (cb_signal_set_hook): mark the file interrupted at
 * the first signal and keep it open; close it before an immediate end (a
 * second signal, or SIGPIPE: failed). */
static void on_stop_signal(int sig, int final)
{
    if (sig == SIGPIPE) {
        /* Timed: the thread that got it may hold the lock (a message on a closed
         * stderr); its handler waits CB_SIGPIPE_WAIT_S at most. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(CB_SIGPIPE_WAIT_S / 2);
        if (pthread_mutex_timedlock(&h5_lock, &until) != 0)
            return;
        if (active && active->file >= 0)
            on_broken_pipe(active);
        pthread_mutex_unlock(&h5_lock);
        return;
    }
    pthread_mutex_lock(&h5_lock);
    cb_results_t *r = active;
    int dead;
    if (r && r->file >= 0) {
        if (final) {
            finish_file(r, "interrupted");
            fflush(stdout);
            fprintf(stderr, "%s: interrupted by SIG%s; finished rows kept in %s\n", cb_program(),
                    sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", r->path);
        } else if (r->n_peers > 1 && (dead = find_dead_peer(r)) >= 0) {
            mark_dead(r, dead); /* the launcher ending the job because a rank died */
        } else if (!r->broken) {
            char name[16];
            snprintf(name, sizeof name, "SIG%s", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
            if (write_attr_str(r->file, "status", "interrupted") < 0 || write_attr_str(r->file, "signal", name) < 0 ||
                H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
                results_broken(r, "the interrupted status");
        }
    }
    pthread_mutex_unlock(&h5_lock);
}

/* ------------------------------------------------------------ writer lock
 *
 * While rank 0 writes the file it holds a POSIX write lock on one byte far past
 * its end (no HDF5 data there; HDF5's own locking is off, see create_file). The
 * lock dies with the process, so a reader that finds status "running" and the
 * byte unlocked knows the writer died (scripts/cbresults.py: "writer died");
 * writer_host and writer_pid say which process it was. */
#define WRITER_LOCK_OFFSET ((off_t)1 << 40)

static void writer_lock(cb_results_t *r)
{
    r->lock_fd = open(r->path, O_RDWR | O_CLOEXEC);
    if (r->lock_fd < 0)
        return;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = WRITER_LOCK_OFFSET, .l_len = 1 };
    if (fcntl(r->lock_fd, F_SETLK, &fl) != 0) {
        close(r->lock_fd);
        r->lock_fd = -1;
    }
}

/* ------------------------------------------------------------ dead-rank watchdog
 *
 * A rank killed with SIGKILL (or lost with its node) leaves the others waiting
 * in MPI. Each rank watches the peers it can see (pidfds, woken at a death;
 * else 5 looks a second in /proc)
 * (same boot id); the first dead one found makes rank 0 mark the file "failed",
 * naming the rank and host, and flush it. The launcher then normally ends the
 * job; if it has not within DEAD_GRACE_S, the watchdog closes the file and ends
 * the process itself, so that nothing is left running. A death after a stop
 * signal is the interruption at work, not a failure. */
#define DEAD_GRACE_S 10

static void boot_id(char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return;
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static int pid_alive(int64_t pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')'); /* "pid (comm) S ...": comm may hold spaces */
    return !(paren && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* The first peer this rank can see that is gone, or -1. */
static int find_dead_peer(const cb_results_t *r)
{
    char mine[40];
    boot_id(mine, sizeof mine);
    for (int i = 0; i < r->n_peers; i++) {
        const struct cb_peer *p = &r->peers[i];
        if (i == r->rank || !mine[0] || strcmp(p->boot_id, mine) != 0)
            continue;
        if (!pid_alive(p->pid))
            return i;
    }
    return -1;
}

/* Rank `dead` died: say so (rank 0, or rank 1 for rank 0) and, on rank 0, mark
 * the file failed, naming it. Once; h5_lock held. */
static void mark_dead(cb_results_t *r, int dead)
{
    if (r->dead_rank >= 0)
        return;
    r->dead_rank = dead;
    if (r->file >= 0 && !r->broken) { /* the file first: the launcher may end us any moment */
        char what[256];
        snprintf(what, sizeof what, "rank %d (host %s, pid %lld) died during the run", dead, r->peers[dead].host,
                 (long long)r->peers[dead].pid);
        if (write_attr_str(r->file, "status", "failed") < 0 || write_attr_str(r->file, "error", what) < 0 ||
            H5Fflush(r->file, H5F_SCOPE_GLOBAL) < 0)
            results_broken(r, "the failed status");
    }
    if (r->rank == 0 || (dead == 0 && r->rank == 1))
        fprintf(stderr, "%s: rank %d (host %s, pid %lld) died: the run cannot go on%s%s\n", cb_program(), dead,
                r->peers[dead].host, (long long)r->peers[dead].pid, r->file >= 0 ? "; finished rows kept in " : "",
                r->file >= 0 ? r->path : "");
}

/* pidfds of the peers on this kernel (pidfd_open: Linux 5.3), so that a death
 * wakes the watchdog at once instead of at its next look in /proc: the
 * launcher ends the survivors within a second of noticing, and the file must
 * say "failed" before that. idx[k] is the rank of fds[k]. Returns how many. */
static int open_peer_fds(const cb_results_t *r, struct pollfd *fds, int *idx)
{
    int n = 0;
#ifdef SYS_pidfd_open
    char mine[40];
    boot_id(mine, sizeof mine);
    for (int i = 0; mine[0] && i < r->n_peers; i++) {
        if (i == r->rank || strcmp(r->peers[i].boot_id, mine) != 0)
            continue;
        int fd = (int)syscall(SYS_pidfd_open, (pid_t)r->peers[i].pid, 0);
        if (fd < 0)
            continue; /* already gone (the next look in /proc finds it) or no pidfds */
        fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
        idx[n++] = i;
    }
#else
    (void)r, (void)fds, (void)idx;
#endif
    return n;
}

static void *watch_peers(void *arg)
{
    cb_results_t *r = arg;
    struct pollfd *fds = calloc((size_t)r->n_peers, sizeof *fds);
    int *idx = calloc((size_t)r->n_peers, sizeof *idx);
    int n_fds = fds && idx ? open_peer_fds(r, fds, idx) : 0;
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    while (!r->watchdog_stop) {
        int woke = 0;
        if (n_fds > 0 && !cb_signal_pending())
            woke = poll(fds, (nfds_t)n_fds, 200) > 0; /* readable: that peer has ended */
        else
            nanosleep(&ts, NULL);
        if (r->watchdog_stop || cb_signal_pending())
            continue; /* a death after a stop signal: the hook (on_stop_signal) looks */
        int dead = -1;
        for (int k = 0; woke && k < n_fds && dead < 0; k++)
            if (fds[k].revents & (POLLIN | POLLHUP | POLLERR))
                dead = idx[k];
        if (dead < 0)
            dead = find_dead_peer(r);
        if (dead < 0)
            continue;
        pthread_mutex_lock(&h5_lock);
        if (r->watchdog_stop) {
            pthread_mutex_unlock(&h5_lock);
            break;
        }
        mark_dead(r, dead);
        pthread_mutex_unlock(&h5_lock);
        for (int t = 0; t < DEAD_GRACE_S * 5 && !r->watchdog_stop; t++)
            nanosleep(&ts, NULL);
        if (r->watchdog_stop)
            break;
        pthread_mutex_lock(&h5_lock);
        finish_file(r, "failed");
        fprintf(stderr, "%s: rank %d: ending, the launcher did not (rank %d died)\n", cb_program(), r->rank, dead);
        _exit(1);
    }
    for (int k = 0; k < n_fds; k++)
        close(fds[k].fd);
    free(fds);
    free(idx);
    return NULL;
}

static void watchdog_start(cb_results_t *r)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    r->watchdog_running = pthread_create(&r->watchdog, NULL, watch_peers, r) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void watchdog_stop(cb_results_t *r)
{
    if (!r->watchdog_running)
        return;
    r->watchdog_stop = 1;
    pthread_join(r->watchdog, NULL);
    r->watchdog_running = 0;
}

/* ------------------------------------------------------------ file creation */

static int make_dirs(const char *path_of_file)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path_of_file);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (dir[0] && mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Create the file on rank 0: the name, the folder, then the file itself. */
static cb_status_t create_file(cb_results_t *r, const char *program, const char *output)
{
    if (output) {
        snprintf(r->path, sizeof r->path, "%s", output);
    } else {
        const char *dir = getenv("CLUSTERBENCH_RESULTS");
        char stamp[32];
        utc_now(stamp, sizeof stamp, 1);
        snprintf(r->path, sizeof r->path, "%s/%s-%s.h5", dir && dir[0] ? dir : "results", program, stamp);
    }
    if (make_dirs(r->path) != 0) {
        cb_error("cannot create the results folder for %s: %s", r->path, strerror(errno));
        return CB_ERR_IO;
    }
    /* No file lock: HDF5 1.10 locks a file open for writing, and then h5dump and
     * h5py cannot read a running job's results. Every row is flushed as it is
     * appended, so a reader sees the finished rows. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        H5Pset_file_locking(fapl, 0, 1);
    int existed;
    if (output) {
        existed = access(r->path, F_OK) == 0;
        r->file = H5Fcreate(r->path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    } else {
        /* Never overwrite another run's file: add -2, -3... in the same second. */
        char base[sizeof r->path - 16];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(r->path) - 3), r->path);
        for (int i = 2; i < 100; i++) {
            if (access(r->path, F_OK) != 0)
                break;
            snprintf(r->path, sizeof r->path, "%s-%d.h5", base, i);
        }
        existed = access(r->path, F_OK) == 0;
        r->file = H5Fcreate(r->path, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (r->file < 0) {
        int err = errno;
        /* HDF5 opens (creates or truncates) the file before its first write: a
         * full disk leaves an empty file that no reader can open. Remove it,
         * unless it was someone's file we could not open at all. */
        struct stat sb;
        if (stat(r->path, &sb) == 0 && S_ISREG(sb.st_mode) && (!existed || sb.st_size == 0))
            unlink(r->path);
        cb_error("cannot create results file %s: %s", r->path,
                 err ? strerror(err) : "HDF5 could not create it");
        return CB_ERR_IO;
    }
    int err = reserve_take(r);
    if (err) {
        H5Fclose(r->file);
        r->file = H5I_INVALID_HID;
        unlink(r->path);
        cb_error("cannot write results to %s: %s (%u KiB are needed to close it safely)", r->path, strerror(err),
                 RESERVE_BYTES >> 10);
        return CB_ERR_IO;
    }
    return CB_OK;
}

static void write_env_entry(hid_t group, const char *entry)
{
    static const char *const prefixes[] = { "UCX_", "OMPI_", "OMP_", "OPENBLAS_", "SLURM_", "PMIX_RANK",
                                            "CLUSTERBENCH_", NULL };
    for (int i = 0; prefixes[i]; i++) {
        if (strncmp(entry, prefixes[i], strlen(prefixes[i])) != 0)
            continue;
        const char *eq = strchr(entry, '=');
        if (!eq || eq - entry >= 256)
            return;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - entry), entry);
        write_attr_str(group, name, eq + 1);
        return;
    }
}

/* The environment the process was started with, from /proc/self/environ:
 * libraries change their own (OpenBLAS sets OPENBLAS_CORETYPE when it picks a
 * kernel), and that is not what the user asked for. */
static void write_env(hid_t file)
{
    hid_t group = H5Gcreate2(file, "env", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0)
        return;
    FILE *f = fopen("/proc/self/environ", "r");
    if (f) {
        char *entry = NULL;
        size_t cap = 0;
        while (getdelim(&entry, &cap, '\0', f) > 0)
            write_env_entry(group, entry);
        free(entry);
        fclose(f);
    } else {
        extern char **environ;
        for (char **e = environ; *e; e++)
            write_env_entry(group, *e);
    }
    H5Gclose(group);
}

static void write_provenance(cb_results_t *r, const cb_provenance_t *p, const char *program,
                             int argc, char **argv)
{
    char cmd[8192] = "";
    size_t used = 0;
    for (int i = 0; i < argc && used < sizeof cmd - 1; i++) {
        int n = snprintf(cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", argv[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    char now[32];
    utc_now(now, sizeof now, 0);
    hid_t f = r->file;
    write_attr_str(f, "schema", CB_SCHEMA);
    write_attr_str(f, "program", program);
    write_attr_str(f, "version", p->version);
    write_attr_str(f, "command_line", cmd);
    write_attr_str(f, "started_utc", now);
    write_attr_str(f, "finished_utc", "");
    write_attr_str(f, "status", "running");
    write_attr_num(f, "n_ranks", H5T_NATIVE_INT, &p->n_ranks);
    write_attr_num(f, "n_nodes", H5T_NATIVE_INT, &p->n_nodes);
    write_attr_num(f, "threads_per_rank", H5T_NATIVE_INT, &p->threads_per_rank);
    write_attr_str(f, "mpi_library", p->mpi_library);
    write_attr_str(f, "mpi_pml", p->mpi_pml);
    write_attr_str(f, "ucx_version", p->ucx_version);
    write_attr_str(f, "ucx_transports", p->ucx_transports);
    write_attr_str(f, "blas", p->blas);
    write_attr_str(f, "blas_coretype", p->blas_coretype);
    write_attr_str(f, "hdf5_version", p->hdf5_version);
    write_attr_str(f, "compiler", p->compiler);
    write_attr_str(f, "cpu_model", p->cpu_model);
    write_attr_str(f, "blas_library", p->blas_library);
    write_attr_str(f, "os", p->os);
    write_attr_str(f, "kernel", p->kernel);
    write_attr_str(f, "writer_host", cb_hostname());
    long long pid = (long long)getpid();
    write_attr_num(f, "writer_pid", H5T_NATIVE_LLONG, &pid);
    write_env(f);
}

/* One row of /ranks, gathered from every rank. */
typedef struct {
    int32_t rank;
    int32_t local_rank;
    int64_t pid;
    char host[HOST_LEN];
    char cpu_binding[HOST_LEN];
} rank_row_t;

static const cb_column_t rank_columns[] = {
    CB_COLUMN(rank_row_t, rank, CB_COL_INT32, "rank", NULL),
    CB_COLUMN(rank_row_t, local_rank, CB_COL_INT32, "local", NULL),
    CB_COLUMN(rank_row_t, pid, CB_COL_INT64, "pid", NULL),
    CB_COLUMN(rank_row_t, host, CB_COL_STRING, "host", NULL),
    CB_COLUMN(rank_row_t, cpu_binding, CB_COL_STRING, "cpus", NULL),
};

/* One row of /hosts per distinct host (cb_host_info_t). */
static const cb_column_t host_columns[] = {
    CB_COLUMN(cb_host_info_t, host, CB_COL_STRING, "host", NULL),
    CB_COLUMN(cb_host_info_t, cpu_model, CB_COL_STRING, "cpu", NULL),
    CB_COLUMN(cb_host_info_t, n_cores, CB_COL_INT32, "cores", NULL),
    CB_COLUMN(cb_host_info_t, n_pus, CB_COL_INT32, "threads", NULL),
    CB_COLUMN(cb_host_info_t, mem_total_B, CB_COL_INT64, "memory(B)", NULL),
    CB_COLUMN(cb_host_info_t, nics, CB_COL_STRING, "nics", NULL),
    CB_COLUMN(cb_host_info_t, os, CB_COL_STRING, "os", NULL),
    CB_COLUMN(cb_host_info_t, kernel, CB_COL_STRING, "kernel", NULL),
};

cb_status_t cb_results_open(const char *program, const cb_common_opts_t *common,
                            int argc, char **argv, MPI_Comm comm, cb_results_t **results_p)
{
    cb_status_t st = CB_OK;
    cb_provenance_t prov = { .hosts = NULL };
    rank_row_t mine, *all = NULL;
    int rank = 0, size = 1, local_rank = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);

    cb_results_t *r = calloc(1, sizeof *r);
    if (!r) {
        cb_error("cannot allocate the results");
        st = CB_ERR_NOMEM;
    } else {
        r->rank = rank;
        r->file = H5I_INVALID_HID;
        r->lock_fd = -1;
        r->reserve_fd = -1;
        r->dead_rank = -1;
        r->comm = comm;
        r->format = (cb_format_t)common->format;
    }
    if (cb_agree(st, comm) != CB_OK)
        goto fail;

    /* Collective part first, so that every rank takes part whatever rank 0's file does. */
    st = cb_provenance_collect(comm, &prov);
    if (st == CB_OK)
        st = cb_mpi_hosts(comm, &prov.n_nodes, &local_rank, NULL);
    memset(&mine, 0, sizeof mine);
    mine.rank = rank;
    mine.local_rank = local_rank;
    mine.pid = (int64_t)getpid();
    snprintf(mine.host, sizeof mine.host, "%s", cb_hostname());
    cb_cpu_binding(mine.cpu_binding, sizeof mine.cpu_binding);
    if (rank == 0 && !(all = calloc((size_t)size, sizeof *all))) {
        cb_error("cannot allocate the rank table");
        st = CB_ERR_NOMEM;
    }
    if ((st = cb_agree(st, comm)) != CB_OK)
        goto fail;
    st = CB_MPI(MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0, comm));
    if ((st = cb_agree(st, comm)) != CB_OK)
        goto fail;
    {
        struct cb_peer me;
        memset(&me, 0, sizeof me);
        me.pid = (int64_t)getpid();
        snprintf(me.host, sizeof me.host, "%s", cb_hostname());
        boot_id(me.boot_id, sizeof me.boot_id);
        r->peers = calloc((size_t)size, sizeof *r->peers);
        st = r->peers ? CB_MPI(MPI_Allgather(&me, (int)sizeof me, MPI_BYTE, r->peers, (int)sizeof me, MPI_BYTE, comm))
                      : CB_ERR_NOMEM;
        if (st == CB_ERR_NOMEM)
            cb_error("cannot allocate the table of %d ranks", size);
        if ((st = cb_agree(st, comm)) != CB_OK)
            goto fail;
        r->n_peers = size;
    }

    if (rank == 0 && !common->no_output) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our own one-line errors instead of HDF5's stacks */
        pthread_mutex_lock(&h5_lock);
        st = create_file(r, program, common->output);
        if (st == CB_OK) {
            writer_lock(r);
            write_provenance(r, &prov, program, argc, argv);
            active = r;
        }
        pthread_mutex_unlock(&h5_lock);
        if (st == CB_OK)
            cb_signal_set_hook(on_stop_signal);
        if (st == CB_OK) {
            cb_table_t *ranks = NULL;
            st = cb_table_create(r, "/ranks", rank_columns, (int)(sizeof rank_columns / sizeof rank_columns[0]),
                                 sizeof(rank_row_t), CB_TABLE_NO_PRINT, &ranks);
            for (int i = 0; st == CB_OK && i < size; i++)
                st = cb_table_append(ranks, &all[i]);
        }
        if (st == CB_OK) {
            cb_table_t *hosts = NULL;
            st = cb_table_create(r, "/hosts", host_columns, (int)(sizeof host_columns / sizeof host_columns[0]),
                                 sizeof(cb_host_info_t), CB_TABLE_NO_PRINT, &hosts);
            for (int i = 0; st == CB_OK && i < prov.n_hosts; i++)
                st = cb_table_append(hosts, &prov.hosts[i]);
        }
    }
    /* A results folder that cannot be written stops the run before any measurement. */
    cb_provenance_free(&prov);
    if ((st = cb_agree(st, comm)) != CB_OK)
        goto fail;
    free(all);
    if (cb_signal_init() != 0)
        cb_warn("cannot watch for SIGINT/SIGTERM: an interrupted run will leave status 'running'");
    if (size > 1)
        watchdog_start(r);
    *results_p = r;
    return CB_OK;

fail:
    free(all);
    cb_provenance_free(&prov);
    if (r) {
        if (r->file >= 0) {
            cb_signal_set_hook(NULL);
            pthread_mutex_lock(&h5_lock);
            finish_file(r, st == CB_ERR_INTERRUPTED ? "interrupted" : "failed");
            active = NULL;
            pthread_mutex_unlock(&h5_lock);
            if (!common->output)
                unlink(r->path); /* nothing was measured: leave no file behind */
        }
        for (int i = 0; i < r->n_tables; i++) {
            free(r->tables[i]->columns);
            free(r->tables[i]);
        }
        free(r->peers);
        free(r);
    }
    return st;
}

/* ------------------------------------------------------------ root attributes */

static cb_status_t set_root_attr(cb_results_t *r, const char *name, hid_t type, const void *value, int is_str)
{
    if (!r || r->file < 0)
        return CB_OK;
    pthread_mutex_lock(&h5_lock);
    if (r->broken) {
        pthread_mutex_unlock(&h5_lock);
        cb_error("cannot write attribute %s to %s: a write failed before (disk full?)", name, r->path);
        return CB_ERR_IO;
    }
    herr_t rc = is_str ? write_attr_str(r->file, name, (const char *)value)
                       : write_attr_num(r->file, name, type, value);
    if (rc >= 0)
        rc = H5Fflush(r->file, H5F_SCOPE_GLOBAL);
    if (rc < 0) {
        char what[128];
        snprintf(what, sizeof what, "attribute %s", name);
        results_broken(r, what);
    }
    pthread_mutex_unlock(&h5_lock);
    return rc < 0 ? CB_ERR_IO : CB_OK;
}

cb_status_t cb_results_set_str(cb_results_t *r, const char *name, const char *value)
{
    return set_root_attr(r, name, H5I_INVALID_HID, value ? value : "", 1);
}

cb_status_t cb_results_set_int(cb_results_t *r, const char *name, long long value)
{
    return set_root_attr(r, name, H5T_NATIVE_LLONG, &value, 0);
}

cb_status_t cb_results_set_double(cb_results_t *r, const char *name, double value)
{
    return set_root_attr(r, name, H5T_NATIVE_DOUBLE, &value, 0);
}

const char *cb_results_path(const cb_results_t *r)
{
    return r && r->file >= 0 ? r->path : NULL;
}

cb_format_t cb_results_format(const cb_results_t *r) { return r ? r->format : CB_FORMAT_TABLE; }

void cb_results_comment(const cb_results_t *r, const char *fmt, ...)
{
    if (!r || r->rank != 0 || r->format != CB_FORMAT_TABLE)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

cb_status_t cb_results_close(cb_results_t *r, cb_status_t status)
{
    if (!r)
        return status;
    watchdog_stop(r);
    int close_failed = 0;
    int ended_well = status == CB_OK || status == CB_DONE; /* the same on every rank: agreed before */
    if (r->file >= 0) {
        /* A stop asked for after the last loop point still makes the run interrupted. */
        if ((status == CB_OK || status == CB_DONE) && cb_signal_pending())
            status = CB_ERR_INTERRUPTED;
        const char *s = (status == CB_OK || status == CB_DONE) ? "complete"
                        : status == CB_ERR_INTERRUPTED         ? "interrupted"
                                                               : "failed";
        cb_signal_set_hook(NULL);
        pthread_mutex_lock(&h5_lock);
        close_failed = finish_file(r, s) != 0;
        active = NULL;
        pthread_mutex_unlock(&h5_lock);
        if (r->format == CB_FORMAT_TABLE)
            printf("# results: %s\n", r->path);
        fflush(stdout);
    }
    /* A run that ended well on every rank learns whether rank 0 could close its
     * file, so that every rank exits non-zero when it could not (the error is
     * rank 0's line above). After any other end the ranks may not all be here. */
    if (ended_well && r->n_peers > 1) {
        int failed = close_failed;
        if (MPI_Bcast(&failed, 1, MPI_INT, 0, r->comm) == MPI_SUCCESS && failed)
            status = CB_ERR_IO;
    }
    if (close_failed && ended_well)
        status = CB_ERR_IO; /* (an interrupted or failed run keeps its own status) */
    for (int i = 0; i < r->n_tables; i++) {
        free(r->tables[i]->columns);
        free(r->tables[i]);
    }
    free(r->peers);
    free(r);
    return status;
}

/* ------------------------------------------------------------ tables */

static hid_t column_type(const cb_column_t *c)
{
    switch (c->type) {
    case CB_COL_INT32: return H5Tcopy(H5T_NATIVE_INT32);
    case CB_COL_INT64: return H5Tcopy(H5T_NATIVE_INT64);
    case CB_COL_DOUBLE: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case CB_COL_STRING: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, c->size);
        H5Tset_strpad(t, H5T_STR_NULLTERM);
        return t;
    }
    }
    return H5I_INVALID_HID;
}

static cb_status_t open_dataset(cb_results_t *r, cb_table_t *t, const char *path)
{
    cb_status_t st = CB_OK;
    hid_t ftype = H5I_INVALID_HID, space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
    t->mtype = H5Tcreate(H5T_COMPOUND, t->row_size);
    for (int i = 0; i < t->n_columns; i++) {
        /* A column that cannot be added (a name used twice) would vanish
         * from the file without a word: refuse the table instead. */
        hid_t ct = column_type(&t->columns[i]);
        herr_t added = ct < 0 ? -1 : H5Tinsert(t->mtype, t->columns[i].name, t->columns[i].offset, ct);
        if (ct >= 0)
            H5Tclose(ct);
        if (added < 0) {
            cb_error("internal: table %s: cannot add column '%s' (a name used twice?)", path, t->columns[i].name);
            r->broken = 1;
            reserve_release(r);
            return CB_ERR_INTERNAL;
        }
    }
    if (H5Lexists(r->file, path, H5P_DEFAULT) > 0) {
        t->dset = H5Dopen2(r->file, path, H5P_DEFAULT);
        if (t->dset < 0)
            goto h5fail;
        hid_t fs = H5Dget_space(t->dset);
        hsize_t dims[1] = { 0 };
        H5Sget_simple_extent_dims(fs, dims, NULL);
        H5Sclose(fs);
        t->n_rows = dims[0];
        return CB_OK;
    }
    ftype = H5Tcopy(t->mtype);
    H5Tpack(ftype);
    hsize_t dims[1] = { 0 }, maxdims[1] = { H5S_UNLIMITED }, chunk[1] = { ROWS_PER_CHUNK };
    space = H5Screate_simple(1, dims, maxdims);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    t->dset = H5Dcreate2(r->file, path, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    if (t->dset < 0)
        goto h5fail;
    goto out;
h5fail:
    cb_error("cannot create table %s in %s", path, r->path);
    r->broken = 1;
    reserve_release(r);
    st = CB_ERR_HDF5;
out:
    if (lcpl >= 0) H5Pclose(lcpl);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    return st;
}

cb_status_t cb_table_create(cb_results_t *r, const char *path, const cb_column_t *columns, int n_columns,
                            size_t row_size, int flags, cb_table_t **table_p)
{
    if (!r || n_columns <= 0) {
        cb_error("internal: table %s without results or columns", path);
        return CB_ERR_INTERNAL;
    }
    if (r->n_tables == MAX_TABLES) {
        cb_error("internal: more than %d tables in one run", MAX_TABLES);
        return CB_ERR_INTERNAL;
    }
    cb_table_t *t = calloc(1, sizeof *t);
    cb_column_t *cols = malloc((size_t)n_columns * sizeof *cols);
    if (!t || !cols) {
        free(t);
        free(cols);
        cb_error("cannot allocate table %s", path);
        return CB_ERR_NOMEM;
    }
    memcpy(cols, columns, (size_t)n_columns * sizeof *cols);
    t->results = r;
    t->dset = H5I_INVALID_HID;
    t->mtype = H5I_INVALID_HID;
    t->columns = cols;
    t->n_columns = n_columns;
    t->row_size = row_size;
    t->flags = flags;
    const char *slash = strrchr(path, '/');
    snprintf(t->name, sizeof t->name, "%s", slash ? slash + 1 : path);
    r->tables[r->n_tables++] = t;
    if (r->file >= 0) {
        pthread_mutex_lock(&h5_lock);
        cb_status_t st = open_dataset(r, t, path);
        pthread_mutex_unlock(&h5_lock);
        if (st != CB_OK)
            return st;
    }
    *table_p = t;
    return CB_OK;
}

static cb_status_t table_attr(cb_table_t *t, const char *name, int is_str, const void *value)
{
    if (!t || t->dset < 0)
        return CB_OK;
    pthread_mutex_lock(&h5_lock);
    herr_t rc = -1;
    if (!t->results->broken) {
        rc = is_str ? write_attr_str(t->dset, name, (const char *)value)
                    : write_attr_num(t->dset, name, H5T_NATIVE_DOUBLE, value);
        if (rc < 0) {
            char what[192];
            snprintf(what, sizeof what, "attribute %s of table %s", name, t->name);
            results_broken(t->results, what);
        }
    }
    pthread_mutex_unlock(&h5_lock);
    return rc < 0 ? CB_ERR_IO : CB_OK;
}

cb_status_t cb_table_set_str(cb_table_t *t, const char *name, const char *value)
{
    return table_attr(t, name, 1, value ? value : "");
}

cb_status_t cb_table_set_double(cb_table_t *t, const char *name, double value)
{
    return table_attr(t, name, 0, &value);
}

/* ---- printing */

static int column_width(const cb_column_t *c)
{
    if (c->width > 0)
        return c->width;
    int w = (int)strlen(c->title ? c->title : c->name);
    int min = c->type == CB_COL_STRING ? 8 : 10;
    return w > min ? w : min;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double. */
static void format_exact(char *buf, size_t len, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* One cell as text. The table rounds to the column's format; CSV and JSON carry
 * every figure at full precision (text that reads back as the same double), so a
 * 75 ns latency stays 0.075..., never 0.07. JSON has no NaN or infinity: null. */
static void format_cell(const cb_column_t *c, const void *row, char *buf, size_t len, cb_format_t fmt)
{
    const char *p = (const char *)row + c->offset;
    int exact = fmt != CB_FORMAT_TABLE;
    switch (c->type) {
    case CB_COL_INT32:
        snprintf(buf, len, c->fmt && !exact ? c->fmt : "%d", *(const int32_t *)p);
        break;
    case CB_COL_INT64:
        snprintf(buf, len, c->fmt && !exact ? c->fmt : "%lld", (long long)*(const int64_t *)p);
        break;
    case CB_COL_DOUBLE: {
        double v = *(const double *)p;
        if (fmt == CB_FORMAT_JSON && !(v == v && v - v == 0))
            snprintf(buf, len, "null");
        else if (exact)
            format_exact(buf, len, v);
        else
            snprintf(buf, len, c->fmt ? c->fmt : "%.3f", v);
        break;
    }
    case CB_COL_STRING: snprintf(buf, len, "%.*s", (int)c->size, p); break;
    }
}

static void print_quoted(const char *s, int json)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            fputs(json ? "\\\"" : "\"\"", stdout);
        else if (json && *s == '\\')
            fputs("\\\\", stdout);
        else if (json && (unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_row(cb_table_t *t, const void *row)
{
    char cell[512];
    cb_format_t fmt = t->results->format;
    if (!t->header_done) {
        t->header_done = 1;
        if (fmt == CB_FORMAT_TABLE) {
            for (int i = 0; i < t->n_columns; i++)
                printf(i ? " %*s" : "#%*s", column_width(&t->columns[i]) - (i ? 0 : 1),
                       t->columns[i].title ? t->columns[i].title : t->columns[i].name);
            putchar('\n');
        } else if (fmt == CB_FORMAT_CSV) {
            printf("table");
            for (int i = 0; i < t->n_columns; i++)
                printf(",%s", t->columns[i].name);
            putchar('\n');
        }
    }
    switch (fmt) {
    case CB_FORMAT_TABLE:
        for (int i = 0; i < t->n_columns; i++) {
            format_cell(&t->columns[i], row, cell, sizeof cell, fmt);
            printf(i ? " %*s" : "%*s", column_width(&t->columns[i]), cell);
        }
        break;
    case CB_FORMAT_CSV:
        printf("%s", t->name);
        for (int i = 0; i < t->n_columns; i++) {
            format_cell(&t->columns[i], row, cell, sizeof cell, fmt);
            putchar(',');
            if (t->columns[i].type == CB_COL_STRING || strchr(cell, ','))
                print_quoted(cell, 0);
            else
                fputs(cell, stdout);
        }
        break;
    case CB_FORMAT_JSON:
        printf("{\"table\": \"%s\"", t->name);
        for (int i = 0; i < t->n_columns; i++) {
            format_cell(&t->columns[i], row, cell, sizeof cell, fmt);
            printf(", \"%s\": ", t->columns[i].name);
            if (t->columns[i].type == CB_COL_STRING)
                print_quoted(cell, 1);
            else
                fputs(cell, stdout);
        }
        putchar('}');
        break;
    }
    putchar('\n');
    fflush(stdout);
}

cb_status_t cb_table_append(cb_table_t *t, const void *row)
{
    if (!t || t->results->rank != 0)
        return CB_OK;
    cb_status_t st = CB_OK;
    if (t->dset >= 0 && t->results->broken) {
        /* Held again: the first message may have been printed and cleared. */
        cb_error("cannot write a row of table %s to %s: a write failed before (disk full?)", t->name, t->results->path);
        st = CB_ERR_IO;
    } else if (t->dset >= 0) {
        pthread_mutex_lock(&h5_lock);
        hsize_t start[1] = { t->n_rows }, count[1] = { 1 }, dims[1] = { t->n_rows + 1 };
        herr_t rc = H5Dset_extent(t->dset, dims);
        hid_t fs = rc >= 0 ? H5Dget_space(t->dset) : H5I_INVALID_HID;
        hid_t ms = H5Screate_simple(1, count, NULL);
        if (fs >= 0)
            rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        if (fs >= 0 && rc >= 0)
            rc = H5Dwrite(t->dset, t->mtype, ms, fs, H5P_DEFAULT, row);
        if (fs >= 0 && rc >= 0)
            rc = H5Fflush(t->results->file, H5F_SCOPE_GLOBAL);
        if (fs >= 0)
            H5Sclose(fs);
        H5Sclose(ms);
        if (fs < 0 || rc < 0) {
            char what[192];
            snprintf(what, sizeof what, "a row of table %s", t->name);
            results_broken(t->results, what);
            st = CB_ERR_IO;
        } else
            t->n_rows++;
        pthread_mutex_unlock(&h5_lock);
    }
    if (!(t->flags & CB_TABLE_NO_PRINT))
        print_row(t, row);
    return st;
}

void cb_table_close(cb_table_t *t)
{
    if (!t || t->dset < 0)
        return;
    pthread_mutex_lock(&h5_lock);
    H5Dclose(t->dset);
    H5Tclose(t->mtype);
    t->dset = t->mtype = H5I_INVALID_HID;
    H5Fflush(t->results->file, H5F_SCOPE_GLOBAL);
    pthread_mutex_unlock(&h5_lock);
}
