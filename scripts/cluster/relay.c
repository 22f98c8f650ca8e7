/* relay: a userspace Ethernet switch between emulated hosts that holds every frame for
 * a fixed delay, for kernels without netem (scripts/cluster/up --delay-us D).
 * It creates a TAP device eth0 in each host's network namespace and forwards frames
 * between them: unicast by the hosts' fixed MACs (02:cb:00:00:HI:LO = port HI*256+LO),
 * broadcast and multicast to every other port; anything else is dropped, as a switch
 * would. Not an MPI program: one process, one thread, no clusterbench library. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ limits */

#define RL_MAX_PORTS 256   /* hosts: the MAC scheme has room for more, up has 64 */
#define RL_FRAME_MAX 9216  /* bytes: a jumbo frame; larger frames are dropped */
#define RL_QUEUE_LEN 2048  /* frames in flight: bandwidth x delay must fit */
#define RL_MAX_DELAY_US 1000000

typedef enum { RL_OK = 0, RL_ERR_USAGE, RL_ERR_SYS } rl_status_t;

/* One frame waiting for its time. The delay is the same for every frame, so the due
 * times of a FIFO are in order and one ring is the whole schedule. */
typedef struct {
    uint64_t due_ns;               /* CLOCK_MONOTONIC time to send it */
    int src;                       /* port it came from (not flooded back) */
    int dst;                       /* port to send to, -1 for every other port */
    size_t len;                    /* bytes in data */
    unsigned char data[RL_FRAME_MAX];
} rl_frame_t;

typedef struct {
    int n_ports;
    int fd[RL_MAX_PORTS];          /* TAP file descriptors, one per host */
    uint64_t delay_ns;             /* one-way delay added to every frame */
    rl_frame_t *ring;              /* RL_QUEUE_LEN frames */
    size_t head, count;            /* oldest frame, frames queued */
    uint64_t dropped;              /* frames dropped (full queue, unknown MAC) */
} rl_switch_t;

static volatile sig_atomic_t rl_stop;

static void rl_on_signal(int sig) { (void)sig; rl_stop = 1; }

static uint64_t rl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ ports */

/* Open a TAP device named eth0 inside the network namespace at ns_path; the calling
 * thread returns to home_ns. The device lives as long as the descriptor. */
static rl_status_t rl_port_open(const char *ns_path, int home_ns, int *fd_p)
{
    rl_status_t status = RL_ERR_SYS;
    int ns = -1, fd = -1;
    struct ifreq ifr;

    ns = open(ns_path, O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
        fprintf(stderr, "relay: %s: cannot open namespace: %s\n", ns_path, strerror(errno));
        return RL_ERR_USAGE;
    }
    if (setns(ns, CLONE_NEWNET) != 0) {
        fprintf(stderr, "relay: %s: not a network namespace, or no permission: %s\n",
                ns_path, strerror(errno));
        status = RL_ERR_USAGE;
        goto close_ns;
    }
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "relay: /dev/net/tun: %s\n", strerror(errno));
        goto go_home;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strcpy(ifr.ifr_name, "eth0");
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        fprintf(stderr, "relay: %s: cannot create TAP device eth0: %s\n", ns_path, strerror(errno));
        close(fd);
        fd = -1;
        goto go_home;
    }
    status = RL_OK;
go_home:
    if (setns(home_ns, CLONE_NEWNET) != 0) {
        fprintf(stderr, "relay: cannot return to the original namespace: %s\n", strerror(errno));
        if (fd >= 0)
            close(fd);
        status = RL_ERR_SYS;
    }
close_ns:
    close(ns);
    if (status == RL_OK)
        *fd_p = fd;
    return status;
}

/* The port a unicast MAC belongs to, or -1 if no host has it. */
static int rl_port_of_mac(const rl_switch_t *sw, const unsigned char *mac)
{
    if (mac[0] != 0x02 || mac[1] != 0xcb || mac[2] != 0 || mac[3] != 0)
        return -1;
    int port = mac[4] * 256 + mac[5];
    return port < sw->n_ports ? port : -1;
}

/* ------------------------------------------------------------------ switching */

/* Read every frame waiting on port src into the queue, stamped with its due time. */
static void rl_switch_receive(rl_switch_t *sw, int src, uint64_t now)
{
    while (sw->count < RL_QUEUE_LEN) {
        rl_frame_t *f = &sw->ring[(sw->head + sw->count) % RL_QUEUE_LEN];
        ssize_t len = read(sw->fd[src], f->data, sizeof f->data);
        if (len < 0)
            return; /* EAGAIN: drained; other errors: the port is gone, nothing to do */
        if (len < 14 || (size_t)len >= sizeof f->data) {
            sw->dropped++;
            continue;
        }
        f->len = (size_t)len;
        f->src = src;
        f->dst = (f->data[0] & 1) ? -1 : rl_port_of_mac(sw, f->data);
        if (f->dst == src || (f->dst < 0 && !(f->data[0] & 1))) {
            sw->dropped++;
            continue;
        }
        f->due_ns = now + sw->delay_ns;
        sw->count++;
    }
}

/* Send every frame whose time has come; a port that cannot take one drops it. */
static void rl_switch_send_due(rl_switch_t *sw, uint64_t now)
{
    while (sw->count > 0) {
        const rl_frame_t *f = &sw->ring[sw->head];
        if (f->due_ns > now)
            return;
        for (int p = 0; p < sw->n_ports; p++) {
            if (p == f->src || (f->dst >= 0 && p != f->dst))
                continue;
            if (write(sw->fd[p], f->data, f->len) != (ssize_t)f->len)
                sw->dropped++;
        }
        sw->head = (sw->head + 1) % RL_QUEUE_LEN;
        sw->count--;
    }
}

