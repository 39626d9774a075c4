/* The io_uring backend: setup with the best flags the kernel takes, op
 * probing, each ringo__io prepared as an SQE, submission and reaping.
 *
 * An awaited op resumes its task only from its own CQE, also when
 * cancelled: the cancel request is a second SQE, and the kernel is done with
 * the op's buffers once its CQE has arrived. A task deadline rides along as
 * an IORING_OP_LINK_TIMEOUT; an op cut by it is a timer-driven wake-up like
 * any other: the task is woken through the timer heap, where it takes its
 * place by deadline among the sleeps and deadlines that expired in the same
 * batch (the kernel posts those CQEs in submission order). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "engine/backend.h"
#include "engine/inbox.h"

/* io_uring lengths are 32-bit; like read(2), cap a single transfer. */
#define RINGO_MAX_IO 0x7ffff000u
/* IORING_OP_WAITID (Linux 6.7), after READ_MULTISHOT (49); the uapi headers
 * of liburing 2.3 predate it. (54 is FIXED_FD_INSTALL.) */
#define RINGO_OP_WAITID 50

#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

#define RINGO_DEFAULT_ENTRIES 256u
#define RINGO_CQ_MIN 4096u

static int try_setup(ringo_loop *l, unsigned entries, unsigned flags)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* Many tasks may each have an op in flight: a CQ much larger than the SQ
     * keeps overflow (handled, but slow) rare. */
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = entries * 4 > RINGO_CQ_MIN ? entries * 4 : RINGO_CQ_MIN;
    if (flags & IORING_SETUP_SQPOLL)
        p.sq_thread_idle = 50;
    int ret = io_uring_queue_init_params(entries, &l->ring, &p);
    if (ret == 0)
        l->setup_flags = flags;
    return ret;
}

static inline bool ringo__has_op(const ringo_loop *l, unsigned op)
{
    return op < sizeof l->ops && l->ops[op];
}

static void probe_ops(ringo_loop *l)
{
    memset(l->ops, 0, sizeof l->ops);
    struct io_uring_probe *pr = io_uring_get_probe_ring(&l->ring);
    if (!pr)
        return;
    for (unsigned op = 0; op < sizeof l->ops && op <= pr->last_op; op++)
        l->ops[op] = io_uring_opcode_supported(pr, (int)op) ? 1 : 0;
    io_uring_free_probe(pr);
}

/* The sender's MSG_RING could not be posted (the target's CQ overflowed):
 * fall back on the eventfd, so the wake-up is never lost. */
static void ring_failed(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    (void)flags;
    if (res < 0)
        ringo__inbox_kick((ringo_loop *)((char *)h - offsetof(ringo_loop, inbox.ring_fail_h)));
}

static void ring_arrived(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    (void)h;   /* its work is done: the loop left the kernel and drains */
    (void)res;
    (void)flags;
}

bool ringo__uring_refused(int err)
{
    return err == -EPERM || err == -ENOSYS || err == -EACCES;
}

static void explain_failure(int err)
{
    fprintf(stderr,
            "ringo: cannot create an io_uring (%s): check that the kernel has io_uring "
            "(Linux 5.10 or newer), that sysctl kernel.io_uring_disabled is 0, and that "
            "no seccomp profile (a container runtime's default one) blocks io_uring_setup\n",
            strerror(-err));
}

