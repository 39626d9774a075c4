/* ringo_shield: asyncio.shield. Await t, but an interruption of the caller
 * (cancel, deadline) arriving during the wait ends only the caller's wait: t
 * is not cancelled, its reference is released and it runs on detached, freed
 * when it finishes. A caller interrupted before it calls waits for t.
 *
 * The wait is a done-waiter on t whose cancel hook unqueues it and wakes the
 * caller, touching nothing of t but its waiter list. */
#include <stdio.h>

#include "engine/internal.h"

typedef struct shield_wait {
    ringo__done_waiter dw;
    ringo__wait wait;
    ringo_task *waiter;
    ringo_task *target;
} shield_wait;

static void shield_describe(const ringo__wait *w, char *buf, size_t n)
{
    const shield_wait *s = (const shield_wait *)((const char *)w - offsetof(shield_wait, wait));
    snprintf(buf, n, "shield task \"%s\"", ringo__task_name(s->target));
}

static void shield_done(ringo__done_waiter *w, ringo_task *finished)
{
    (void)finished;
    ringo__wake(rlist_entry(w, shield_wait, dw)->waiter);
}

static void shield_cancel(ringo__wait *w)
{
    shield_wait *s = (shield_wait *)((char *)w - offsetof(shield_wait, wait));
    rlist_del(&s->dw.link);
    ringo__wake(s->waiter);
}

int ringo_shield(ringo_task *t)
{
    ringo_loop *l = ringo__loop;
    int ret = ringo__awaitable(l, t);
    if (ret < 0)
        return ret;
    /* A caller already interrupted (its cancellation delivered, or past its
     * deadline) is unwinding, and shields its cleanup: it waits for t,
     * uninterruptibly, as asyncio's `except CancelledError: await
     * shield(cleanup())` does. Only an interruption arriving during the wait
     * ends it early. The caller stays cancelled afterwards. */
    bool unwinding = ringo__interrupted(l->current) != 0;
    t->awaited = true;
    while (t->state != RINGO_T_DONE) {
        shield_wait s = { .dw.done = shield_done,
                          .wait = { .cancel = unwinding ? NULL : shield_cancel,
                                    .describe = shield_describe },
                          .waiter = l->current, .target = t };
        ringo__done_wait(t, &s.dw);
        if (unwinding) {
            ringo__suspend(l, &s.wait);
            ret = 0;
        } else {
            ret = ringo__wait_on(l, &s.wait);
        }
        if (ret == 0 && t->state != RINGO_T_DONE) {   /* woken by the deadlock breaker */
            rlist_del(&s.dw.link);
            if (l->broken)
                ret = -EDEADLK;
        }
        if (ret < 0) {
            /* Detached: t runs on and is freed when done. Its status is
             * nobody's now; like asyncio's shield, count it as retrieved so
             * debug mode does not report a failure "never retrieved". */
            t->awaited = false;
            t->retrieved = true;
            ringo__task_release(t);
            return ret;
        }
    }
    int status;
    (void)ringo__await_release(t, &status);   /* DONE: the loop above saw to it */
    return status;
}
