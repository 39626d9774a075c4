/* asyncio.Event: set wakes every waiter (in FIFO order, O(n)); a waiter woken
 * by set returns 0 even if the event is cleared again before it runs, as in
 * asyncio. */
#include <stdlib.h>

#include "engine/waitq.h"

struct ringo_event {
    bool set;
    ringo__waitq waiters;   /* empty while set */
};

int ringo_event_new(ringo_event **out)
{
    if (!out)
        return -EINVAL;
    ringo_event *e = malloc(sizeof *e);
    if (!e)
        return -ENOMEM;
    e->set = false;
    ringo__waitq_init(&e->waiters);
    *out = e;
    return 0;
}

void ringo_event_set(ringo_event *e)
{
    if (!e)
        return;
    e->set = true;
    while (ringo__waitq_grant(&e->waiters))
        ;
}

void ringo_event_clear(ringo_event *e)
{
    if (e)
        e->set = false;
}

bool ringo_event_is_set(const ringo_event *e)
{
    return e && e->set;
}

int ringo_event_wait(ringo_event *e)
{
    if (!e)
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (e->set)
        return 0;
    ringo__waiter w;
    ret = ringo__waitq_wait(l, &e->waiters, &w);
    if (ret < 0)
        return ret;
    /* Woken, then cancelled before running: a wake-up has nothing to give back. */
    return l->current->cancelled ? -ECANCELED : 0;
}

void ringo_event_free(ringo_event *e)
{
    if (!e || ringo__waitq_refuse_free(e->waiters.n, "ringo_event_free", "event"))
        return;
    free(e);
}
