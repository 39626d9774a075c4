/* Per-task deadlines (asyncio.timeout) and the generic wait that honours
 * them. A wait that is not an io_uring op arms a user-space timer for the
 * task's deadline; ops in flight get an IORING_OP_LINK_TIMEOUT instead (op.c). */
#include "engine/internal.h"

int64_t ringo_deadline(int64_t abs_ns)
{
    ringo_loop *l = ringo__loop;
    if (!l || !l->current)
        return -EPERM;
    if (abs_ns < 0)
        return -EINVAL;
    int64_t old = l->current->deadline;
    l->current->deadline = abs_ns;
    return old;
}

typedef struct deadline_timer {
    ringo__timer tm;
    ringo_task *task;
    ringo__wait *w;
} deadline_timer;

static void deadline_fire(ringo__timer *tm)
{
    deadline_timer *d = (deadline_timer *)tm;
    ringo_task *t = d->task;
    if (t->state == RINGO_T_SUSPENDED && t->waiting == d->w && ringo__interruptible(d->w))
        ringo__interrupt(t, -ETIMEDOUT);
}

void ringo__interrupt(ringo_task *t, int why)
{
    ringo__wait *w = t->waiting;
    w->why = why;
    w->cancel(w);
}

int ringo__wait_on(ringo_loop *l, ringo__wait *w)
{
    ringo_task *cur = l->current;
    w->why = 0;
    if (cur->deadline == INT64_MAX) {
        ringo__suspend(l, w);
        return w->why;
    }
    deadline_timer d = {
        .tm = { .at = cur->deadline, .fire = deadline_fire },
        .task = cur,
        .w = w,
    };
    if (ringo__timer_add(l, &d.tm) < 0) {
        /* No memory for the heap: wait without a deadline rather than fail
         * after the caller has queued itself. */
        ringo__suspend(l, w);
        return w->why;
    }
    ringo__suspend(l, w);
    ringo__timer_del(l, &d.tm);
    return w->why;
}
