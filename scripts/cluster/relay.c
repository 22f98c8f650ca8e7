/* relay: a userspace Ethernet switch between emulated hosts that gives every link a
 * rate and a delay (scripts/cluster/up --link, --rate-mbit, --delay-us), for kernels
 * without netem and for rate limits. It creates a TAP device eth0 in each host's network
 * namespace and forwards frames between them: unicast by the hosts' fixed MACs
 * (02:cb:00:00:HI:LO = port HI*256+LO), broadcast and multicast to every other port;
 * anything else is dropped, as a switch would.
 *
 * The model of a link, per host: an uplink (host to switch) and a downlink (switch to
 * host), each a token bucket of --rate-mbit with no burst beyond one frame: a frame
 * leaves the uplink when the frames before it have, arrives at its port of the switch,
 * waits for that port's downlink, and is delivered --delay-us after it has crossed.
 * A host that sends faster than its uplink is not read until the uplink has caught up
 * (the backlog stays in its kernel, as a NIC's queue would, and TCP sees back-pressure,
 * not loss); a downlink shared by several senders queues up to --buffer-kb and drops
 * beyond, as a switch port does. The hosts use a large MTU (fewer frames through this
 * one process); each frame is charged the bytes a 1500-byte-MTU Ethernet would put on
 * the wire for the same TCP payload (a header, preamble, gap and FCS per 1460 bytes), so
 * the goodput ceiling is the real link's. Frames waiting come from a pool of
 * maximum-size buffers that grows to the most ever in flight and is reused, so that
 * forwarding allocates nothing, and a frame is read straight into the buffer it waits
 * in (copied only for a broadcast's extra ports). The devices carry virtio-net headers
 * with checksum offload, as a virtual NIC's do: a host's TCP leaves its checksum to the
 * "hardware", the relay passes the header on untouched, and the receiving host takes
 * the frame as checked, so neither computes a checksum over a link that cannot corrupt
 * one (where the kernel refuses the offload the hosts checksum as before). At exit it
 * prints its own CPU time per GB forwarded (the cost this one process adds beside the
 * hosts on the same cores). Not an MPI program: one process, one thread, no
 * clusterbench library. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ limits */

#define RL_MAX_PORTS 256     /* hosts: the MAC scheme has room for more, up has 64 */
#define RL_FRAME_MAX 65558   /* bytes: a 65535-byte MTU, its header and a VLAN tag */
#define RL_VNET_HDR ((int)sizeof(struct virtio_net_hdr)) /* before every frame on a device */
#define RL_BUF_MAX (RL_VNET_HDR + RL_FRAME_MAX)
#define RL_MAX_DELAY_US 1000000
#define RL_MAX_RATE_MBIT 1000000
#define RL_WIRE_MTU 1500     /* the real link's MTU, for what a frame costs on the wire */
#define RL_WIRE_OVERHEAD 38  /* Ethernet header 14, FCS 4, preamble 8, gap 12 per wire frame */
#define RL_L3_HEADERS 40     /* IPv4 and TCP headers, repeated in every wire frame */

typedef enum { RL_OK = 0, RL_ERR_USAGE, RL_ERR_SYS } rl_status_t;

/* One frame waiting for its time in its destination port's queue. */
typedef struct rl_frame {
    struct rl_frame *next;
    uint64_t due_ns;               /* CLOCK_MONOTONIC time to deliver it */
    size_t len;                    /* bytes in data: the virtio-net header and the frame */
    unsigned char data[RL_BUF_MAX];
} rl_frame_t;

typedef struct {
    int fd;                        /* TAP file descriptor */
    uint64_t up_free_ns;           /* when this host's uplink has sent all it was given */
    uint64_t down_free_ns;         /* when this port's downlink has delivered its queue */
    rl_frame_t *head, *tail;       /* frames for this host, in order of due time */
    size_t queued;                 /* bytes in the queue */
} rl_port_t;

typedef struct {
    int n_ports;
    rl_port_t port[RL_MAX_PORTS];
    uint64_t delay_ns;             /* one-way delay added to every frame */
    uint64_t rate_mbit;            /* 0: no rate limit */
    size_t buffer_bytes;           /* a downlink's queue, beyond the frames in flight */
    uint64_t hold_ns;              /* a host's uplink may be this far ahead before it is not read */
    unsigned char *rx;             /* a frame read to be dropped when no buffer is free */
    uint64_t dropped;              /* frames dropped (full queue, unknown MAC, no memory) */
    uint64_t frames, bytes;        /* forwarded */
    rl_frame_t *pool;              /* free frames, reused (linked by next) */
    size_t pool_frames;            /* frames ever allocated: the most in flight at once */
} rl_switch_t;

