/* A fault for tests/common/disk_full.sh (a full disk at the close): loaded
 * with LD_PRELOAD into a program's ranks, with CB_TEST_FILL_AT_CLOSE=DIR set.
 * When the program creates the attribute finished_utc the second time (the
 * first is the empty one written with the provenance; the second is the first
 * write of closing the file, after every row), the disk of DIR is filled to
 * the last byte first, so that the close finds it full.
 *
 * On a full disk only the writes that need new blocks fail, and on tmpfs the
 * close's few KiB usually land in blocks the file already has. With
 * CB_TEST_FILL_AT_CLOSE_WRITES=1 the shim also fails every write to a *.h5
 * file in DIR with ENOSPC from then on, as the disk would if the close needed
 * room, until the program closes its *.reserve file (the space it held back
 * for its close is free again). Built by the test itself (cc -shared), not by make. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef int64_t hid_t; /* as H5Ipublic.h has it since HDF5 1.10 */

static volatile int failing; /* writes to DIR/\*.h5 fail with ENOSPC */

static void fill(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/filler-at-close", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    static const char block[65536];
    /* 64 KiB writes until one fails or is short, then halves: the last bytes too */
    for (size_t n = sizeof block; n >= 1; n /= 2)
        while (write(fd, block, n) == (ssize_t)n)
            ;
    close(fd);
    fprintf(stderr, "fill_at_close: %s filled\n", dir);
}

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

/* fd is a *.h5 file in DIR */
static int results_fd(int fd)
{
    const char *dir = getenv("CB_TEST_FILL_AT_CLOSE");
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (!dir || n <= 0)
        return 0;
    path[n] = '\0';
    return strncmp(path, dir, strlen(dir)) == 0 && ends_with(path, ".h5");
}

hid_t H5Acreate2(hid_t loc, const char *name, hid_t type, hid_t space, hid_t acpl, hid_t aapl)
{
    static hid_t (*real)(hid_t, const char *, hid_t, hid_t, hid_t, hid_t);
    static int seen;
    if (!real)
        real = (hid_t(*)(hid_t, const char *, hid_t, hid_t, hid_t, hid_t))dlsym(RTLD_NEXT, "H5Acreate2");
    const char *dir = getenv("CB_TEST_FILL_AT_CLOSE");
    if (dir && name && strcmp(name, "finished_utc") == 0 && ++seen == 2) {
        fill(dir);
        const char *w = getenv("CB_TEST_FILL_AT_CLOSE_WRITES");
        failing = w && strcmp(w, "1") == 0;
    }
    return real ? real(loc, name, type, space, acpl, aapl) : -1;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    if (failing && results_fd(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    if (failing && results_fd(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, count, offset);
}

ssize_t write(int fd, const void *buf, size_t count)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (failing && results_fd(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, count);
}

int close(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (failing) {
        /* the reserve, unlinked when it was taken and held open until now */
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = '\0';
            if (ends_with(path, ".reserve (deleted)") || ends_with(path, ".reserve"))
                failing = 0; /* the space held back for the close is free */
        }
    }
    return real(fd);
}
