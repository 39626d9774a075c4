/* The inbox: Vyukov's intrusive MPSC queue (a push is one exchange; a pop
 * sees a push in progress as "not yet", never as empty), the sleep flag and
 * the two ways to wake a sleeping loop. See inbox.h. */
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/inbox.h"

#ifndef IOSQE_CQE_SKIP_SUCCESS
#define IOSQE_CQE_SKIP_SUCCESS (1U << 6)
#endif
#ifndef IORING_OP_MSG_RING
#define IORING_OP_MSG_RING 40
#endif

static void push(ringo__inbox *q, ringo__msg *m)
{
    atomic_store_explicit(&m->next, NULL, memory_order_relaxed);
    ringo__msg *prev = atomic_exchange_explicit(&q->tail, m, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, m, memory_order_release);
}

/* NULL when empty or when the next push is still in progress. */
static ringo__msg *pop(ringo__inbox *q)
{
    ringo__msg *head = q->head;
    ringo__msg *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == q->stub) {
        if (!next)
            return NULL;
        q->head = head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next) {
        q->head = next;
        return head;
    }
    if (head != atomic_load_explicit(&q->tail, memory_order_acquire))
        return NULL;
    push(q, q->stub);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next) {
        q->head = next;
        return head;
    }
    return NULL;
}

bool ringo__inbox_idle(ringo_loop *l)
{
    ringo__inbox *q = &l->inbox;
    return q->head == q->stub &&
           atomic_load_explicit(&q->tail, memory_order_acquire) == q->stub;
}

