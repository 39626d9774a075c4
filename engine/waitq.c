/* The wait shared by the synchronization primitives (see waitq.h). */
#include <stdio.h>

#include "engine/waitq.h"

static void waiter_cancel(ringo__wait *wt)
{
    ringo__waiter *w = (ringo__waiter *)((char *)wt - offsetof(ringo__waiter, wait));
    rlist_del(&w->link);
    w->q->n--;
    ringo__wake(w->task);
}

static void waiter_describe(const ringo__wait *wt, char *buf, size_t n)
{
    const ringo__waiter *w =
        (const ringo__waiter *)((const char *)wt - offsetof(ringo__waiter, wait));
    snprintf(buf, n, "%s %p", w->q->what, w->q->obj);
}

static inline void waiter_queue(ringo_loop *l, ringo__waitq *q, ringo__waiter *w)
{
    w->wait.cancel = waiter_cancel;
    w->wait.describe = waiter_describe;
    w->task = l->current;
    w->q = q;
    w->item = NULL;
    w->result = 0;
    w->granted = false;
    rlist_push(&q->head, &w->link);
    q->n++;
}

/* Woken neither by the primitive nor by an interruption: the deadlock
 * breaker. Leave no node behind. */
static int waiter_spurious(ringo__waiter *w)
{
    if (w->link.next != &w->link) {
        rlist_del(&w->link);
        w->q->n--;
    }
    return -EDEADLK;
}

int ringo__waitq_wait(ringo_loop *l, ringo__waitq *q, ringo__waiter *w)
{
    waiter_queue(l, q, w);
    int why = ringo__wait_on(l, &w->wait);
    if (RINGO_LIKELY(w->granted))
        return 0;
    return why ? why : waiter_spurious(w);
}

int ringo__waitq_wait_uninterruptible(ringo_loop *l, ringo__waitq *q, ringo__waiter *w)
{
    waiter_queue(l, q, w);
    w->wait.cancel = NULL;
    ringo__suspend(l, &w->wait);
    return w->granted ? 0 : waiter_spurious(w);
}

bool ringo__waitq_refuse_free(size_t n, const char *fn, const char *what)
{
    if (RINGO_LIKELY(n == 0))
        return false;
    fprintf(stderr, "ringo: %s: %zu task%s still wait%s on this %s; not freed\n",
            fn, n, n == 1 ? "" : "s", n == 1 ? "s" : "", what);
    return true;
}
