/* ringo_await: wait for a task, as `await task` does in asyncio (cancelling
 * the awaiter cancels the awaited task, and the awaiter still waits for it to
 * finish, so a child never outlives the scope that awaits it). */
#include <stdio.h>

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

static void await_describe(const ringo__wait *w, char *buf, size_t n)
{
    const await_wait *a = (const await_wait *)((const char *)w - offsetof(await_wait, wait));
    snprintf(buf, n, "await task \"%s\"", ringo__task_name(a->target));
}

static void await_cancel(ringo__wait *w)
{
    await_wait *a = (await_wait *)((char *)w - offsetof(await_wait, wait));
    (void)ringo__cancel(a->target);
}

int ringo__await_done(ringo_loop *l, ringo_task *t)
{
    ringo_task *cur = l->current;
    int first = ringo__interrupted(cur);
    if (first)
        (void)ringo__cancel(t);
    while (t->state != RINGO_T_DONE) {
        await_wait a = {
            .dw.done = await_done,
            .wait.cancel = await_cancel,
            .wait.describe = await_describe,
            .waiter = cur,
            .target = t,
        };
        ringo__done_wait(t, &a.dw);
        /* Once interrupted, waiting is not interruptible any more: t has
         * been cancelled and finishes soon. */
        if (first) {
            a.wait.cancel = NULL;
            ringo__suspend(l, &a.wait);
        } else
            first = ringo__wait_on(l, &a.wait);
        if (t->state != RINGO_T_DONE) {
            rlist_del(&a.dw.link);
            if (l->broken)
                return -EDEADLK;
        }
    }
    return first;
}

int ringo__awaitable(const ringo_loop *l, const ringo_task *t)
{
    if (!l || !l->current)
        return -EPERM;
    if (t == l->current)
        return -EDEADLK;
    if (!ringo__task_valid(t) || !t->caller_ref || t->awaited || t->loop != l)
        return -EINVAL;
    return 0;
}

bool ringo__await_release(ringo_task *t, int *status)
{
    bool done = t->state == RINGO_T_DONE;
    if (done) {
        *status = t->status;
        t->retrieved = true;
    } else {
        t->awaited = false;   /* given up on a deadlock: it runs on */
    }
    ringo__task_release(t);
    return done;
}

int ringo_await(ringo_task *t)
{
    ringo_loop *l = ringo__loop;
    int ret = ringo__awaitable(l, t);
    if (ret < 0)
        return ret;
    t->awaited = true;
    ret = ringo__await_done(l, t);
    int status;
    if (!ringo__await_release(t, &status))
        return ret;
    return ret ? ret : status;
}