/* Run until SIGTERM or SIGINT. Signals are delivered only inside ppoll, so the flag
 * cannot be missed between the check and the wait. */
static void rl_switch_run(rl_switch_t *sw, const sigset_t *wait_mask)
{
    struct pollfd pfd[RL_MAX_PORTS];

    for (int p = 0; p < sw->n_ports; p++)
        pfd[p] = (struct pollfd){ .fd = sw->fd[p], .events = POLLIN };
    while (!rl_stop) {
        uint64_t now = rl_now_ns();
        rl_switch_send_due(sw, now);

        struct timespec ts, *timeout = NULL;
        if (sw->count > 0) {
            uint64_t wait = sw->ring[sw->head].due_ns - now;
            ts.tv_sec = (time_t)(wait / 1000000000u);
            ts.tv_nsec = (long)(wait % 1000000000u);
            timeout = &ts;
        }
        /* With a full queue, wait only for the next departure (back-pressure: the
         * kernel queues, then drops, on the hosts' side). */
        int full = sw->count >= RL_QUEUE_LEN;
        for (int p = 0; p < sw->n_ports; p++)
            pfd[p].events = full ? 0 : POLLIN;
        int ready = ppoll(pfd, (nfds_t)sw->n_ports, timeout, wait_mask);
        if (ready <= 0)
            continue;
        now = rl_now_ns();
        for (int p = 0; p < sw->n_ports; p++)
            if (pfd[p].revents & POLLIN)
                rl_switch_receive(sw, p, now);
    }
}

/* ------------------------------------------------------------------ main */

static void rl_usage(FILE *out)
{
    fprintf(out,
            "usage: relay --delay-us D [--pid-file FILE] NETNS_PATH...\n"
            "  creates a TAP device eth0 in each network namespace (e.g. /run/netns/h0) and\n"
            "  switches frames between them, each held D microseconds (0 to %d);\n"
            "  hosts must use the MACs 02:cb:00:00:HI:LO of their position.\n"
            "  Prints 'ready' on stdout and closes it once every device exists; stops on\n"
            "  SIGTERM or SIGINT, removing the devices.\n",
            RL_MAX_DELAY_US);
}

static rl_status_t rl_parse_delay(const char *text, uint64_t *delay_ns_p)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || v > RL_MAX_DELAY_US) {
        fprintf(stderr, "relay: --delay-us: '%s': not a whole number of microseconds from 0 to %d\n",
                text, RL_MAX_DELAY_US);
        return RL_ERR_USAGE;
    }
    *delay_ns_p = (uint64_t)v * 1000u;
    return RL_OK;
}

int main(int argc, char **argv)
{
    rl_status_t status = RL_ERR_USAGE;
    rl_switch_t sw = { .n_ports = 0 };
    const char *pid_file = NULL;
    int have_delay = 0, home_ns = -1, first_ns = argc;
    sigset_t block, wait_mask;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            rl_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--delay-us") == 0 && i + 1 < argc) {
            if (rl_parse_delay(argv[++i], &sw.delay_ns) != RL_OK)
                return 2;
            have_delay = 1;
        } else if (strcmp(argv[i], "--pid-file") == 0 && i + 1 < argc) {
            pid_file = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "relay: %s: unknown option or missing value (see --help)\n", argv[i]);
            return 2;
        } else {
            first_ns = i;
            break;
        }
    }
    int n_ports = argc - first_ns;
    if (!have_delay || n_ports < 1) {
        rl_usage(stderr);
        return 2;
    }
    if (n_ports > RL_MAX_PORTS) {
        fprintf(stderr, "relay: %d namespaces: at most %d\n", n_ports, RL_MAX_PORTS);
        return 2;
    }

    sw.ring = malloc(sizeof *sw.ring * RL_QUEUE_LEN);
    if (!sw.ring) {
        fprintf(stderr, "relay: cannot allocate the frame queue (%zu bytes): %s\n",
                sizeof *sw.ring * RL_QUEUE_LEN, strerror(errno));
        status = RL_ERR_SYS;
        goto done;
    }
    home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ns < 0) {
        fprintf(stderr, "relay: /proc/self/ns/net: %s\n", strerror(errno));
        status = RL_ERR_SYS;
        goto free_ring;
    }
    for (int p = 0; p < n_ports; p++) {
        status = rl_port_open(argv[first_ns + p], home_ns, &sw.fd[p]);
        if (status != RL_OK)
            goto close_ports;
        sw.n_ports++;
    }

    /* Timers as exact as the kernel allows: the default 50 us slack would be most of a
     * small delay. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    struct sigaction sa = { .sa_handler = rl_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN);

    if (pid_file) {
        FILE *f = fopen(pid_file, "w");
        if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
            fprintf(stderr, "relay: %s: cannot write the pid file: %s\n", pid_file, strerror(errno));
            status = RL_ERR_SYS;
            goto close_ports;
        }
    }
    printf("ready\n");
    fflush(stdout);
    fclose(stdout);

    rl_switch_run(&sw, &wait_mask);
    if (sw.dropped)
        fprintf(stderr, "relay: %llu frames dropped\n", (unsigned long long)sw.dropped);
    status = RL_OK;
    if (pid_file)
        unlink(pid_file);
close_ports:
    for (int p = 0; p < sw.n_ports; p++)
        close(sw.fd[p]);
    close(home_ns);
free_ring:
    free(sw.ring);
done:
    return status == RL_OK ? 0 : status == RL_ERR_USAGE ? 2 : 1;
}
