/* A FIFO of tasks waiting on a synchronization primitive (Lock, Event,
 * Semaphore, Condition, Queue, Barrier), and the one wait they all use.
 *
 * Waiter nodes live on the waiting task's stack: no allocation per wait.
 * A primitive gives a waiter what it waits for with ringo__waitq_grant (the
 * lock, a permit, an item, a notification): the node leaves the FIFO marked
 * `granted` and its task is made ready. An interrupted wait (cancel,
 * deadline) takes its node off the FIFO itself, so it leaves no trace.
 *
 * The race every primitive must settle: a task can be granted and then
 * cancelled before it runs. Its wait returns 0 (granted) with the task's
 * `cancelled` set; the primitive then passes on what was granted (to the next
 * waiter, or back into its state) and returns -ECANCELED. */
#ifndef RINGO_ENGINE_WAITQ_H
#define RINGO_ENGINE_WAITQ_H

#include <stddef.h>

#include "engine/internal.h"

typedef struct ringo__waitq {
    rlist head;
    size_t n;              /* nodes queued, for the refusal message in _free */
    const char *what;      /* ringo_dump_tasks says "<what> <obj>": "lock 0x..." */
    const void *obj;       /* the primitive */
} ringo__waitq;

typedef struct ringo__waiter {
    rlist link;            /* in q->head while queued; self-linked once off */
    ringo__wait wait;
    ringo_task *task;
    ringo__waitq *q;
    void *item;            /* Queue: the item handed to a getter */
    int result;            /* what a grant says besides itself: a barrier's
                              arrival index, -EPIPE (broken, shut down) */
    bool granted;
} ringo__waiter;

static inline void ringo__waitq_init(ringo__waitq *q, const char *what, const void *obj)
{
    rlist_init(&q->head);
    q->n = 0;
    q->what = what;
    q->obj = obj;
}

static inline bool ringo__waitq_empty(const ringo__waitq *q)
{
    return q->n == 0;
}

/* Take the first waiter off q, mark it granted and make its task ready.
 * Returns the node (valid until its task runs: fill in `item` now), or NULL
 * if nobody waits. Works from any context; never suspends. */
static inline ringo__waiter *ringo__waitq_grant(ringo__waitq *q)
{
    if (q->n == 0)
        return NULL;
    ringo__waiter *w = rlist_entry(q->head.next, ringo__waiter, link);
    rlist_del(&w->link);
    q->n--;
    w->granted = true;
    ringo__wake(w->task);
    return w;
}

/* Queue the current task on q (after ringo__enter) and suspend it. Returns 0
 * when granted (check l->current->cancelled: granted, then cancelled before
 * running), -ECANCELED / -ETIMEDOUT when interrupted (w is off q then), or
 * -EDEADLK when the loop woke it to break a deadlock (w is off q). */
int ringo__waitq_wait(ringo_loop *l, ringo__waitq *q, ringo__waiter *w);

/* Same, but neither cancellation nor the task's deadline interrupts it (the
 * Condition re-acquiring its lock). 0 when granted, -EDEADLK when the loop
 * gave up on a deadlock. */
int ringo__waitq_wait_uninterruptible(ringo_loop *l, ringo__waitq *q, ringo__waiter *w);

/* Lock, Event, Semaphore, Condition, Queue and Barrier belong to the loop
 * of the first task that makes an int-returning call on them; a task of
 * another loop gets -EXDEV, before any other check. Outside a loop nothing
 * binds. One relaxed load on the fast path (a plain load on x86-64 and
 * aarch64). */
static inline int ringo__bind(ringo_loop *_Atomic *owner)
{
    ringo_loop *l = ringo__loop;
    ringo_loop *o = atomic_load_explicit(owner, memory_order_relaxed);
    if (RINGO_LIKELY(o == l) || !l)
        return 0;
    if (o)
        return -EXDEV;
    return atomic_compare_exchange_strong(owner, &o, l) || o == l ? 0 : -EXDEV;
}

/* For _free: true (and one line on stderr) if n tasks still wait, in which
 * case the primitive must not be freed. */
bool ringo__waitq_refuse_free(size_t n, const char *fn, const char *what);

/* lock.c, for cond.c. */
bool ringo__lock_held_by(const ringo_lock *lk, const ringo_task *t);
void ringo__lock_pass(ringo_lock *lk);   /* release: hand to the first waiter */
int  ringo__lock_reacquire(ringo_loop *l, ringo_lock *lk);  /* uninterruptible */

#endif
