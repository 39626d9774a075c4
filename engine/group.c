/* ringo_group: asyncio.TaskGroup. The group holds the reference of every
 * task spawned into it; each member has a done-waiter that records the first
 * failure and cancels the siblings right away (asyncio's _on_task_done ->
 * _abort), whether or not ringo_group_wait is running yet.
 *
 * Differences from asyncio, forced by sticky cancellation: a member failing
 * before ringo_group_wait does not cancel the task that will wait (asyncio
 * cancels the parent and "uncancels" it in __aexit__, which ringo cannot),
 * and only the first failure is returned (no exception group). */
#include <stdio.h>
#include <stdlib.h>

#include "engine/internal.h"

struct ringo_group {
    ringo_loop *loop;       /* bound at the first spawn */
    rlist members;          /* gmember of the tasks not finished */
    size_t pending;         /* length of members */
    int error;              /* first failure, 0 if none */
    bool aborting;          /* members cancelled: spawning is refused */
    ringo__wait wait;       /* ringo_group_wait's */
    ringo_task *waiter;     /* the task in ringo_group_wait, NULL before */
};

/* One malloc per member (its done-waiter must outlive the spawn call), freed
 * when the member finishes. Not "group_member": glibc has group_member(3). */
typedef struct gmember {
    ringo__done_waiter dw;
    rlist link;             /* in g->members */
    ringo_group *g;
    ringo_task *task;
} gmember;

static void group_abort(ringo_group *g)
{
    g->aborting = true;
    /* Safe to walk: cancelling only interrupts waits, no member can finish
     * (and leave the list) before it runs again. */
    for (rlist *p = g->members.next; p != &g->members; p = p->next)
        (void)ringo__cancel(rlist_entry(p, gmember, link)->task);
}

/* Runs in the finishing member's context: records, cancels, wakes. */
static void member_done(ringo__done_waiter *w, ringo_task *finished)
{
    gmember *m = rlist_entry(w, gmember, dw);
    ringo_group *g = m->g;
    rlist_del(&m->link);
    g->pending--;
    free(m);
    /* Drop the group's reference. Not with ringo__task_release: the task is
     * still on its stack, and the scheduler frees it on reaping it once no
     * reference is held. */
    finished->retrieved = true;
    finished->caller_ref = false;
    /* A cancelled member is not a failure (asyncio ignores them too). */
    int st = finished->status;
    if (st < 0 && st != -ECANCELED && !g->error) {
        g->error = st;
        group_abort(g);
    }
    if (g->pending == 0 && g->waiter)
        ringo__wake(g->waiter);
}

/* The waiter is interrupted: cancel everything; the last member to finish
 * wakes it. */
static void group_cancel(ringo__wait *w)
{
    group_abort((ringo_group *)((char *)w - offsetof(ringo_group, wait)));
}

static void group_describe(const ringo__wait *w, char *buf, size_t n)
{
    const ringo_group *g = (const ringo_group *)((const char *)w - offsetof(ringo_group, wait));
    snprintf(buf, n, "task group %p, %zu running", (const void *)g, g->pending);
}

int ringo_group_new(ringo_group **out)
{
    if (!out)
        return -EINVAL;
    ringo_group *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    rlist_init(&g->members);
    g->wait.cancel = group_cancel;
    g->wait.describe = group_describe;
    *out = g;
    return 0;
}

int ringo_group_spawn(ringo_group *g, ringo_fn fn, void *arg)
{
    if (!g || !fn)
        return -EINVAL;
    ringo_loop *l = ringo__loop;
    if (!l)
        return -EPERM;
    if (g->loop && g->loop != l)
        return -EINVAL;
    if (g->aborting)
        return -ECANCELED;
    gmember *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    int ret = ringo_spawn(&m->task, fn, arg);
    if (ret < 0) {
        free(m);
        return ret;
    }
    if (RINGO_UNLIKELY(l->debug))
        m->task->site = __builtin_return_address(0);
    g->loop = l;
    m->g = g;
    m->dw.done = member_done;
    rlist_push(&g->members, &m->link);
    g->pending++;
    ringo__done_wait(m->task, &m->dw);
    return 0;
}

/* The loop gave up on a deadlock: let the members run on, detached. */
static void group_detach_all(ringo_group *g)
{
    while (!rlist_empty(&g->members)) {
        gmember *m = rlist_entry(g->members.next, gmember, link);
        rlist_del(&m->link);
        rlist_del(&m->dw.link);
        ringo__task_release(m->task);
        free(m);
    }
    g->pending = 0;
}


static bool is_member(const ringo_group *g, const ringo_task *t)
{
    for (const rlist *p = g->members.next; p != &g->members; p = p->next)
        if (rlist_entry(p, gmember, link)->task == t)
            return true;
    return false;
}

int ringo_group_wait(ringo_group *g)
{
    if (!g)
        return -EINVAL;
    ringo_loop *l = ringo__loop;
    if (!l || !l->current) {
        /* No loop: no member can be alive, so freeing is safe. */
        if (!l && g->pending == 0)
            free(g);
        return -EPERM;
    }
    ringo_task *cur = l->current;
    /* Refused without freeing: the rightful waiter will free g. */
    if (g->waiter)
        return -EINVAL;
    if (is_member(g, cur))
        return -EDEADLK;
    g->waiter = cur;
    int stop = ringo__interrupted(cur);
    while (g->pending) {
        /* As ringo_await: an interrupted caller still cancels and awaits.
         * Checked on every round: the caller may have been cancelled while
         * it was ready to run, and a task may have spawned into g then. */
        if (!stop)
            stop = ringo__interrupted(cur);
        if (stop) {
            group_abort(g);
            g->wait.cancel = NULL;   /* not interruptible from now on */
            ringo__suspend(l, &g->wait);   /* the last member to finish wakes us */
        } else {
            stop = ringo__wait_on(l, &g->wait);
        }
        if (g->pending && l->broken) {
            group_detach_all(g);
            if (!stop)
                stop = -EDEADLK;
        }
    }
    int ret = stop ? stop : g->error;
    free(g);
    return ret;
}
