/* The inbox: Vyukov's intrusive MPSC queue (a push is one exchange; a pop
 * sees a push in progress as "not yet", never as empty), the sleep flag and
 * the two ways to wake a sleeping loop. See inbox.h. */
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/backend.h"
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

void ringo__inbox_kick(ringo_loop *l)
{
    uint64_t one = 1;
    while (write(l->inbox.efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void wake(ringo_loop *l)
{
    ringo_loop *from = ringo__loop;
    if (from && from != l && from->inbox.msg_ring && l->inbox.msg_ring &&
        ringo__uring_poke(from, l))
        return;
    ringo__inbox_kick(l);
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
    /* Counted: once the message is in, the woken task may finish and its
     * loop close at once, while we still read the loop's flags in
     * ringo__post. The loop's last close waits for senders to leave. */
    ringo__inbox *q = &t->loop->inbox;
    atomic_fetch_add_explicit(&q->senders, 1, memory_order_seq_cst);
    ringo__post(t->loop, &wm->m);
    atomic_fetch_sub_explicit(&q->senders, 1, memory_order_release);
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
    ringo__req *rq = &l->inbox.poll_rq;
    rq->io = (ringo__io){ .kind = RINGO_IO_POLL, .fd = l->inbox.efd, .flags = POLLIN };
    ringo__io_start(l, rq);
    l->inbox.polling = true;
}

/* Not a READ on the eventfd: a READ on an eventfd hangs on some 6.15
 * kernels. A POLL, then a nonblocking read to reset the count. */
static void poll_done(ringo__cqe_handler *h, int32_t res, uint32_t flags)
{
    (void)flags;
    ringo_loop *l = (ringo_loop *)((char *)h - offsetof(ringo_loop, inbox.poll_rq));
    l->inbox.polling = false;
    if (res == -ECANCELED)
        return;   /* loop close */
    while (read(l->inbox.efd, &l->inbox.efd_val, sizeof l->inbox.efd_val) < 0 && errno == EINTR)
        ;
    arm_poll(l);
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
    q->poll_rq.h.complete = poll_done;
    q->msg_ring = ringo__can(l, RINGO_CAP_MSG_RING) && msg_ring_from_env();
    arm_poll(l);
    return 0;
}

void ringo__inbox_close(ringo_loop *l)
{
    ringo__inbox *q = &l->inbox;
    if (q->polling) {
        ringo__io_cancel(l, &q->poll_rq);
        while (q->polling)
            ringo__step(l, true);
    }
    /* A thread may still be inside a wake-up it posted (ringo__wake_from_any). */
    while (atomic_load_explicit(&q->senders, memory_order_acquire))
        sched_yield();
    ringo__fd_forget(l, q->efd);
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
