/* ringo_gather: await many tasks, as asyncio.gather(..., return_exceptions=True).
 *
 * The tasks are awaited one after the other, which costs no memory at all:
 * gather returns only when every task has finished, so the order of waiting
 * changes nothing but the number of wake-ups (a task found already finished
 * costs none). What must not be sequential is cancellation: the wait's cancel
 * hook cancels the task being waited on *and* every task not reached yet, at
 * once, as asyncio cancels all children of a cancelled gather.
 *
 * A task is "reached" when gather takes it over (marks it awaited); until
 * then it is identified as gather's by the same test ringo_await applies
 * (valid, reference held, not awaited by someone else), so a bad handle in
 * the list is never cancelled, awaited or released by mistake. */
#include <stdio.h>

#include "engine/internal.h"

typedef struct gather_wait {
    ringo__done_waiter dw;
    ringo__wait wait;
    ringo_task *waiter;
    ringo_task *target;
    ringo_task **rest;   /* tasks not reached yet */
    size_t nrest;
} gather_wait;

/* Whether t can be taken over by `waiter`, as ringo_await would accept it. */
static bool takeable(const ringo_loop *l, const ringo_task *waiter, const ringo_task *t)
{
    return ringo__task_valid(t) && t->caller_ref && !t->awaited && t->loop == l && t != waiter;
}

static void cancel_all(const ringo_loop *l, const ringo_task *waiter, ringo_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (takeable(l, waiter, tasks[i]))
            (void)ringo__cancel(tasks[i]);
}


static void gather_done(ringo__done_waiter *w, ringo_task *finished)
{
    (void)finished;
    ringo__wake(rlist_entry(w, gather_wait, dw)->waiter);
}

static void gather_describe(const ringo__wait *w, char *buf, size_t n)
{
    const gather_wait *g = (const gather_wait *)((const char *)w - offsetof(gather_wait, wait));
    snprintf(buf, n, "gather: await task \"%s\", %zu more", ringo__task_name(g->target),
             g->nrest);
}

static void gather_cancel(ringo__wait *w)
{
    gather_wait *g = (gather_wait *)((char *)w - offsetof(gather_wait, wait));
    (void)ringo__cancel(g->target);
    cancel_all(g->target->loop, g->waiter, g->rest, g->nrest);
}

/* Wait until tasks[i] (taken over) has finished. *stop holds the first
 * interruption of the caller; once set, waits are no longer interruptible
 * (everything has been cancelled and finishes soon). Returns -EDEADLK if the
 * loop gave up on a deadlock, else 0. */
static int gather_one(ringo_loop *l, ringo_task **tasks, size_t i, size_t n, int *stop)
{
    ringo_task *t = tasks[i];
    /* The caller may have been cancelled (or reached its deadline) while it
     * was not suspended here, e.g. between two tasks: as ringo_await, an
     * interrupted caller still cancels everything and awaits it. */
    if (!*stop && (*stop = ringo__interrupted(l->current)))
        cancel_all(l, l->current, tasks + i + 1, n - i - 1);
    if (*stop)   /* done by the hook, unless t was not takeable then */
        (void)ringo__cancel(t);
    while (t->state != RINGO_T_DONE) {
        gather_wait g = {
            .dw.done = gather_done,
            .wait.cancel = gather_cancel,
            .wait.describe = gather_describe,
            .waiter = l->current,
            .target = t,
            .rest = tasks + i + 1,
            .nrest = n - i - 1,
        };
        ringo__done_wait(t, &g.dw);
        if (*stop) {
            g.wait.cancel = NULL;
            ringo__suspend(l, &g.wait);
        } else
            *stop = ringo__wait_on(l, &g.wait);
        if (t->state != RINGO_T_DONE) {
            rlist_del(&g.dw.link);
            if (l->broken)
                return -EDEADLK;
        }
    }
    return 0;
}

int ringo_gather(ringo_task **tasks, size_t n, int *statuses)
{
    ringo_loop *l = ringo__loop;
    if (!l || !l->current)
        return -EPERM;
    if (!tasks && n)
        return -EINVAL;
    ringo_task *cur = l->current;
    int stop = 0, bad = 0, fail = 0;
    for (size_t i = 0; i < n; i++) {
        ringo_task *t = tasks[i];
        int st;
        if (!takeable(l, cur, t)) {
            st = bad = -EINVAL;
        } else {
            t->awaited = true;
            if (gather_one(l, tasks, i, n, &stop) < 0) {
                st = -EDEADLK;   /* t runs on, released like ringo_await does */
                t->awaited = false;
            } else {
                st = t->status;
                t->retrieved = true;
            }
            ringo__task_release(t);
        }
        if (statuses)
            statuses[i] = st;
        if (st < 0 && !fail)
            fail = st;
    }
    if (stop)
        return stop;
    return bad ? bad : fail;
}
