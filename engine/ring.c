/* The io_uring: setup with the best flags the kernel takes, op probing,
 * submission and completion reaping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/inbox.h"

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

static void explain_failure(int err)
{
    fprintf(stderr,
            "ringo: cannot create an io_uring (%s): check that the kernel has io_uring "
            "(Linux 5.10 or newer), that sysctl kernel.io_uring_disabled is 0, and that "
            "no seccomp profile (a container runtime's default one) blocks io_uring_setup\n",
            strerror(-err));
}

int ringo__ring_init(ringo_loop *l, const ringo_config *cfg)
{
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
        explain_failure(ret);
        return ret;
    }
    l->defer_taskrun = (l->setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0;
    /* Saves an fget/fput per io_uring_enter where the kernel allows it. */
    (void)io_uring_register_ring_fd(&l->ring);
    probe_ops(l);
    return 0;
}

void ringo__ring_exit(ringo_loop *l)
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
            h->complete(h, &c);
        }
    }
}

static void reap(ringo_loop *l)
{
    for (;;) {
        unsigned n = reap_ready(l);
        /* Completions the kernel could not fit in the CQ wait in an overflow
         * list; they are flushed into the ring by the next enter. */
        if (!(IO_URING_READ_ONCE(*l->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW))
            return;
        if (io_uring_get_events(&l->ring) < 0 && n == 0)
            return;
    }
}

static void ring_step(ringo_loop *l, bool wait);

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

void ringo__ring_step(ringo_loop *l, bool wait)
{
    /* A loop that spins before it sleeps sends what it has first (its
     * MSG_RINGs wake the loops it is about to wait for), and returns: what
     * it reaped may be what its caller waits for. The next step spins. */
    if (wait && l->inbox.spin_ns > 0 && l->inbox.recent && io_uring_sq_ready(&l->ring))
        wait = false;
    /* A loop that sleeps says so first, so that a thread posting to its
     * inbox knows to wake it (inbox.c). */
    if (wait && !ringo__inbox_sleep_begin(l))
        wait = false;
    ring_step(l, wait);
    if (wait)
        ringo__inbox_sleep_end(l);
    ringo__timers_run(l);
    if (!ringo__inbox_idle(l))
        (void)ringo__inbox_drain(l);
}

static void ring_step(ringo_loop *l, bool wait)
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
        coro_pool_trim(&l->pool, ringo_now());
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

struct io_uring_sqe *ringo__sqe(ringo_loop *l)
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
