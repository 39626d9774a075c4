/* ringo_await: wait for a task, as `await task` does in asyncio (cancelling
 * the awaiter cancels the awaited task, and the awaiter still waits for it to
 * finish, so a child never outlives the scope that awaits it). */
#include "engine/internal.h"

typedef struct await_wait {
    ringo__done_waiter dw;
    ringo__wait wait;
    ringo_task *waiter;
    ringo_task *target;
} await_wait;

static void await_done(ringo__done_waiter *w, ringo_task *finished)
{
    (void)finished;
    await_wait *a = rlist_entry(w, await_wait, dw);
    ringo__wake(a->waiter);
}

static void await_cancel(ringo__wait *w)
{
    await_wait *a = (await_wait *)((char *)w - offsetof(await_wait, wait));
    (void)ringo_cancel(a->target);
}

int ringo__await_done(ringo_loop *l, ringo_task *t)
{
    ringo_task *cur = l->current;
    int first = ringo__interrupted(cur);
    if (first)
        (void)ringo_cancel(t);
    while (t->state != RINGO_T_DONE) {
        await_wait a = {
            .dw.done = await_done,
            .wait.cancel = await_cancel,
            .waiter = cur,
            .target = t,
        };
        ringo__done_wait(t, &a.dw);
        /* Once interrupted, waiting is not interruptible any more: t has
         * been cancelled and finishes soon. */
        if (first)
            ringo__suspend(l, NULL);
        else
            first = ringo__wait_on(l, &a.wait);
        if (t->state != RINGO_T_DONE) {
            rlist_del(&a.dw.link);
            if (l->broken)
                return -EDEADLK;
        }
    }
    return first;
}

int ringo_await(ringo_task *t)
{
    ringo_loop *l = ringo__loop;
    if (!l || !l->current)
        return -EPERM;
    if (t == l->current)
        return -EDEADLK;
    if (!ringo__task_valid(t) || !t->caller_ref || t->awaited || t->loop != l)
        return -EINVAL;
    t->awaited = true;
    int ret = ringo__await_done(l, t);
    if (t->state != RINGO_T_DONE) {   /* given up on a deadlock */
        t->awaited = false;
        ringo__task_release(t);
        return ret;
    }
    int status = t->status;
    t->retrieved = true;
    ringo__task_release(t);
    return ret ? ret : status;
}