static void efd_kick(ringo_loop *l)
{
    uint64_t one = 1;
    while (write(l->inbox.efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* The sender's MSG_RING could not be posted (the target's CQ overflowed):
 * fall back on the eventfd, so the wake-up is never lost. */
static void ring_failed(ringo__cqe_handler *h, const struct io_uring_cqe *cqe)
{
    if (cqe->res < 0)
        efd_kick((ringo_loop *)((char *)h - offsetof(ringo_loop, inbox.ring_fail_h)));
}

static void wake(ringo_loop *l)
{
    ringo_loop *from = ringo__loop;
    if (from && from != l && from->inbox.msg_ring && l->inbox.msg_ring) {
        struct io_uring_sqe *sqe = ringo__sqe(from);
        io_uring_prep_msg_ring(sqe, l->ring.ring_fd, 0, (uint64_t)(uintptr_t)&l->inbox.ring_h, 0);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        io_uring_sqe_set_data(sqe, &l->inbox.ring_fail_h);
        /* Out now, not with the end of our pass: a task that keeps
         * streaming (a channel's sender) may not end it for long, and the
         * loop we wake would idle meanwhile. Only a sleeping loop costs
         * this system call. */
        (void)io_uring_submit(&from->ring);
        return;
    }
    efd_kick(l);
}

void ringo__post(ringo_loop *l, ringo__msg *m)
{
    ringo__inbox *q = &l->inbox;
    push(q, m);
    /* Store-load: our push before our look at the flag, as the loop's flag
     * store comes before its look at the queue (ringo__inbox_sleep_begin). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&q->sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&q->sleeping, 0, memory_order_relaxed))
        wake(l);
}

int ringo__post_gated(ringo_loop *l, ringo__msg *m)
{
    ringo__inbox *q = &l->inbox;
    atomic_fetch_add_explicit(&q->senders, 1, memory_order_seq_cst);
    int ret = -ESHUTDOWN;
    if (!atomic_load_explicit(&q->closing, memory_order_seq_cst)) {
        ringo__post(l, m);
        ret = 0;
    }
    atomic_fetch_sub_explicit(&q->senders, 1, memory_order_release);
    return ret;
}

static void wake_run(ringo__msg *m, ringo_loop *l)
{
    (void)l;
    ringo__wake(((ringo__wake_msg *)m)->t);
}

void ringo__wake_from_any(ringo__wake_msg *wm, ringo_task *t)
{
    if (t->loop == ringo__loop) {
        ringo__wake(t);
        return;
    }
    wm->t = t;
    wm->m.run = wake_run;
    ringo__post(t->loop, &wm->m);
}

/* Bounded, so that threads posting faster than the loop runs what they post
 * cannot keep it here: the rest waits for the next step. */
#define DRAIN_MAX 1024

bool ringo__inbox_drain(ringo_loop *l)
{
    unsigned n = 0;
    ringo__msg *m;
    while (n < DRAIN_MAX && (m = pop(&l->inbox))) {
        n++;
        m->run(m, l);
    }
    if (n)
        l->inbox.recent = true;
    return n > 0;
}

/* ---- waking from the kernel --------------------------------------------- */

static void arm_poll(ringo_loop *l)
{
    struct io_uring_sqe *sqe = ringo__sqe(l);
    io_uring_prep_poll_add(sqe, l->inbox.efd, POLLIN);
    io_uring_sqe_set_data(sqe, &l->inbox.poll_h);
    l->inbox.polling = true;
}

/* Not a READ on the eventfd: a READ on an eventfd hangs on some 6.15
 * kernels. A POLL, then a nonblocking read to reset the count. */
static void poll_done(ringo__cqe_handler *h, const struct io_uring_cqe *cqe)
{
    ringo_loop *l = (ringo_loop *)((char *)h - offsetof(ringo_loop, inbox.poll_h));
    l->inbox.polling = false;
    if (cqe->res == -ECANCELED)
        return;   /* loop close */
    while (read(l->inbox.efd, &l->inbox.efd_val, sizeof l->inbox.efd_val) < 0 && errno == EINTR)
        ;
    /* Re-armed without flushing the SQ: a reap nested in this one would see
     * this CQE again. There is always room: ringo__sqe keeps a slot free. */
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    if (!sqe) {
        fprintf(stderr, "ringo: no SQE to re-arm the loop's wake-up poll\n");
        abort();
    }
    io_uring_prep_poll_add(sqe, l->inbox.efd, POLLIN);
    io_uring_sqe_set_data(sqe, &l->inbox.poll_h);
    l->inbox.polling = true;
}

static void ring_arrived(ringo__cqe_handler *h, const struct io_uring_cqe *cqe)
{
    (void)h;   /* its work is done: the loop left the kernel and drains */
    (void)cqe;
}

static bool msg_ring_from_env(void)
{
    const char *v = getenv("RINGO_NO_MSG_RING");
    return !(v && *v && *v != '0');
}

int ringo__inbox_open(ringo_loop *l)
{
    ringo__inbox *q = &l->inbox;
    q->stub = calloc(1, sizeof *q->stub);
    if (!q->stub)
        return -ENOMEM;
    q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q->efd < 0) {
        int err = -errno;
        free(q->stub);
        return err;
    }
    q->head = q->stub;
    atomic_init(&q->tail, q->stub);
    atomic_init(&q->sleeping, 0);
    atomic_init(&q->senders, 0);
    atomic_init(&q->closing, false);
    q->poll_h.complete = poll_done;
    q->ring_h.complete = ring_arrived;
    q->ring_fail_h.complete = ring_failed;
    q->msg_ring = ringo__has_op(l, IORING_OP_MSG_RING) && msg_ring_from_env();
    arm_poll(l);
    return 0;
}

void ringo__inbox_close(ringo_loop *l)
{
    ringo__inbox *q = &l->inbox;
    if (q->polling) {
        struct io_uring_sqe *sqe = ringo__sqe(l);
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&q->poll_h, 0);
        io_uring_sqe_set_data64(sqe, 0);
        while (q->polling)
            ringo__ring_step(l, true);
    }
    close(q->efd);
    free(q->stub);
    q->stub = q->head = NULL;
}

bool ringo__inbox_sleep_begin(ringo_loop *l)
{
    ringo__inbox *q = &l->inbox;
    /* Only a loop that heard from others since it last slept spins: one
     * that serves only its own sockets (a REUSEPORT server) would burn the
     * spin on every idle moment for nothing. */
    bool spin = q->spin_ns > 0 && q->recent;
    q->recent = false;
    if (spin) {
        int64_t until = ringo_now() + q->spin_ns;
        do {
            if (!ringo__inbox_idle(l))
                return false;
        } while (ringo_now() < until);
    }
    atomic_store_explicit(&q->sleeping, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (!ringo__inbox_idle(l)) {
        atomic_store_explicit(&q->sleeping, 0, memory_order_relaxed);
        return false;
    }
    return true;
}

void ringo__inbox_sleep_end(ringo_loop *l)
{
    atomic_store_explicit(&l->inbox.sleeping, 0, memory_order_relaxed);
}

void ringo__inbox_shut(ringo_loop *l)
{
    ringo__inbox *q = &l->inbox;
    atomic_store_explicit(&q->closing, true, memory_order_seq_cst);
    while (atomic_load_explicit(&q->senders, memory_order_acquire))
        sched_yield();
}