static volatile sig_atomic_t rl_stop;

static void rl_on_signal(int sig) { (void)sig; rl_stop = 1; }

static uint64_t rl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rl_max(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Nanoseconds a frame of len bytes occupies the link: the wire bytes of the same
 * payload in 1500-byte frames, at the rate. */
static uint64_t rl_wire_ns(const rl_switch_t *sw, size_t len)
{
    if (sw->rate_mbit == 0)
        return 0;
    size_t payload = len > 14 + RL_L3_HEADERS ? len - 14 - RL_L3_HEADERS : 0;
    size_t per = RL_WIRE_MTU - RL_L3_HEADERS;
    size_t nwire = payload == 0 ? 1 : (payload + per - 1) / per;
    uint64_t bits = (uint64_t)(payload + nwire * (RL_L3_HEADERS + RL_WIRE_OVERHEAD)) * 8u;
    if (len < 60) bits = (60 + 24) * 8u; /* the minimum frame */
    return bits * 1000u / sw->rate_mbit;
}

/* A free frame from the pool, or a new one; NULL when memory is out. */
static rl_frame_t *rl_frame_get(rl_switch_t *sw)
{
    rl_frame_t *f = sw->pool;
    if (f) {
        sw->pool = f->next;
        return f;
    }
    f = malloc(sizeof *f);
    if (f) sw->pool_frames++;
    return f;
}

static void rl_frame_put(rl_switch_t *sw, rl_frame_t *f)
{
    f->next = sw->pool;
    sw->pool = f;
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
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    strcpy(ifr.ifr_name, "eth0");
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        fprintf(stderr, "relay: %s: cannot create TAP device eth0: %s\n", ns_path, strerror(errno));
        close(fd);
        fd = -1;
        goto go_home;
    }
    /* the header's size is the plain one by default; the offload may be refused, and
     * then the hosts' kernels checksum in software, which costs time but is correct */
    int hdr = RL_VNET_HDR;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) != 0) {
        fprintf(stderr, "relay: %s: cannot set the virtio-net header size: %s\n", ns_path, strerror(errno));
        close(fd);
        fd = -1;
        goto go_home;
    }
    (void)ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM);
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

/* Queue frame f (a virtio-net header, then len - RL_VNET_HDR bytes of Ethernet) for
 * port dst, which left the sender's uplink at up_end_ns; the frame is the queue's now, or
 * back in the pool if the port's buffer is full. */
static void rl_enqueue(rl_switch_t *sw, int dst, rl_frame_t *f, uint64_t up_end_ns, uint64_t now)
{
    rl_port_t *p = &sw->port[dst];
    size_t len = f->len - RL_VNET_HDR;
    uint64_t wire = rl_wire_ns(sw, len), seg = rl_wire_ns(sw, len < RL_WIRE_MTU + 14 ? len : RL_WIRE_MTU + 14);
    /* the downlink starts as the first 1500 bytes are in (the real link's frames
     * pipeline), and cannot finish before the uplink has */
    uint64_t down_end = rl_max(up_end_ns + seg, p->down_free_ns + wire);
    if (sw->rate_mbit > 0 && p->queued > 0) {
        uint64_t limit = sw->hold_ns + 2 * rl_wire_ns(sw, RL_FRAME_MAX) +
                         (uint64_t)sw->buffer_bytes * 8000u / sw->rate_mbit;
        if (down_end - now > limit) {
            sw->dropped++;
            rl_frame_put(sw, f);
            return;
        }
    }
    f->next = NULL;
    f->due_ns = down_end + sw->delay_ns;
    if (f->due_ns < now) f->due_ns = now;
    if (p->tail && f->due_ns < p->tail->due_ns) f->due_ns = p->tail->due_ns; /* keep the order */
    p->down_free_ns = down_end;
    if (p->tail) p->tail->next = f;
    else p->head = f;
    p->tail = f;
    p->queued += len;
}

/* Is host src's uplink so far behind that it should not be read now? */
static int rl_held(const rl_switch_t *sw, int src, uint64_t now)
{
    return sw->rate_mbit > 0 && sw->port[src].up_free_ns > now + sw->hold_ns;
}

/* Read the frames waiting on port src, while its uplink keeps up. Each is read into the
 * buffer it will wait in; a broadcast is copied for every port but the last. */
