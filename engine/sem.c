/* asyncio.Semaphore and BoundedSemaphore: FIFO-fair, with direct handoff.
 * A release with waiters gives its permit to the first waiter instead of
 * raising the count, so a task arriving later cannot take it first; a waiter
 * cancelled after being handed a permit passes it on.
 *
 * A permit handed over is `lent` until its waiter runs: asyncio counts it
 * in the value until then, and so must the bound, or a stray release while
 * it is on its way would make one permit too many. Invariant: value + lent
 * <= bound (UINT_MAX for a plain semaphore). */
#include <limits.h>
#include <stdlib.h>

#include "engine/waitq.h"

struct ringo_sem {
    unsigned value;        /* free permits; 0 whenever someone waits */
    unsigned lent;         /* handed to woken waiters that have not run yet */
    unsigned bound;        /* value + lent may not exceed it */
    ringo__waitq waiters;
    ringo_loop *_Atomic loop;
};

static int sem_new(ringo_sem **out, unsigned value, unsigned bound)
{
    if (!out)
        return -EINVAL;
    ringo_sem *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    s->value = value;
    s->lent = 0;
    s->bound = bound;
    ringo__waitq_init(&s->waiters, "semaphore", s);
    atomic_init(&s->loop, NULL);
    *out = s;
    return 0;
}

int ringo_sem_new(ringo_sem **out, unsigned value)
{
    return sem_new(out, value, UINT_MAX);
}

int ringo_sem_new_bounded(ringo_sem **out, unsigned value)
{
    return sem_new(out, value, value);
}

static int sem_give(ringo_sem *s)
{
    if (s->value + s->lent >= s->bound)
        return -EOVERFLOW;
    if (ringo__waitq_grant(&s->waiters))
        s->lent++;
    else
        s->value++;
    return 0;
}

/* Out of line so the uncontended path needs no stack frame for the node. */
static __attribute__((noinline)) int sem_wait(ringo_loop *l, ringo_sem *s)
{
    ringo__waiter w;
    int ret = ringo__waitq_wait(l, &s->waiters, &w);
    if (ret < 0)
        return ret;
    s->lent--;
    if (RINGO_UNLIKELY(l->current->cancelled)) {
        /* Our permit counted in value + lent until the line above: handing
         * it on cannot pass the bound. */
        (void)sem_give(s);
        return -ECANCELED;
    }
    return 0;
}

int ringo_sem_acquire(ringo_sem *s)
{
    if (!s)
        return -EINVAL;
    int ret = ringo__bind(&s->loop);
    if (ret < 0)
        return ret;
    ringo_loop *l;
    ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (RINGO_LIKELY(s->value)) {
        s->value--;
        return 0;
    }
    return sem_wait(l, s);
}

int ringo_sem_release(ringo_sem *s)
{
    if (!s)
        return -EINVAL;
    int ret = ringo__bind(&s->loop);
    return ret < 0 ? ret : sem_give(s);
}

void ringo_sem_free(ringo_sem *s)
{
    if (!s || ringo__waitq_refuse_free(s->waiters.n, "ringo_sem_free", "semaphore"))
        return;
    free(s);
}
