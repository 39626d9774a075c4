/* ringo_wait: asyncio.wait. Wait until a condition on a set of tasks holds,
 * cancelling nothing and releasing nothing.
 *
 * One done-waiter per unfinished task counts completions and wakes the
 * caller when `when` is met. The timeout is a wait-local deadline: the
 * caller's deadline is lowered for the duration of the wait (the generic
 * wait then arms the timer) and restored afterwards; an expiry before the
 * caller's own deadline is our timeout, not an error. */
#include <stdio.h>
#include <stdlib.h>

#include "engine/internal.h"

#define STACK_SLOTS 16   /* waits on this many tasks or fewer allocate nothing */

typedef struct wait_ctx {
    ringo__wait wait;
    ringo_task *waiter;
    enum ringo_when when;
    size_t n, ndone;
    bool met;
} wait_ctx;

typedef struct wait_slot {
    ringo__done_waiter dw;
    wait_ctx *ctx;   /* NULL once the task has finished (dw unlinked) */
} wait_slot;

/* asyncio's FIRST_EXCEPTION ignores cancelled tasks: only a real failure. */
static bool failed(int status)
{
    return status < 0 && status != -ECANCELED;
}

static bool met(const wait_ctx *c, bool any_failed)
{
    switch (c->when) {
    case RINGO_FIRST_COMPLETED: return c->ndone > 0;
    case RINGO_FIRST_EXCEPTION: return any_failed || c->ndone == c->n;
    default:                    return c->ndone == c->n;
    }
}

static void slot_done(ringo__done_waiter *w, ringo_task *finished)
{
    wait_slot *s = rlist_entry(w, wait_slot, dw);
    wait_ctx *c = s->ctx;
    s->ctx = NULL;
    c->ndone++;
    if (!c->met && met(c, failed(finished->status))) {
        c->met = true;
        ringo__wake(c->waiter);
    }
}

static void wait_describe(const ringo__wait *w, char *buf, size_t n)
{
    const wait_ctx *c = (const wait_ctx *)((const char *)w - offsetof(wait_ctx, wait));
    static const char *const when[] = { [RINGO_ALL_COMPLETED] = "all",
                                        [RINGO_FIRST_COMPLETED] = "first",
                                        [RINGO_FIRST_EXCEPTION] = "first failure" };
    snprintf(buf, n, "wait for %s of %zu tasks, %zu done", when[c->when], c->n, c->ndone);
}

/* Interrupted (cancel, deadline, our timeout): just wake; the caller
 * unqueues its slots itself. */
static void wait_cancel(ringo__wait *w)
{
    ringo__wake(((wait_ctx *)w)->waiter);
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return b > INT64_MAX - a ? INT64_MAX : a + b;
}

/* Suspend until c->met or the caller is interrupted; 0 or a negative errno. */
static int wait_slots(ringo_loop *l, wait_ctx *c, ringo_task **tasks, wait_slot *slots,
                      int64_t timeout_ns)
{
    ringo_task *cur = l->current;
    for (size_t i = 0; i < c->n; i++) {
        slots[i].ctx = NULL;
        if (tasks[i]->state != RINGO_T_DONE) {
            slots[i].dw.done = slot_done;
            slots[i].ctx = c;
            ringo__done_wait(tasks[i], &slots[i].dw);
        }
    }
    int64_t outer = cur->deadline;
    bool ours = false;
    if (timeout_ns >= 0) {
        int64_t at = add_sat(ringo_now(), timeout_ns);
        if (at < outer) {
            cur->deadline = at;
            ours = true;
        }
    }
    int ret = 0;
    while (!c->met && ret == 0) {
        ret = ringo__wait_on(l, &c->wait);
        if (ret == 0 && !c->met && l->broken)
            ret = -EDEADLK;
    }
    cur->deadline = outer;
    for (size_t i = 0; i < c->n; i++)
        if (slots[i].ctx)
            rlist_del(&slots[i].dw.link);
    /* Our own timeout, unless the caller's deadline has passed as well. */
    if (ret == -ETIMEDOUT && ours && (outer == INT64_MAX || ringo_now() < outer))
        ret = 0;
    return ret;
}

int ringo_wait(ringo_task **tasks, size_t n, enum ringo_when when, int64_t timeout_ns)
{
    if (!tasks || n == 0 || n > INT32_MAX ||
        (when != RINGO_ALL_COMPLETED && when != RINGO_FIRST_COMPLETED &&
         when != RINGO_FIRST_EXCEPTION))
        return -EINVAL;
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    wait_ctx c = { .wait = { .cancel = wait_cancel, .describe = wait_describe }, .waiter = l->current, .when = when, .n = n };
    bool any_failed = false;
    for (size_t i = 0; i < n; i++) {
        ringo_task *t = tasks[i];
        /* The caller must hold t: a released task may be freed under us. */
        if (!ringo__task_valid(t) || !t->caller_ref || t->loop != l || t == l->current)
            return -EINVAL;
        if (t->state == RINGO_T_DONE) {
            c.ndone++;
            any_failed |= failed(t->status);
        }
    }
    if (met(&c, any_failed) || timeout_ns == 0)
        return (int)c.ndone;

    wait_slot stack_slots[STACK_SLOTS];
    wait_slot *slots = stack_slots;
    if (n > STACK_SLOTS && !(slots = malloc(n * sizeof *slots)))
        return -ENOMEM;
    ret = wait_slots(l, &c, tasks, slots, timeout_ns);
    if (slots != stack_slots)
        free(slots);
    return ret < 0 ? ret : (int)c.ndone;
}