static void rl_switch_receive(rl_switch_t *sw, int src, uint64_t now)
{
    rl_port_t *s = &sw->port[src];
    while (!rl_held(sw, src, now)) {
        rl_frame_t *f = rl_frame_get(sw);
        ssize_t n = read(s->fd, f ? f->data : sw->rx, RL_BUF_MAX);
        if (n < 0) {
            if (f) rl_frame_put(sw, f);
            return; /* EAGAIN: drained; other errors: the port is gone, nothing to do */
        }
        if (!f) {
            sw->dropped++; /* no memory for a buffer: the frame is lost, as on a full NIC */
            continue;
        }
        const unsigned char *eth = f->data + RL_VNET_HDR;
        int ok = n >= RL_VNET_HDR + 14 && n < RL_BUF_MAX;
        int group = ok && (eth[0] & 1);
        int dst = ok && !group ? rl_port_of_mac(sw, eth) : -1;
        if (!ok || (!group && (dst < 0 || dst == src))) {
            sw->dropped++;
            rl_frame_put(sw, f);
            continue;
        }
        f->len = (size_t)n;
        uint64_t up_end = rl_max(now, s->up_free_ns) + rl_wire_ns(sw, f->len - RL_VNET_HDR);
        s->up_free_ns = up_end;
        if (!group) {
            rl_enqueue(sw, dst, f, up_end, now);
            continue;
        }
        int last = -1;
        for (int p = 0; p < sw->n_ports; p++)
            if (p != src) last = p;
        for (int p = 0; p < last; p++) {
            if (p == src) continue;
            rl_frame_t *copy = rl_frame_get(sw);
            if (!copy) {
                sw->dropped++;
                continue;
            }
            memcpy(copy->data, f->data, f->len);
            copy->len = f->len;
            rl_enqueue(sw, p, copy, up_end, now);
        }
        if (last >= 0) rl_enqueue(sw, last, f, up_end, now);
        else rl_frame_put(sw, f);
    }
}

/* Deliver every frame whose time has come; a host that cannot take one drops it. */
static void rl_switch_send_due(rl_switch_t *sw, uint64_t now)
{
    for (int d = 0; d < sw->n_ports; d++) {
        rl_port_t *p = &sw->port[d];
        while (p->head && p->head->due_ns <= now) {
            rl_frame_t *f = p->head;
            if (write(p->fd, f->data, f->len) != (ssize_t)f->len)
                sw->dropped++;
            else {
                sw->frames++;
                sw->bytes += f->len - RL_VNET_HDR;
            }
            p->head = f->next;
            if (!p->head) p->tail = NULL;
            p->queued -= f->len - RL_VNET_HDR;
            rl_frame_put(sw, f);
        }
    }
}

/* Run until SIGTERM or SIGINT. Signals are delivered only inside ppoll, so the flag
 * cannot be missed between the check and the wait. */
static void rl_switch_run(rl_switch_t *sw, const sigset_t *wait_mask)
{
    struct pollfd pfd[RL_MAX_PORTS];

    while (!rl_stop) {
        uint64_t now = rl_now_ns();
        rl_switch_send_due(sw, now);

        /* sleep until the next delivery, or until a held uplink may be read again */
        uint64_t wake = UINT64_MAX;
        for (int p = 0; p < sw->n_ports; p++) {
            if (sw->port[p].head) wake = wake < sw->port[p].head->due_ns ? wake : sw->port[p].head->due_ns;
            int held = rl_held(sw, p, now);
            if (held) {
                uint64_t t = sw->port[p].up_free_ns - sw->hold_ns / 2;
                wake = wake < t ? wake : t;
            }
            pfd[p] = (struct pollfd){ .fd = sw->port[p].fd, .events = held ? 0 : POLLIN };
        }
        struct timespec ts, *timeout = NULL;
        if (wake != UINT64_MAX) {
            uint64_t wait = wake > now ? wake - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000000u);
            ts.tv_nsec = (long)(wait % 1000000000u);
            timeout = &ts;
        }
        int ready = ppoll(pfd, (nfds_t)sw->n_ports, timeout, wait_mask);
        now = rl_now_ns();
        if (ready > 0) {
            for (int p = 0; p < sw->n_ports; p++)
                if (pfd[p].revents & POLLIN)
                    rl_switch_receive(sw, p, now);
        }
    }
}

/* ------------------------------------------------------------------ main */

