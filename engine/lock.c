/* asyncio.Lock: FIFO-fair, with direct handoff.
 *
 * A release with waiters makes the first waiter the owner before it even
 * runs, so nobody can barge in between; the uncontended path is a test and
 * a store: no suspension, no allocation. As in asyncio, any task may release
 * a held lock (releasing an unlocked one is -EPERM); unlike asyncio,
 * acquiring it again from its owner is refused with -EDEADLK instead of
 * hanging forever. The owner is recorded by task id, not by pointer: task
 * slots are reused, and a task that finished holding the lock must not make
 * its slot's next tenant the owner. */
#include <stdlib.h>

#include "engine/waitq.h"

struct ringo_lock {
    uint64_t owner;        /* id of the owning task (ids start at 1), 0 = unlocked */
    ringo_loop *_Atomic loop;
    ringo__waitq waiters;  /* never non-empty while unlocked */
};

int ringo_lock_new(ringo_lock **out)
{
    if (!out)
        return -EINVAL;
    ringo_lock *lk = malloc(sizeof *lk);
    if (!lk)
        return -ENOMEM;
    lk->owner = 0;
    atomic_init(&lk->loop, NULL);
    ringo__waitq_init(&lk->waiters, "lock", lk);
    *out = lk;
    return 0;
}

void ringo__lock_pass(ringo_lock *lk)
{
    ringo__waiter *w = ringo__waitq_grant(&lk->waiters);
    lk->owner = w ? w->task->id : 0;
}

bool ringo__lock_held_by(const ringo_lock *lk, const ringo_task *t)
{
    return lk->owner == t->id;
}

/* Out of line so the uncontended path needs no stack frame for the node. */
static __attribute__((noinline)) int lock_wait(ringo_loop *l, ringo_lock *lk)
{
    ringo_task *cur = l->current;
    if (lk->owner == cur->id)
        return -EDEADLK;
    ringo__waiter w;
    int ret = ringo__waitq_wait(l, &lk->waiters, &w);
    if (ret < 0)
        return ret;
    /* Handed the lock, then cancelled before running: pass it on. */
    if (RINGO_UNLIKELY(cur->cancelled)) {
        ringo__lock_pass(lk);
        return -ECANCELED;
    }
    return 0;
}

int ringo_lock_acquire(ringo_lock *lk)
{
    if (!lk)
        return -EINVAL;
    int ret = ringo__bind(&lk->loop);
    if (ret < 0)
        return ret;
    ringo_loop *l;
    ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    if (RINGO_LIKELY(!lk->owner)) {
        lk->owner = l->current->id;
        return 0;
    }
    return lock_wait(l, lk);
}

int ringo__lock_reacquire(ringo_loop *l, ringo_lock *lk)
{
    if (!lk->owner) {
        lk->owner = l->current->id;
        return 0;
    }
    ringo__waiter w;
    return ringo__waitq_wait_uninterruptible(l, &lk->waiters, &w);
}

int ringo_lock_release(ringo_lock *lk)
{
    if (!lk)
        return -EINVAL;
    int ret = ringo__bind(&lk->loop);
    if (ret < 0)
        return ret;
    if (!lk->owner)
        return -EPERM;
    ringo__lock_pass(lk);
    return 0;
}

void ringo_lock_free(ringo_lock *lk)
{
    if (!lk || ringo__waitq_refuse_free(lk->waiters.n, "ringo_lock_free", "lock"))
        return;
    free(lk);
}
