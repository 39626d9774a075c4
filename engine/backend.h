/* The backend seam: what io/ and the engine ask of the kernel, and the two
 * ways it is done. backend_uring.c submits each operation to the io_uring;
 * backend_epoll.c, where io_uring is refused, tries it as a nonblocking
 * system call, waits for readiness on EAGAIN, and sends what would block
 * the loop (regular files, paths) to the worker pool.
 *
 * An operation is described once (ringo__io), either awaited by the current
 * task (ringo__io_wait) or owned by an object with a completion handler
 * (ringo__io_start: streams, servers, signals, the pool's eventfd). The
 * handler always runs from a loop step, never inside the call that started
 * or cancelled the op, and may start ops itself. */
#ifndef RINGO_ENGINE_BACKEND_H
#define RINGO_ENGINE_BACKEND_H

#include "engine/internal.h"

/* An op the current task waits for (fill op->rq.io, then ringo__io_wait). */
struct ringo__op {
    ringo__req rq;
    ringo__wait wait;
    ringo_task *task;
    /* With a task deadline, on io_uring: the op's place among the timers,
     * for the wake-up when its linked timeout cuts it (fire NULL without). */
    ringo__timer tm;
};

/* What only one backend has; io/ asks before it relies on it. */
enum ringo__cap {
    RINGO_CAP_RECV_MULTI,     /* multishot recv into provided buffers */
    RINGO_CAP_SHUTDOWN,       /* RINGO_IO_SHUTDOWN as an op, not a syscall */
    RINGO_CAP_WAITID,
    RINGO_CAP_PATHS,          /* unlink/rename/mkdir in the kernel, not the pool */
    RINGO_CAP_MSG_RING,
    RINGO_CAP_RECVMSG_MULTI,  /* multishot recvmsg into provided buffers (6.0) */
    RINGO_CAP_SEND_ZC,        /* zero-copy send with its notification (6.0) */
};

enum ringo__backend { RINGO_BACKEND_URING, RINGO_BACKEND_EPOLL };

/* backend.c: choose (RINGO_BACKEND, RINGO_CFG_EPOLL, io_uring refused) and
 * open the backend for l; close it. */
int  ringo__backend_open(ringo_loop *l, const ringo_config *cfg);
void ringo__backend_close(ringo_loop *l);
/* Submit what is queued, wait if asked (up to the next timer), run the
 * completions, the expired timers and the inbox. */
void ringo__step(ringo_loop *l, bool wait);

/* backend_uring.c; quiet: no message when io_uring is refused (the caller
 * falls back). */
int  ringo__uring_open(ringo_loop *l, const ringo_config *cfg, bool quiet);
void ringo__uring_close(ringo_loop *l);
void ringo__uring_step(ringo_loop *l, bool wait);
bool ringo__uring_queued(ringo_loop *l);
bool ringo__uring_can(const ringo_loop *l, enum ringo__cap cap);
int  ringo__uring_wait(ringo_loop *l, ringo__op *op);
void ringo__uring_start(ringo_loop *l, ringo__req *rq);
void ringo__uring_cancel(ringo_loop *l, ringo__req *rq);
bool ringo__uring_patch(ringo_loop *l, ringo__req *rq);
bool ringo__uring_poke(ringo_loop *from, ringo_loop *to);
/* Whether io_uring_setup's error means "not here" (seccomp, the sysctl, an
 * old kernel) rather than a shortage: auto falls back on epoll then. */
bool ringo__uring_refused(int err);

/* backend_epoll.c */
int  ringo__epoll_open(ringo_loop *l);
void ringo__epoll_close(ringo_loop *l);
void ringo__epoll_step(ringo_loop *l, bool wait);
bool ringo__epoll_queued(ringo_loop *l);
int  ringo__epoll_wait(ringo_loop *l, ringo__op *op);
void ringo__epoll_start(ringo_loop *l, ringo__req *rq);
void ringo__epoll_cancel(ringo_loop *l, ringo__req *rq);
bool ringo__epoll_patch(ringo_loop *l, ringo__req *rq);
void ringo__epoll_forget(ringo_loop *l, int fd);

static inline bool ringo__is_epoll(const ringo_loop *l) { return l->backend == RINGO_BACKEND_EPOLL; }

/* Run op->rq.io for the current task (after ringo__enter): its result, or
 * -ECANCELED / -ETIMEDOUT if interrupted before it completed. Either way the
 * kernel (or worker) is done with its buffers when this returns. */
static inline int ringo__io_wait(ringo_loop *l, ringo__op *op)
{
    return ringo__is_epoll(l) ? ringo__epoll_wait(l, op) : ringo__uring_wait(l, op);
}

/* Start rq->io; rq->h.complete(&rq->h, res, flags) runs once it completes
 * (more than once for the multishot kinds). Safe from a handler. */
static inline void ringo__io_start(ringo_loop *l, ringo__req *rq)
{
    if (ringo__is_epoll(l))
        ringo__epoll_start(l, rq);
    else
        ringo__uring_start(l, rq);
}

/* Ask a started op to stop; its handler still runs (-ECANCELED, or the
 * result it had already). */
static inline void ringo__io_cancel(ringo_loop *l, ringo__req *rq)
{
    if (ringo__is_epoll(l))
        ringo__epoll_cancel(l, rq);
    else
        ringo__uring_cancel(l, rq);
}

/* rq was started and has not gone to the kernel yet: take the new rq->io.p
 * and rq->io.len (a stream's send growing). false once it is too late. */
static inline bool ringo__io_patch(ringo_loop *l, ringo__req *rq)
{
    return ringo__is_epoll(l) ? ringo__epoll_patch(l, rq) : ringo__uring_patch(l, rq);
}

/* Something is queued that a step would submit, though nobody waits on it. */
static inline bool ringo__backend_queued(ringo_loop *l)
{
    return ringo__is_epoll(l) ? ringo__epoll_queued(l) : ringo__uring_queued(l);
}

static inline bool ringo__can(const ringo_loop *l, enum ringo__cap cap)
{
    return !ringo__is_epoll(l) && ringo__uring_can(l, cap);
}

/* fd is about to be closed, or is new: the backend drops what it knew of the
 * number (readiness, registration, its kind). */
static inline void ringo__fd_forget(ringo_loop *l, int fd)
{
    ringo__offload_forget(l, fd);
    if (ringo__is_epoll(l))
        ringo__epoll_forget(l, fd);
}

#endif
