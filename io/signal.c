/* ringo_wait_signal (asyncio's add_signal_handler, as a wait).
 *
 * One signalfd per loop, created on the first wait, covers exactly the
 * signals some task waits on. Each of them is blocked on the loop's thread
 * while it has a waiter (the workers block everything already), so it stays
 * pending for the signalfd instead of taking its normal disposition. One
 * read of the signalfd is in flight exactly while some task waits
 * (counted in l->inflight, like the worker pool's eventfd read): with no
 * waiter the loop must be able to finish or detect a deadlock.
 *
 * A delivery wakes every task waiting on that signal, and that signal's
 * waiters are gone at once: in the same completion handler it leaves the
 * signalfd's mask and is unblocked again (if we blocked it). So ringo
 * consumes a signal only while a task waits for it. An instance that arrives
 * after the delivery (or while the last waiter leaves) is not kept for a
 * later waiter: it takes its normal disposition when unblocked. A signal the
 * user blocks himself stays blocked and pending, and the next waiter gets
 * it: the read finds it, also one already in flight, since changing a
 * signalfd's mask wakes its pollers. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "engine/backend.h"
#include "engine/run.h"

typedef struct sig_waiter {
    rlist link;              /* on st->waiters[signo] until delivered or gone */
    ringo__wait wait;
    ringo_task *task;
    int signo;
    int res;                 /* 0 while waiting, then signo or -errno */
} sig_waiter;

typedef struct sig_state {
    ringo__closer closer;
    ringo__req rq;           /* the signalfd read */
    ringo_loop *loop;
    int fd;
    size_t nwaiters;         /* over all signals */
    sigset_t mask;           /* signals with waiters: the signalfd's mask */
    sigset_t ours;           /* those we blocked (were unblocked before) */
    sigset_t announced;      /* those the other loops of the run block for us */
    bool reading, cancelling;
    struct signalfd_siginfo si;   /* the read's buffer */
    rlist waiters[NSIG];
} sig_state;

/* One loop per thread, so the thread finds its loop's state here. */
static __thread sig_state *state;

/* ---- many loops ----------------------------------------------------------
 * A process-directed signal goes to any thread that does not block it. So
 * while a loop of a run waits for a signal, every loop's thread blocks it
 * (the run's own thread and the workers block everything): it stays pending
 * until a waiting loop's signalfd reads it, and is delivered there. A loop
 * that starts waiting has every other loop update its mask before its wait
 * begins (a task spawned on each, awaited); one that stops tells them
 * without waiting. */

static __thread sigset_t run_blocked;   /* what this thread blocks for the run */

static int sync_mask(void *arg)
{
    (void)arg;
    ringo_loop *l = ringo__loop;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    for (int s = 1; s < NSIG && s < 65; s++) {
        bool want = atomic_load(&l->run->sig_loops[s]) > 0;
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, s);
        if (want && !sigismember(&cur, s)) {
            pthread_sigmask(SIG_BLOCK, &one, NULL);
            sigaddset(&run_blocked, s);
        } else if (!want && sigismember(&run_blocked, s)) {
            sigdelset(&run_blocked, s);
            pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        }
    }
    return 0;
}

/* This loop's signalfd took signo: the others block it before we wait. */
static void run_block(ringo_loop *l, int signo)
{
    struct ringo__run *run = l->run;
    if (run->n < 2 || signo >= 65)
        return;
    atomic_fetch_add(&run->sig_loops[signo], 1);
    ringo_task *t[64];
    size_t n = 0;
    for (unsigned i = 0; i < run->n; i++) {
        if (i == l->index)
            continue;
        if (n == sizeof t / sizeof t[0]) {
            (void)ringo_gather(t, n, NULL);
            n = 0;
        }
        if (ringo_spawn_on(run->loops[i], &t[n], sync_mask, NULL) == 0)
            n++;
    }
    (void)ringo_gather(t, n, NULL);   /* a cancelled caller still waits for them */
}