static void rl_usage(FILE *out)
{
    fprintf(out,
            "usage: relay --delay-us D [--rate-mbit R] [--queue-us U] [--buffer-kb B] [--pid-file FILE] NETNS_PATH...\n"
            "  creates a TAP device eth0 in each network namespace (e.g. /run/netns/h0) and\n"
            "  switches frames between them: each link (a host's uplink and downlink) carries\n"
            "  R Mbit/s (1 to %d; default: no limit) as a 1500-byte-MTU Ethernet would, and every\n"
            "  frame is delivered D microseconds (0 to %d) after it crossed; a port shared by\n"
            "  several senders buffers B KiB (default 1024) and drops beyond; a host's uplink\n"
            "  queue holds U microseconds of its rate (default 2000) before it is not read.\n"
            "  Hosts must use the MACs 02:cb:00:00:HI:LO of their position.\n"
            "  Prints 'ready' on stdout and closes it once every device exists; stops on\n"
            "  SIGTERM or SIGINT, removing the devices, and prints what it forwarded on stderr.\n",
            RL_MAX_RATE_MBIT, RL_MAX_DELAY_US);
}

/* A whole number in [min, max] for option what, or RL_ERR_USAGE. */
static rl_status_t rl_parse_num(const char *text, const char *what, long min, long max, const char *unit,
                                long *v_p)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "relay: %s: '%s': not a whole number of %s from %ld to %ld\n", what, text, unit, min,
                max);
        return RL_ERR_USAGE;
    }
    *v_p = v;
    return RL_OK;
}

int main(int argc, char **argv)
{
    rl_status_t status = RL_ERR_USAGE;
    static rl_switch_t sw;
    const char *pid_file = NULL;
    int have_delay = 0, home_ns = -1, first_ns = argc;
    long v;
    sigset_t block, wait_mask;

    sw.buffer_bytes = 1024 * 1024;
    sw.hold_ns = 2000000u;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            rl_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--delay-us") == 0 && i + 1 < argc) {
            if (rl_parse_num(argv[++i], "--delay-us", 0, RL_MAX_DELAY_US, "microseconds", &v) != RL_OK)
                return 2;
            sw.delay_ns = (uint64_t)v * 1000u;
            have_delay = 1;
        } else if (strcmp(argv[i], "--rate-mbit") == 0 && i + 1 < argc) {
            if (rl_parse_num(argv[++i], "--rate-mbit", 1, RL_MAX_RATE_MBIT, "Mbit/s", &v) != RL_OK)
                return 2;
            sw.rate_mbit = (uint64_t)v;
        } else if (strcmp(argv[i], "--buffer-kb") == 0 && i + 1 < argc) {
            if (rl_parse_num(argv[++i], "--buffer-kb", 0, 1 << 20, "KiB", &v) != RL_OK)
                return 2;
            sw.buffer_bytes = (size_t)v * 1024;
        } else if (strcmp(argv[i], "--queue-us") == 0 && i + 1 < argc) {
            if (rl_parse_num(argv[++i], "--queue-us", 10, 100000, "microseconds", &v) != RL_OK)
                return 2;
            sw.hold_ns = (uint64_t)v * 1000u;
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

    sw.rx = malloc(RL_BUF_MAX);
    if (!sw.rx) {
        fprintf(stderr, "relay: cannot allocate a frame buffer (%d bytes): %s\n", RL_BUF_MAX, strerror(errno));
        status = RL_ERR_SYS;
        goto done;
    }
    home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ns < 0) {
        fprintf(stderr, "relay: /proc/self/ns/net: %s\n", strerror(errno));
        status = RL_ERR_SYS;
        goto free_rx;
    }
    for (int p = 0; p < n_ports; p++) {
        status = rl_port_open(argv[first_ns + p], home_ns, &sw.port[p].fd);
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
    fprintf(stderr, "relay: %llu frames (%llu bytes) forwarded, %llu dropped; %zu frame buffers at most in flight\n",
            (unsigned long long)sw.frames, (unsigned long long)sw.bytes, (unsigned long long)sw.dropped,
            sw.pool_frames);
    /* the relay's own CPU time (not the hosts' TCP stacks, which the kernel charges to them) */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double user = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec;
        double sys = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
        fprintf(stderr, "relay: CPU %.3f s (user %.3f, system %.3f), %.3f CPU s per GB forwarded\n", user + sys,
                user, sys, sw.bytes > 0 ? (user + sys) / ((double)sw.bytes / 1e9) : 0.0);
    }
    status = RL_OK;
    if (pid_file)
        unlink(pid_file);
close_ports:
    for (int p = 0; p < sw.n_ports; p++) {
        close(sw.port[p].fd);
        for (rl_frame_t *f = sw.port[p].head, *nx; f; f = nx) {
            nx = f->next;
            free(f);
        }
    }
    for (rl_frame_t *f = sw.pool, *nx; f; f = nx) {
        nx = f->next;
        free(f);
    }
    close(home_ns);
free_rx:
    free(sw.rx);
done:
    return status == RL_OK ? 0 : status == RL_ERR_USAGE ? 2 : 1;
}
