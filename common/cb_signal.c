/* SIGINT/SIGTERM/SIGHUP: an orderly stop at the first, an immediate end at a
 * second; SIGPIPE: recorded, then the default end (cb_signal.h). The handler
 * only records the signal and writes it into a pipe; a thread reads the pipe
 * and does everything else (messages, the results hook, _exit), so that no
 * lock is ever taken inside a handler. */
#define _GNU_SOURCE
#include "cb_signal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cb_mpi.h"
#include "cb_status.h"

typedef struct {
    int sig;
    int pid; /* si_pid: the sender */
} sig_msg_t;

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

static volatile sig_atomic_t first_sig = 0;
static volatile sig_atomic_t first_pid = 0;
static volatile sig_atomic_t finishing = 0; /* cb_signal_finishing(): the program is ending anyway */
static int sig_pipe[2] = { -1, -1 };
static int ack_pipe[2] = { -1, -1 }; /* the thread to a SIGPIPE handler: the hook is done */
static int started = 0;
static pthread_t watch_thread;
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static cb_signal_hook_t hook = NULL;

int cb_signal_pending(void) { return first_sig; }
int cb_signal_sender(void) { return first_pid; }
void cb_signal_finishing(void) { finishing = 1; }

void cb_signal_set_hook(cb_signal_hook_t h)
{
    pthread_mutex_lock(&hook_lock); /* waits for a hook that is running */
    hook = h;
    pthread_mutex_unlock(&hook_lock);
}

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    int saved = errno;
    sig_msg_t m = { sig, info ? (int)info->si_pid : 0 };
    if (!first_sig) {
        first_pid = m.pid;
        first_sig = sig;
    }
    ssize_t ignored = write(sig_pipe[1], &m, sizeof m);
    (void)ignored;
    errno = saved;
}

/* SIGPIPE, on the thread that wrote to the closed connection (cb_signal.h):
 * hand it to the signal thread, wait until its hook has recorded it, then end
 * the process by SIGPIPE as the default action would (re-raised here, blocked
 * until the handler returns). poll, write and sigaction are async-signal-safe. */
static void on_pipe(int sig, siginfo_t *info, void *uctx)
{
    (void)info, (void)uctx;
    sig_msg_t m = { sig, 0 };
    if (!pthread_equal(pthread_self(), watch_thread) && write(sig_pipe[1], &m, sizeof m) == (ssize_t)sizeof m) {
        struct pollfd p = { .fd = ack_pipe[0], .events = POLLIN };
        while (poll(&p, 1, (int)(CB_SIGPIPE_WAIT_S * 1000)) < 0 && errno == EINTR)
            ;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGPIPE, &dfl, NULL);
    raise(SIGPIPE);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void call_hook(int sig, int final)
{
    pthread_mutex_lock(&hook_lock);
    if (hook)
        hook(sig, final);
    pthread_mutex_unlock(&hook_lock);
}

static void *watch(void *arg)
{
    (void)arg;
    sig_msg_t first = { 0, 0 };
    double t_first = 0;
    for (;;) {
        sig_msg_t m;
        ssize_t n = read(sig_pipe[0], &m, sizeof m);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof m)
            return NULL;
        if (m.sig == SIGPIPE) {
            call_hook(SIGPIPE, 1); /* the process ends when the handler returns */
            char done = 1;
            ssize_t ignored = write(ack_pipe[1], &done, 1);
            (void)ignored;
            continue;
        }
        if (!first.sig) {
            first = m;
            t_first = now_s();
            if (cb_rank() == 0 && !finishing) {
                fprintf(stderr, "%s: SIG%s: stopping after the current step (a second signal ends the run at once)\n",
                        cb_program(), sigabbrev_np(m.sig) ? sigabbrev_np(m.sig) : "?");
                fflush(stderr);
            }
            call_hook(m.sig, 0);
            continue;
        }
        if (m.pid != first.pid && now_s() - t_first < CB_SIGNAL_GRACE_S)
            continue; /* the same stop passed on by another sender (the launcher after a Ctrl-C) */
        call_hook(m.sig, 1);
        if (cb_rank() == 0) {
            fprintf(stderr, "%s: SIG%s again: ending at once\n", cb_program(),
                    sigabbrev_np(m.sig) ? sigabbrev_np(m.sig) : "?");
            fflush(stderr);
        }
        _exit(128 + m.sig);
    }
}

int cb_signal_init(void)
{
    if (started)
        return 0;
    if (pipe2(sig_pipe, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(ack_pipe, O_CLOEXEC) != 0) {
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread inherits a full mask */
    int rc = pthread_create(&watch_thread, NULL, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        close(ack_pipe[0]);
        close(ack_pipe[1]);
        return -1;
    }
    pthread_detach(watch_thread);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        sigaction(stop_signals[i], &sa, NULL);
    sa.sa_sigaction = on_pipe;
    sigaction(SIGPIPE, &sa, NULL);
    started = 1;
    return 0;
}
