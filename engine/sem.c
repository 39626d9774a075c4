/* asyncio.Semaphore: FIFO-fair, with direct handoff. A release with waiters
 * gives its permit to the first waiter instead of raising the count, so a
 * task arriving later cannot take it first; a waiter cancelled after being
 * handed a permit passes it on. */
#include <limits.h>
#include <stdlib.h>

#include "engine/waitq.h"

struct ringo_sem {
    unsigned value;        /* free permits; 0 whenever someone waits */
    ringo__waitq waiters;
    ringo_loop *_Atomic loop;
};

int ringo_sem_new(ringo_sem **out, unsigned value)
{
    if (!out)
        return -EINVAL;
    ringo_sem *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    s->value = value;
    ringo__waitq_init(&s->waiters, "semaphore", s);
    atomic_init(&s->loop, NULL);
    *out = s;
    return 0;
}

static int sem_give(ringo_sem *s)
{
    if (ringo__waitq_grant(&s->waiters))
        return 0;
    if (s->value == UINT_MAX)
        return -EOVERFLOW;
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
    if (RINGO_UNLIKELY(l->current->cancelled)) {
        /* The permit came from a release that found value == 0 and gave it
         * to us instead: handing it on cannot overflow. */
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
