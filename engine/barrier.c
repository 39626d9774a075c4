/* asyncio.Barrier, on the waiter FIFO. The waiters of the round are the
 * FIFO, in arrival order; the last arrival grants them all at once, each
 * with its index in its node, so the round is decided when it fills: a new
 * arrival starts the next round even before the released ones have run
 * (CPython makes it wait until they have, which changes nothing it can
 * observe but the order of wake-ups).
 *
 * Cancellation follows CPython (3.11+): a waiter interrupted before the
 * round fills has left the FIFO, so it no longer counts towards parties
 * (CPython decrements its count); one cancelled after the release gets
 * -ECANCELED and the round stands for the others. CPython hands out the
 * count at arrival, so after a cancellation two tasks can get the same
 * index; here an index is a position among the tasks that made the round,
 * which never repeats. */
#include <limits.h>
#include <stdlib.h>

#include "engine/waitq.h"

struct ringo_barrier {
    unsigned parties;
    bool broken;             /* abort: -EPIPE until reset */
    ringo__waitq waiters;    /* this round's */
    ringo_loop *_Atomic loop;
};

int ringo_barrier_new(ringo_barrier **out, unsigned parties)
{
    if (!out || parties == 0 || parties > INT_MAX)
        return -EINVAL;
    ringo_barrier *b = malloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    b->parties = parties;
    b->broken = false;
    ringo__waitq_init(&b->waiters, "barrier", b);
    atomic_init(&b->loop, NULL);
    *out = b;
    return 0;
}

static void wake_all(ringo_barrier *b, bool broken)
{
    ringo__waiter *w;
    for (int i = 0; (w = ringo__waitq_grant(&b->waiters)); i++)
        w->result = broken ? -EPIPE : i;
}

int ringo_barrier_wait(ringo_barrier *b)
{
    if (!b)
        return -EINVAL;
    int ret = ringo__bind(&b->loop);
    if (ret < 0)
        return ret;
    ringo_loop *l;
    ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (b->broken)
        return -EPIPE;
    if (b->waiters.n + 1 == b->parties) {
        wake_all(b, false);
        return (int)b->parties - 1;
    }
    ringo__waiter w;
    ret = ringo__waitq_wait(l, &b->waiters, &w);
    if (ret < 0)
        return ret;
    /* Released (or broken), then cancelled before running: nothing to give
     * back, the round stands. */
    return l->current->cancelled ? -ECANCELED : w.result;
}

void ringo_barrier_abort(ringo_barrier *b)
{
    if (!b)
        return;
    b->broken = true;
    wake_all(b, true);
}

void ringo_barrier_reset(ringo_barrier *b)
{
    if (!b)
        return;
    b->broken = false;
    wake_all(b, true);
}

void ringo_barrier_free(ringo_barrier *b)
{
    if (!b || ringo__waitq_refuse_free(b->waiters.n, "ringo_barrier_free", "barrier"))
        return;
    free(b);
}
