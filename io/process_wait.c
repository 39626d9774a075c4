/* Waiting for a subprocess: a WAITID op on the pidfd (io_uring on 6.7+), or,
 * where the backend lacks it (epoll, older kernels, RINGO_NO_WAITID=1), a
 * POLL on the pidfd (readable once the child has exited) followed by a
 * non-blocking waitid. Either way only this child is reaped, never waitpid(-1).
 *
 * One task at a time has the op in flight; other waiters queue and are woken
 * when it ends, and if that task was cancelled, one of them takes over. */
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/process.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static void set_exited(ringo_process *p, const siginfo_t *si)
{
    p->exited = true;
    if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED)
        p->returncode = -si->si_status;
    else
        p->returncode = si->si_status;
}

int ringo__process_reap(ringo_process *p, bool block)
{
    if (p->exited)
        return 0;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int ret;
    do
        ret = waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | (block ? 0 : WNOHANG));
    while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        if (errno != ECHILD)
            return -errno;
        /* Reaped behind our back (SIGCHLD ignored, a waitpid(-1) elsewhere):
         * the status is lost. asyncio reports 255 then. */
        p->exited = true;
        p->reap_err = -ECHILD;
        p->returncode = 255;
        return 0;
    }
    if (si.si_pid == 0)
        return -EAGAIN;   /* WNOHANG, still running */
    set_exited(p, &si);
    return 0;
}

void ringo__process_kill_reap(ringo_process *p)
{
    if (p->exited)
        return;
    /* SIGKILL ends even a stopped child promptly, so the blocking wait is short. */
    (void)syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    (void)ringo__process_reap(p, true);
}

/* One round through the ring. 0 once p->exited, else -errno (-ECANCELED...). */
static int reap_op(ringo_loop *l, ringo_process *p)
{
    ringo__op op;
    if (p->use_waitid) {
        siginfo_t si;   /* on this stack: the call returns only after the op */
        memset(&si, 0, sizeof si);
        op.rq.io = (ringo__io){ .kind = RINGO_IO_WAITID, .fd = p->pidfd, .flags = WEXITED, .q = &si };
        int ret = ringo__io_wait(l, &op);
        if (ret == -ECHILD)
            return ringo__process_reap(p, false);   /* records the lost status */
        if (ret < 0)
            return ret;
        set_exited(p, &si);
        return 0;
    }
    op.rq.io = (ringo__io){ .kind = RINGO_IO_POLL, .fd = p->pidfd, .flags = POLLIN };
    int ret = ringo__io_wait(l, &op);
    if (ret < 0)
        return ret;
    ret = ringo__process_reap(p, false);
    return ret == -EAGAIN ? 0 : ret;   /* not yet (cannot happen after POLLIN): go round */
}

static int result(const ringo_process *p, int *returncode)
{
    if (p->reap_err)
        return p->reap_err;
    if (returncode)
        *returncode = p->returncode;
    return 0;
}

int ringo_process_wait(ringo_process *p, int *returncode)
{
    if (!p)
        return -EINVAL;
    if (p->exited)
        return result(p, returncode);
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    while (!p->exited) {
        if (p->reaping) {
            ringo__waiter w;
            ret = ringo__waitq_wait(l, &p->waiters, &w);
            if (ret < 0)
                return ret;
            if (l->current->cancelled)
                return -ECANCELED;   /* woken, then cancelled before running */
            continue;
        }
        p->reaping = true;
        ret = reap_op(l, p);
        p->reaping = false;
        /* Everyone re-checks: done, or the next one takes over the op. */
        while (ringo__waitq_grant(&p->waiters)) {}
        if (ret < 0)
            return ret;
    }
    return result(p, returncode);
}