int ringo__uring_open(ringo_loop *l, const ringo_config *cfg, bool quiet)
{
    rlist_init(&l->deferred);
    unsigned entries = cfg && cfg->entries ? cfg->entries : RINGO_DEFAULT_ENTRIES;
    if (entries > 32768)
        return -EINVAL;
    int ret = -EINVAL;
    if (cfg && (cfg->flags & RINGO_CFG_SQPOLL))
        ret = try_setup(l, entries, IORING_SETUP_SQPOLL | IORING_SETUP_SINGLE_ISSUER);
    /* Best first: one issuer, completions run only when we ask (no IPIs),
     * then cooperative task work, then whatever the kernel has. */
    static const unsigned ladder[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    for (size_t i = 0; ret < 0 && i < sizeof ladder / sizeof ladder[0]; i++) {
        ret = try_setup(l, entries, ladder[i]);
        if (ret == -ENOMEM || ret == -EPERM || ret == -ENOSYS)
            break;   /* no flag combination will change that */
    }
    if (ret < 0) {
        if (!(quiet && ringo__uring_refused(ret)))
            explain_failure(ret);
        return ret;
    }
    l->defer_taskrun = (l->setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0;
    /* Saves an fget/fput per io_uring_enter where the kernel allows it. */
    (void)io_uring_register_ring_fd(&l->ring);
    probe_ops(l);
    l->inbox.ring_h.complete = ring_arrived;
    l->inbox.ring_fail_h.complete = ring_failed;
    return 0;
}

void ringo__uring_close(ringo_loop *l)
{
    io_uring_queue_exit(&l->ring);
}

/* Each CQE is copied and consumed before its handler runs: a handler may
 * need an SQE, and getting one may reap (when the SQ is full and the CQ
 * backed up), so a nested reap must find only CQEs nobody has seen. */
static unsigned reap_ready(ringo_loop *l)
{
    struct io_uring_cq *cq = &l->ring.cq;
    unsigned n = 0;
    for (;;) {
        unsigned head = *cq->khead;
        if (head == io_uring_smp_load_acquire(cq->ktail))
            return n;
        struct io_uring_cqe c = cq->cqes[head & *cq->kring_mask];
        io_uring_smp_store_release(cq->khead, head + 1);
        n++;
        /* 0: nobody waits (cancel requests, linked timeouts);
         * LIBURING_UDATA_TIMEOUT: liburing's own wait timeout on kernels
         * without IORING_FEAT_EXT_ARG. */
        if (c.user_data && c.user_data != LIBURING_UDATA_TIMEOUT) {
            ringo__cqe_handler *h = (ringo__cqe_handler *)(uintptr_t)c.user_data;
            h->complete(h, c.res, c.flags);
        }
    }
}

static void flush_deferred(ringo_loop *l);

static void reap(ringo_loop *l)
{
    bool outer = !l->reaping;
    l->reaping = true;
    for (;;) {
        unsigned n = reap_ready(l);
        /* Completions the kernel could not fit in the CQ wait in an overflow
         * list; they are flushed into the ring by the next enter. */
        if (!(IO_URING_READ_ONCE(*l->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW))
            break;
        if (io_uring_get_events(&l->ring) < 0 && n == 0)
            break;
    }
    if (outer) {
        l->reaping = false;
        if (RINGO_UNLIKELY(!rlist_empty(&l->deferred)))
            flush_deferred(l);
    }
}

static int submit(ringo_loop *l, bool wait)
{
    if (wait) {
        int64_t next = ringo__timer_next(l);
        if (next == INT64_MAX)
            return io_uring_submit_and_wait(&l->ring, 1);
        int64_t d = next - ringo_now();
        if (d <= 0)
            return l->defer_taskrun ? io_uring_submit_and_get_events(&l->ring)
                                    : io_uring_submit(&l->ring);
        struct __kernel_timespec ts = { .tv_sec = d / RINGO_SEC(1), .tv_nsec = d % RINGO_SEC(1) };
        struct io_uring_cqe *cqe;
        return io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
    }
    if (l->defer_taskrun)
        return io_uring_submit_and_get_events(&l->ring);
    return io_uring_submit(&l->ring);
}

bool ringo__uring_queued(ringo_loop *l)
{
    return io_uring_sq_ready(&l->ring) != 0;
}

void ringo__uring_step(ringo_loop *l, bool wait)
{
    if (!wait && io_uring_sq_ready(&l->ring) == 0) {
        /* Nothing to submit: under DEFER_TASKRUN completions are only posted
         * when we enter the kernel, so do that now and then while tasks keep
         * the run queue busy; otherwise reading the CQ is enough. */
        if (l->defer_taskrun && l->inflight && (++l->tick & 15) == 0)
            (void)io_uring_get_events(&l->ring);
        reap(l);
        return;
    }
    if (wait) {   /* about to idle: a good moment to shrink caches and limits */
        coro_pool_trim(&l->pool, l->now);   /* fresh enough for a 1 s period */
        ringo__offload_idle(l);
    }
    ringo__offload_submitted(l);
    int ret = submit(l, wait);
    /* -EBUSY/-EAGAIN: the CQ is backed up; reaping makes room, and the SQEs
     * not taken stay in the SQ for the next step. -EINTR: a signal. */
    if (ret < 0 && ret != -EBUSY && ret != -EAGAIN && ret != -EINTR && ret != -ETIME) {
        fprintf(stderr, "ringo: io_uring_enter failed: %s\n", strerror(-ret));
        abort();
    }
    reap(l);
}

static struct io_uring_sqe *get_sqe(ringo_loop *l)
{
    /* Keep one more slot free than asked, so an op and its linked timeout
     * always land in the same submission (a flush between them would cut
     * the link). */
    while (RINGO_UNLIKELY(io_uring_sq_space_left(&l->ring) < 2)) {
        int ret = io_uring_submit(&l->ring);
        if (ret == -EBUSY || ret == -EAGAIN)
            reap(l);   /* only queues tasks: safe from inside one */
    }
    return io_uring_get_sqe(&l->ring);
}

/* ---- ringo__io as SQEs --------------------------------------------------- */

static unsigned cap_len(size_t n) { return n > RINGO_MAX_IO ? RINGO_MAX_IO : (unsigned)n; }

static void prep(struct io_uring_sqe *sqe, const ringo__io *io)
{
    switch ((enum ringo__io_kind)io->kind) {
    case RINGO_IO_NOP:
        io_uring_prep_nop(sqe);
        break;
    case RINGO_IO_READ:
        io_uring_prep_read(sqe, io->fd, io->p, cap_len(io->len), (uint64_t)io->off);
        if (io->how != RINGO_READ_PLAIN)
            sqe->rw_flags = RWF_NOWAIT;
        if (io->how == RINGO_READ_OFFLOAD)
            sqe->flags |= IOSQE_ASYNC;
        break;
    case RINGO_IO_WRITE:
        io_uring_prep_write(sqe, io->fd, io->p, cap_len(io->len), (uint64_t)io->off);
        break;
    case RINGO_IO_READV:
        io_uring_prep_readv(sqe, io->fd, io->p, io->len, (uint64_t)io->off);
        break;
    case RINGO_IO_WRITEV:
        io_uring_prep_writev(sqe, io->fd, io->p, io->len, (uint64_t)io->off);
        break;
    case RINGO_IO_RECV:
        io_uring_prep_recv(sqe, io->fd, io->p, cap_len(io->len), io->flags);
        break;
    case RINGO_IO_SEND:
        io_uring_prep_send(sqe, io->fd, io->p, cap_len(io->len), io->flags);
        break;
    case RINGO_IO_ACCEPT:
        io_uring_prep_accept(sqe, io->fd, io->p, io->q, io->flags);
        break;
    case RINGO_IO_CONNECT:
        io_uring_prep_connect(sqe, io->fd, io->p, (socklen_t)io->u);
        break;
    case RINGO_IO_POLL:
        io_uring_prep_poll_add(sqe, io->fd, (unsigned)(unsigned short)io->flags);
        break;
    case RINGO_IO_CLOSE:
        io_uring_prep_close(sqe, io->fd);
        break;
    case RINGO_IO_OPEN:
        io_uring_prep_openat(sqe, AT_FDCWD, io->p, io->flags, (mode_t)io->u);
        break;
    case RINGO_IO_FSYNC:
        io_uring_prep_fsync(sqe, io->fd, io->flags ? IORING_FSYNC_DATASYNC : 0);
        break;
    case RINGO_IO_STATX:
        io_uring_prep_statx(sqe, io->fd, io->p, io->flags, io->len, io->q);
        break;
    case RINGO_IO_UNLINK:
        io_uring_prep_unlinkat(sqe, AT_FDCWD, io->p, 0);
        break;
    case RINGO_IO_RENAME:
        io_uring_prep_renameat(sqe, AT_FDCWD, io->p, AT_FDCWD, io->q, 0);
        break;
    case RINGO_IO_MKDIR:
        io_uring_prep_mkdirat(sqe, AT_FDCWD, io->p, (mode_t)io->u);
        break;
    case RINGO_IO_SHUTDOWN:
        io_uring_prep_shutdown(sqe, io->fd, io->flags);
        break;
    case RINGO_IO_WAITID:
        /* io_waitid_prep: len = idtype, fd = id, file_index = options,
         * addr2 = siginfo; addr, buf_index, addr3 and the flags must be 0
         * (io_uring_prep_rw clears them; it sets off, the union with addr2). */
        io_uring_prep_rw(RINGO_OP_WAITID, sqe, io->fd, NULL, P_PIDFD, 0);
        sqe->file_index = (unsigned)io->flags;
        sqe->addr2 = (uint64_t)(uintptr_t)io->q;
        break;
    case RINGO_IO_ACCEPT_MULTI:
        io_uring_prep_multishot_accept(sqe, io->fd, NULL, NULL, io->flags);
        break;
    case RINGO_IO_RECV_MULTI:
        io_uring_prep_recv_multishot(sqe, io->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = (uint16_t)io->u;
        break;
    case RINGO_IO_RECVMSG:
        io_uring_prep_recvmsg(sqe, io->fd, io->p, (unsigned)io->flags);
        break;
    case RINGO_IO_SENDMSG:
        io_uring_prep_sendmsg(sqe, io->fd, io->p, (unsigned)io->flags);
        break;
    case RINGO_IO_RECVMSG_MULTI:
        io_uring_prep_recvmsg_multishot(sqe, io->fd, io->p, (unsigned)io->flags);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = (uint16_t)io->u;
        break;
    case RINGO_IO_SPLICE:
        io_uring_prep_splice(sqe, io->fd, io->off, (int)io->u, -1, io->len, (unsigned)io->flags);
        break;
    case RINGO_IO_SEND_ZC:
        io_uring_prep_send_zc(sqe, io->fd, io->p, cap_len(io->len), io->flags, 0);
        break;
    }
}

bool ringo__uring_can(const ringo_loop *l, enum ringo__cap cap)
{
    switch (cap) {
    case RINGO_CAP_RECV_MULTI: return ringo__has_op(l, IORING_OP_RECV);
    case RINGO_CAP_SHUTDOWN: return ringo__has_op(l, IORING_OP_SHUTDOWN);
    case RINGO_CAP_WAITID: return ringo__has_op(l, RINGO_OP_WAITID);
    case RINGO_CAP_PATHS:
        return ringo__has_op(l, IORING_OP_UNLINKAT) && ringo__has_op(l, IORING_OP_RENAMEAT) &&
               ringo__has_op(l, IORING_OP_MKDIRAT);
    case RINGO_CAP_MSG_RING: return ringo__has_op(l, IORING_OP_MSG_RING);
    /* Multishot recvmsg came with 6.0, as SEND_ZC did; no probe names it. */
    case RINGO_CAP_RECVMSG_MULTI:
        return ringo__has_op(l, IORING_OP_RECVMSG) && ringo__has_op(l, IORING_OP_SEND_ZC);
    case RINGO_CAP_SEND_ZC: return ringo__has_op(l, IORING_OP_SEND_ZC);
    }
    return false;
}

/* ---- awaited ops --------------------------------------------------------- */

static void timed_out_fire(ringo__timer *tm)
{
    ringo__wake(((ringo__op *)((char *)tm - offsetof(ringo__op, tm)))->task);
}

static void op_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    ringo__op *op = (ringo__op *)h;
    ringo_loop *l = op->task->loop;
    op->rq.res = res;
    op->rq.flags = flags;
    l->inflight--;
    /* Cancelled with no interruption (wait.why 0) and not by the task's
     * cancel: the linked timeout cut it, and the task wakes in the timers'
     * order. An interruption of another kind (ringo__interrupt: an endpoint
     * closed under it) wakes it now. */
    if (RINGO_UNLIKELY(op->tm.fire) && (res == -ECANCELED || res == -EINTR) && !op->wait.why &&
        !op->task->cancelled && ringo__timer_insert(l, &op->tm) == 0)
        return;
    ringo__wake(op->task);
}

/* A zero-copy send completes twice: its result (RINGO_CQE_MORE when the
 * kernel still holds the buffer), then the notification that it let go. The
 * task waits for both, so its buffer is its own again when the wait returns. */
static void zc_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    ringo__op *op = (ringo__op *)h;
    if (flags & RINGO_CQE_NOTIF) {
        op_complete(h, op->rq.res, op->rq.flags);
        return;
    }
    if (flags & RINGO_CQE_MORE) {
        op->rq.res = res;
        op->rq.flags = flags & ~RINGO_CQE_MORE;
        return;
    }
    op_complete(h, res, flags);
}

static void offloaded_complete(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    ringo__offload_done(((ringo__op *)h)->task->loop);
    op_complete(h, res, flags);
}

static void op_cancel(ringo__wait *w)
{
    ringo__op *op = (ringo__op *)((char *)w - offsetof(ringo__op, wait));
    struct io_uring_sqe *sqe = get_sqe(op->task->loop);
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&op->rq.h, 0);
    io_uring_sqe_set_data64(sqe, 0);
}

int ringo__uring_wait(ringo_loop *l, ringo__op *op)
{
    ringo_task *cur = l->current;
    struct io_uring_sqe *sqe = get_sqe(l);
    prep(sqe, &op->rq.io);
    op->rq.h.complete = op->rq.io.kind == RINGO_IO_SEND_ZC   ? zc_complete
                        : op->rq.io.how == RINGO_READ_OFFLOAD ? offloaded_complete
                                                              : op_complete;
    op->wait.cancel = op_cancel;
    op->wait.describe = ringo__op_describe;
    op->wait.why = 0;
    op->task = cur;
    io_uring_sqe_set_data(sqe, &op->rq.h);
    op->tm.fire = NULL;
    op->tm.idx = RINGO_TIMER_IDLE;
    /* Lives on this frame until the op's CQE: the kernel reads it at submit. */
    struct __kernel_timespec ts;
    if (cur->deadline != INT64_MAX) {
        op->tm = (ringo__timer){ .at = cur->deadline, .seq = ringo__timer_ticket(l),
                                 .idx = RINGO_TIMER_IDLE, .fire = timed_out_fire };
        ts.tv_sec = cur->deadline / RINGO_SEC(1);
        ts.tv_nsec = cur->deadline % RINGO_SEC(1);
        sqe->flags |= IOSQE_IO_LINK;
        /* get_sqe left this slot free: taking it with get_sqe could flush
         * the SQ first and submit the op without its link. */
        struct io_uring_sqe *lt = io_uring_get_sqe(&l->ring);
        io_uring_prep_link_timeout(lt, &ts, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(lt, 0);
    }
    l->inflight++;
    ringo__suspend(l, &op->wait);
    ringo__timer_del(l, &op->tm);   /* woken otherwise while parked: a no-op */
    int res = op->rq.res;
    if (res == -ECANCELED || res == -EINTR) {
        if (cur->cancelled)
            return -ECANCELED;
        if (ringo__past_deadline(cur))
            return -ETIMEDOUT;
    }
    return res;
}

/* ---- owned ops ------------------------------------------------------------ */

enum { REQ_IDLE, REQ_DEFERRED, REQ_DEFERRED_CANCELLED };

static void submit_req(ringo_loop *l, ringo__req *rq, struct io_uring_sqe *sqe)
{
    prep(sqe, &rq->io);
    io_uring_sqe_set_data(sqe, &rq->h);
    rq->sqe = sqe;
    rq->seq = l->ring.sq.sqe_tail - 1;
    rq->state = REQ_IDLE;
}

/* From a handler the SQ must not be flushed (a nested reap would see the
 * CQE being handled again): a free slot is taken as it is, and without one
 * the op waits for the end of the reap. */
void ringo__uring_start(ringo_loop *l, ringo__req *rq)
{
    if (!l->reaping) {
        submit_req(l, rq, get_sqe(l));
        return;
    }
    if (io_uring_sq_space_left(&l->ring) >= 2) {
        submit_req(l, rq, io_uring_get_sqe(&l->ring));
        return;
    }
    rq->sqe = NULL;
    rq->state = REQ_DEFERRED;
    rlist_push(&l->deferred, &rq->link);
}

static void flush_deferred(ringo_loop *l)
{
    while (!rlist_empty(&l->deferred)) {
        ringo__req *rq = rlist_entry(l->deferred.next, ringo__req, link);
        rlist_del(&rq->link);
        if (rq->state == REQ_DEFERRED_CANCELLED) {
            rq->state = REQ_IDLE;
            rq->h.complete(&rq->h, -ECANCELED, 0);
        } else {
            submit_req(l, rq, get_sqe(l));
        }
    }
}

void ringo__uring_cancel(ringo_loop *l, ringo__req *rq)
{
    if (rq->state == REQ_DEFERRED) {
        rq->state = REQ_DEFERRED_CANCELLED;
        return;
    }
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&rq->h, 0);
    io_uring_sqe_set_data64(sqe, 0);
}

bool ringo__uring_patch(ringo_loop *l, ringo__req *rq)
{
    if (rq->state == REQ_DEFERRED)
        return true;   /* prepared from rq->io when it goes */
    if (!rq->sqe || (int)(rq->seq - l->ring.sq.sqe_head) < 0)
        return false;
    rq->sqe->addr = (uint64_t)(uintptr_t)rq->io.p;
    rq->sqe->len = rq->io.len;
    return true;
}

bool ringo__uring_poke(ringo_loop *from, ringo_loop *to)
{
    struct io_uring_sqe *sqe = get_sqe(from);
    io_uring_prep_msg_ring(sqe, to->ring.ring_fd, 0, (uint64_t)(uintptr_t)&to->inbox.ring_h, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data(sqe, &to->inbox.ring_fail_h);
    /* Out now, not with the end of our pass: a task that keeps streaming (a
     * channel's sender) may not end it for long, and the loop we wake would
     * idle meanwhile. Only a sleeping loop costs this system call. */
    (void)io_uring_submit(&from->ring);
    return true;
}
