/* asyncio.Condition over a borrowed Lock.
 *
 * wait releases the lock, waits for a notify, and re-acquires the lock on
 * every path (notified, cancelled, timed out) before returning, so the
 * caller's unlock is always right. The re-acquisition ignores cancellation
 * and the deadline; it can only fail when the loop gives up on a deadlock
 * (-EDEADLK, lock not held). A waiter notified and then cancelled before it
 * runs passes its notification on, so a notify(1) is never lost. */
#include <stdlib.h>

#include "engine/waitq.h"

struct ringo_cond {
    ringo_lock *lock;      /* borrowed; outlives the condition */
    ringo__waitq waiters;
    ringo_loop *_Atomic loop;
};

int ringo_cond_new(ringo_cond **out, ringo_lock *lk)
{
    if (!out || !lk)
        return -EINVAL;
    ringo_cond *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->lock = lk;
    ringo__waitq_init(&c->waiters, "condition", c);
    atomic_init(&c->loop, NULL);
    *out = c;
    return 0;
}

void ringo_cond_notify(ringo_cond *c, unsigned n)
{
    if (!c)
        return;
    while (n-- && ringo__waitq_grant(&c->waiters))
        ;
}

void ringo_cond_notify_all(ringo_cond *c)
{
    if (!c)
        return;
    while (ringo__waitq_grant(&c->waiters))
        ;
}

int ringo_cond_wait(ringo_cond *c)
{
    if (!c)
        return -EINVAL;
    int ret = ringo__bind(&c->loop);
    if (ret < 0)
        return ret;
    ringo_loop *l;
    ret = ringo__enter(&l);
    if (ret < 0)
        return ret;   /* the lock is still held: nothing was released */
    ringo_task *cur = l->current;
    if (!ringo__lock_held_by(c->lock, cur))
        return -EPERM;
    ringo__lock_pass(c->lock);
    ringo__waiter w;
    ret = ringo__waitq_wait(l, &c->waiters, &w);
    int again = ringo__lock_reacquire(l, c->lock);
    /* Notified, but cancelled before returning (before running, or while
     * re-acquiring): the notification goes to the next waiter, and the
     * call fails, as asyncio re-raises after re-acquiring. */
    if (ret == 0 && cur->cancelled) {
        ringo_cond_notify(c, 1);
        ret = -ECANCELED;
    }
    if (again < 0)
        return again;
    return ret;
}

void ringo_cond_free(ringo_cond *c)
{
    if (!c || ringo__waitq_refuse_free(c->waiters.n, "ringo_cond_free", "condition"))
        return;
    free(c);
}