/* This loop's signalfd let signo go. */
static void run_unblock(ringo_loop *l, int signo)
{
    struct ringo__run *run = l->run;
    if (run->n < 2 || signo >= 65 || atomic_fetch_sub(&run->sig_loops[signo], 1) != 1)
        return;
    for (unsigned i = 0; i < run->n; i++)
        if (i != l->index)
            (void)ringo_call_soon_threadsafe(run->loops[i], sync_mask, NULL);
}

/* ---- the mask ----------------------------------------------------------- */

/* signo got its first waiter: block it and add it to the signalfd. */
static int sig_add(sig_state *st, int signo)
{
    sigset_t cur, one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    pthread_sigmask(SIG_BLOCK, &one, &cur);
    sigaddset(&st->mask, signo);
    if (signalfd(st->fd, &st->mask, 0) < 0) {
        int err = -errno;
        sigdelset(&st->mask, signo);
        if (!sigismember(&cur, signo))
            pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        return err;
    }
    if (!sigismember(&cur, signo))
        sigaddset(&st->ours, signo);
    return 0;
}

/* signo lost its last waiter: out of the signalfd, and unblocked if we
 * blocked it (a pending instance is delivered normally right here). */
static void sig_drop(sig_state *st, int signo)
{
    if (sigismember(&st->announced, signo)) {
        sigdelset(&st->announced, signo);
        run_unblock(st->loop, signo);
    }
    sigdelset(&st->mask, signo);
    (void)signalfd(st->fd, &st->mask, 0);   /* only fails on a bad fd or mask */
    if (sigismember(&st->ours, signo)) {
        sigdelset(&st->ours, signo);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    }
}

/* ---- the read ----------------------------------------------------------- */

static void arm(sig_state *st)
{
    if (st->reading || !st->nwaiters)
        return;
    st->rq.io = (ringo__io){ .kind = RINGO_IO_READ, .fd = st->fd, .p = &st->si,
                             .len = sizeof st->si, .off = -1 };
    ringo__io_start(st->loop, &st->rq);
    st->reading = true;
    st->loop->inflight++;
}

/* Nobody waits any more: cancel the read. Its completion (-ECANCELED, or a
 * signal it took just before) still comes, and keeps it counted till then. */
static void disarm(sig_state *st)
{
    if (!st->reading || st->cancelling)
        return;
    st->cancelling = true;
    ringo__io_cancel(st->loop, &st->rq);
}

/* Wake every waiter on signo with res; they are off the list at once. */
static void wake_all(sig_state *st, int signo, int res)
{
    rlist *head = &st->waiters[signo];
    while (!rlist_empty(head)) {
        sig_waiter *w = rlist_entry(head->next, sig_waiter, link);
        rlist_del(&w->link);
        st->nwaiters--;
        w->res = res;
        ringo__wake(w->task);
    }
    sig_drop(st, signo);
}

static void read_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    (void)flags;
    sig_state *st = (sig_state *)((char *)h - offsetof(sig_state, rq));
    ringo_loop *l = st->loop;
    st->reading = st->cancelling = false;
    l->inflight--;
    if (res == (int)sizeof st->si) {
        int signo = (int)st->si.ssi_signo;
        if (signo > 0 && signo < NSIG && !rlist_empty(&st->waiters[signo])) {
            wake_all(st, signo, signo);
        } else if (signo > 0 && signo < NSIG) {
            /* Taken just as its last waiter left (the cancel lost the race):
             * hand it back to its normal disposition; it is unblocked now
             * unless the user blocks it, then it waits for the next waiter. */
            (void)raise(signo);
        }
    } else if (res < 0 && res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
        /* The signalfd broke: tell every waiter rather than hang them. */
        for (int s = 1; s < NSIG; s++)
            if (!rlist_empty(&st->waiters[s]))
                wake_all(st, s, res);
    }
    arm(st);
}

/* ---- the loop's state ---------------------------------------------------- */

