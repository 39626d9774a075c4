/* The scheduler: a FIFO run queue, suspension, and the loop that alternates
 * between running ready tasks and one trip through the ring.
 *
 * Tasks hand the CPU to each other directly (symmetric switch) while the
 * current pass has budget left; the scheduler's own context is entered only
 * to do I/O, to start a new pass, or to release a finished task's stack. */
#include <stdio.h>

#include "engine/backend.h"
#include "engine/inbox.h"

__thread ringo_loop *ringo__loop __attribute__((tls_model("initial-exec")));

#define RINGO_PASS_MIN 64

static inline void rq_push(ringo_loop *l, ringo_task *t)
{
    t->rq_next = NULL;
    if (l->rq_tail)
        l->rq_tail->rq_next = t;
    else
        l->rq_head = t;
    l->rq_tail = t;
    l->rq_len++;
}

static inline ringo_task *rq_pop(ringo_loop *l)
{
    ringo_task *t = l->rq_head;
    if (t) {
        l->rq_head = t->rq_next;
        if (!l->rq_head)
            l->rq_tail = NULL;
        l->rq_len--;
    }
    return t;
}

void ringo__wake(ringo_task *t)
{
    if (t->state == RINGO_T_READY || t->state == RINGO_T_DONE)
        return;
    t->state = RINGO_T_READY;
    t->waiting = NULL;
    rq_push(t->loop, t);
}

/* A finished task's stack can only be released once we are off it: whoever
 * runs next after a task exits does it. */
static inline void reap_dead(ringo_loop *l)
{
    if (l->dead) {
        ringo__task_reap(l, l->dead);
        l->dead = NULL;
    }
}

void ringo__reap_dead(ringo_loop *l)
{
    reap_dead(l);
}

/* The next task the current pass may run, or NULL to go to the scheduler. */
static inline ringo_task *next_ready(ringo_loop *l)
{
    ringo_task *next = l->budget ? rq_pop(l) : NULL;
    if (next) {
        /* With thousands of tasks ready, cache misses on cold stacks and
         * task records were most of a switch's cost: fetch the next task's
         * saved registers, and the record of the one after it, while this
         * one runs (the next record was fetched a switch ago). */
        ringo_task *after = l->rq_head;
        if (after) {
            __builtin_prefetch(after->coro.sp);
            __builtin_prefetch((char *)after->coro.sp + 56);
            ringo_task *then = after->rq_next;
            if (then) {
                __builtin_prefetch(then);
                __builtin_prefetch(&then->rq_next);
            }
        }
        l->budget--;
        next->state = RINGO_T_RUNNING;
        l->current = next;
    } else {
        l->current = NULL;
    }
    return next;
}

coro_t *ringo__exit_to(ringo_loop *l, ringo_task *cur)
{
    if (RINGO_UNLIKELY(l->debug))
        ringo__debug_slice_end(l, cur);
    l->dead = cur;
    ringo_task *next = next_ready(l);
    return coro_return_to(&cur->coro, next ? &next->coro : &l->sched);
}

/* Leave the current task `cur` (already queued, suspended or done): run the
 * next ready task if the pass allows, else go back to the scheduler. */
static inline void switch_away(ringo_loop *l, ringo_task *cur)
{
    if (RINGO_UNLIKELY(l->debug))
        ringo__debug_slice_end(l, cur);
    ringo_task *next = next_ready(l);
    if (next == cur)
        return;
    coro_switch(&cur->coro, next ? &next->coro : &l->sched);
    reap_dead(l);
}

void ringo__suspend(ringo_loop *l, ringo__wait *w)
{
    ringo_task *cur = l->current;
    cur->state = RINGO_T_SUSPENDED;
    cur->waiting = w;
    cur->since = l->now;
    switch_away(l, cur);
    cur->waiting = NULL;
}

void ringo__yield_now(ringo_loop *l)
{
    ringo_task *cur = l->current;
    cur->state = RINGO_T_READY;
    rq_push(l, cur);
    switch_away(l, cur);
}

int ringo_yield(void)
{
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo__yield_now(l);
    return l->current->cancelled ? -ECANCELED : 0;
}

/* Nothing is ready, nothing is in flight, yet tasks wait: nothing can ever
 * wake them. First cancel them all so the program unwinds instead of
 * hanging; if they still wait (a cycle of awaits, which cancellation does
 * not interrupt), wake every waiter with the loop marked broken, which makes
 * ringo_await give up with -EDEADLK. */
static void break_deadlock(ringo_loop *l, unsigned strike)
{
    if (strike == 1) {
        fprintf(stderr, "ringo: deadlock: %zu task(s) wait and nothing can wake them; "
                        "cancelling them\n", l->nlive);
        for (rlist *p = l->live.next; p != &l->live; p = p->next)
            (void)ringo__cancel(rlist_entry(p, ringo_task, live_link));
        return;
    }
    l->broken = true;
    for (rlist *p = l->live.next; p != &l->live; p = p->next) {
        ringo_task *t = rlist_entry(p, ringo_task, live_link);
        if (t->state == RINGO_T_SUSPENDED)
            ringo__wake(t);
    }
}

static inline bool finished(const ringo_loop *l, const ringo_task *until)
{
    return until ? until->state == RINGO_T_DONE : l->nlive == 0;
}

void ringo__schedule(ringo_loop *l, const ringo_task *until)
{
    unsigned strikes = 0;
    while (!finished(l, until)) {
        if (l->rq_len)
            strikes = 0;
        /* A pass runs what is ready now, and what they make ready, up to a
         * bound that keeps completions reaped while tasks stay busy. */
        l->budget = l->rq_len > RINGO_PASS_MIN ? l->rq_len : RINGO_PASS_MIN;
        while (l->budget && l->rq_len) {
            ringo_task *t = rq_pop(l);
            l->budget--;
            t->state = RINGO_T_RUNNING;
            l->current = t;
            if (RINGO_UNLIKELY(l->debug))
                l->slice_start = ringo_now();
            coro_switch(&l->sched, &t->coro);
            reap_dead(l);
        }
        l->broken = false;
        if (finished(l, until))
            return;
        if (RINGO_UNLIKELY(l->debug))
            ringo__debug_usr1_poll(l);
        /* Waits that another thread or loop may end (an event set from
         * anywhere, a task of another loop, a channel) are not deadlocks. */
        if (l->rq_len == 0 && l->inflight == 0 && !ringo__timers_armed(l) &&
            l->proxies == 0 && l->external == 0 && ringo__inbox_idle(l)) {
            /* What is queued then wakes nobody (cancel requests, the
             * inbox's poll): submit it, don't wait for it. */
            if (ringo__backend_queued(l)) {
                ringo__step(l, false);
                continue;
            }
            break_deadlock(l, ++strikes);
            continue;
        }
        ringo__step(l, l->rq_len == 0);
    }
}
