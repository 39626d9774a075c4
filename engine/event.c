/* asyncio.Event: set wakes every waiter (in FIFO order, O(n)); a waiter woken
 * by set returns 0 even if the event is cleared again before it runs, as in
 * asyncio.
 *
 * An event belongs to the loop of its first waiter, but set and clear work
 * from any loop or thread. From its own loop, set wakes the waiters at once.
 * From elsewhere it raises the flag and, if the event has a loop, counts the
 * set and posts the event's one message there (unless it is already on its
 * way), whose arrival wakes the waiters: sets that come while it travels
 * ride on it. A waiter binds the loop before it looks at the flag, and a
 * remote set raises the flag before it looks at the loop, both sequentially
 * consistent, so a set never misses a waiter that has just bound. */
#include <stdlib.h>

#include "engine/inbox.h"
#include "engine/waitq.h"

enum { PENDING = 1, DOOMED = 2 };

struct ringo_event {
    _Atomic bool set;
    ringo_loop *_Atomic loop;
    ringo__waitq waiters;          /* the loop's; empty while set */
    ringo__msg msg;                /* remote sets, to the loop */
    _Atomic unsigned state;        /* PENDING: msg posted; DOOMED: freed meanwhile */
    _Atomic unsigned sets;         /* remote sets so far */
    unsigned seen;                 /* the loop's: sets already acted on */
};

static void wake_all(ringo_event *e)
{
    while (ringo__waitq_grant(&e->waiters))
        ;
}

static void remote_set_run(ringo__msg *m, ringo_loop *l)
{
    (void)l;
    ringo_event *e = (ringo_event *)((char *)m - offsetof(ringo_event, msg));
    /* Cleared before reading `sets`: a set counted after this posts again. */
    unsigned old = atomic_fetch_and(&e->state, ~(unsigned)PENDING);
    if (old & DOOMED) {
        free(e);
        return;
    }
    unsigned sets = atomic_load(&e->sets);
    if (sets != e->seen) {
        e->seen = sets;
        wake_all(e);
    }
}

int ringo_event_new(ringo_event **out)
{
    if (!out)
        return -EINVAL;
    ringo_event *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    ringo__waitq_init(&e->waiters, "event", e);
    e->msg.run = remote_set_run;
    *out = e;
    return 0;
}

void ringo_event_set(ringo_event *e)
{
    if (!e)
        return;
    ringo_loop *owner = atomic_load_explicit(&e->loop, memory_order_relaxed);
    if (owner && owner == ringo__loop) {
        atomic_store_explicit(&e->set, true, memory_order_relaxed);
        wake_all(e);
        return;
    }
    atomic_store(&e->set, true);
    owner = atomic_load(&e->loop);
    if (!owner)
        return;   /* nobody has waited yet: the flag is all there is */
    atomic_fetch_add(&e->sets, 1);
    if (atomic_fetch_or(&e->state, PENDING) & PENDING)
        return;
    /* A loop that is closing cancels its waiters anyway. */
    if (ringo__post_gated(owner, &e->msg) < 0)
        atomic_fetch_and(&e->state, ~(unsigned)PENDING);
}

void ringo_event_clear(ringo_event *e)
{
    if (e)
        atomic_store_explicit(&e->set, false, memory_order_relaxed);
}

bool ringo_event_is_set(const ringo_event *e)
{
    return e && atomic_load_explicit(&e->set, memory_order_relaxed);
}

int ringo_event_wait(ringo_event *e)
{
    if (!e)
        return -EINVAL;
    int ret = ringo__bind(&e->loop);
    if (ret < 0)
        return ret;
    ringo_loop *l;
    ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (atomic_load(&e->set))
        return 0;
    ringo__waiter w;
    l->external++;   /* another thread may set it */
    ret = ringo__waitq_wait(l, &e->waiters, &w);
    l->external--;
    if (ret < 0)
        return ret;
    /* Woken, then cancelled before running: a wake-up has nothing to give back. */
    return l->current->cancelled ? -ECANCELED : 0;
}

void ringo_event_free(ringo_event *e)
{
    if (!e || ringo__waitq_refuse_free(e->waiters.n, "ringo_event_free", "event"))
        return;
    /* A remote set still on its way frees the event when it arrives. */
    if (atomic_fetch_or(&e->state, DOOMED) & PENDING)
        return;
    free(e);
}