static void state_close(ringo__closer *c, ringo_loop *l)
{
    sig_state *st = (sig_state *)((char *)c - offsetof(sig_state, closer));
    /* Every task has finished, so nobody waits: at most a cancelled read is
     * still in flight, and the kernel writes st->si until its completion. */
    disarm(st);
    while (st->reading)
        ringo__step(l, true);
    ringo__fd_forget(l, st->fd);
    close(st->fd);
    free(st);
    state = NULL;
}

static int state_get(ringo_loop *l, sig_state **out)
{
    if (state && state->loop == l) {
        *out = state;
        return 0;
    }
    sig_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    sigemptyset(&st->mask);
    sigemptyset(&st->ours);
    sigemptyset(&st->announced);
    /* Blocking on purpose, like the pool's eventfd: io_uring would answer
     * a read of a nonblocking one with -EAGAIN, not wait for a signal. */
    st->fd = signalfd(-1, &st->mask, SFD_CLOEXEC);
    if (st->fd < 0) {
        int err = -errno;
        free(st);
        return err;
    }
    for (int s = 0; s < NSIG; s++)
        rlist_init(&st->waiters[s]);
    st->loop = l;
    st->rq.h.complete = read_complete;
    st->closer.close = state_close;
    ringo__at_close(l, &st->closer);
    state = st;
    *out = st;
    return 0;
}

/* ---- the wait ------------------------------------------------------------ */

/* w leaves before any delivery (cancelled, timed out). */
static void waiter_leave(sig_state *st, sig_waiter *w)
{
    rlist_del(&w->link);
    st->nwaiters--;
    if (rlist_empty(&st->waiters[w->signo]))
        sig_drop(st, w->signo);
    if (!st->nwaiters)
        disarm(st);
}

static void waiter_describe(const ringo__wait *wt, char *buf, size_t n)
{
    const sig_waiter *w = (const sig_waiter *)((const char *)wt - offsetof(sig_waiter, wait));
    snprintf(buf, n, "signal %d", w->signo);
}

static void waiter_cancel(ringo__wait *wt)
{
    sig_waiter *w = (sig_waiter *)((char *)wt - offsetof(sig_waiter, wait));
    waiter_leave(state, w);
    ringo__wake(w->task);
}

int ringo_wait_signal(int signo)
{
    /* 32 and 33 (below SIGRTMIN) belong to glibc, which won't block them. */
    if (signo <= 0 || signo > SIGRTMAX || (signo > 31 && signo < SIGRTMIN) ||
        signo == SIGKILL || signo == SIGSTOP)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    sig_state *st = NULL;   /* gcc cannot see state_get sets it on success */
    ret = state_get(l, &st);
    if (ret < 0)
        return ret;
    rlist *head = &st->waiters[signo];
    if (!sigismember(&st->announced, signo)) {
        sigaddset(&st->announced, signo);
        run_block(l, signo);   /* may suspend */
        if ((ret = ringo__interrupted(l->current)) < 0 && rlist_empty(head)) {
            sigdelset(&st->announced, signo);
            run_unblock(l, signo);
            return ret;
        }
    }
    if (rlist_empty(head) && (ret = sig_add(st, signo)) < 0) {
        sigdelset(&st->announced, signo);
        run_unblock(l, signo);
        return ret;
    }
    sig_waiter w = { .wait = { .cancel = waiter_cancel, .describe = waiter_describe }, .task = l->current, .signo = signo };
    rlist_push(head, &w.link);
    st->nwaiters++;
    arm(st);
    int why = ringo__wait_on(l, &w.wait);
    /* Delivered, then cancelled before running: the signal is spent, but the
     * task must unwind all the same. */
    if (w.res)
        return l->current->cancelled && w.res > 0 ? -ECANCELED : w.res;
    if (why)
        return why;
    /* Woken by neither: the deadlock breaker (cannot happen while the read
     * is in flight, but leave no node behind). */
    waiter_leave(st, &w);
    return -EDEADLK;
}
