/* Lock: uncontended use, FIFO fairness without barging, cancelled waiters
 * (before and after being handed the lock), deadlines, errors, refusal to
 * free with waiters, and a 10 000-task stress. Ported from CPython's
 * test_asyncio/test_locks.py (LockTests). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* What the contenders share: the order in which they got the lock, and a
 * check that nobody else is inside while one is. */
struct arena {
    ringo_lock *lk;
    int order[64];
    int n;
    int inside;
};

struct contender {
    struct arena *a;
    int id;
    int ret;           /* what ringo_lock_acquire returned */
    bool held;
};

static int contend(void *arg)
{
    struct contender *c = arg;
    c->ret = ringo_lock_acquire(c->a->lk);
    if (c->ret < 0)
        return c->ret;
    c->held = true;
    cr_assert_eq(c->a->inside++, 0, "two tasks inside the lock");
    c->a->order[c->a->n++] = c->id;
    cr_assert_eq(ringo_yield(), 0);
    c->a->inside--;
    cr_assert_eq(ringo_lock_release(c->a->lk), 0);
    return 0;
}

/* Spawn n contenders and let each reach its first suspension. */
static void spawn_contenders(struct contender *c, ringo_task **t, int n, struct arena *a)
{
    for (int i = 0; i < n; i++) {
        c[i] = (struct contender){ .a = a, .id = i, .ret = 1 };
        cr_assert_eq(ringo_spawn(&t[i], contend, &c[i]), 0);
    }
    cr_assert_eq(ringo_yield(), 0);
}

static int basics_main(void *arg)
{
    (void)arg;
    ringo_lock *lk;
    cr_assert_eq(ringo_lock_new(&lk), 0);
    cr_assert_eq(ringo_lock_release(lk), -EPERM, "release of an unlocked lock");
    cr_assert_eq(ringo_lock_acquire(lk), 0);
    cr_assert_eq(ringo_lock_acquire(lk), -EDEADLK, "the lock is not reentrant");
    cr_assert_eq(ringo_lock_release(lk), 0);
    cr_assert_eq(ringo_lock_release(lk), -EPERM, "released twice");
    cr_assert_eq(ringo_lock_acquire(lk), 0);
    cr_assert_eq(ringo_lock_release(lk), 0);
    cr_assert_eq(ringo_lock_acquire(NULL), -EINVAL);
    cr_assert_eq(ringo_lock_release(NULL), -EINVAL);
    ringo_lock_free(lk);
    ringo_lock_free(NULL);
    return 0;
}

Test(lock, acquire_release_and_errors)
{
    cr_assert_eq(ringo_lock_new(NULL), -EINVAL);
    ringo_lock *lk;
    cr_assert_eq(ringo_lock_new(&lk), 0, "constructors work without a loop");
    cr_assert_eq(ringo_lock_acquire(lk), -EPERM, "acquire needs a task");
    ringo_lock_free(lk);
    cr_assert_eq(run_clean(basics_main, NULL), 0);
}

static int fair_main(void *arg)
{
    struct arena *a = arg;
    struct contender c[6];
    ringo_task *t[6];
    cr_assert_eq(ringo_lock_acquire(a->lk), 0);
    spawn_contenders(c, t, 6, a);
    cr_assert_eq(a->n, 0, "nobody got a held lock");
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    /* No barging: the lock went to contender 0 on release, so taking it back
     * right away queues behind all six. */
    cr_assert_eq(ringo_lock_acquire(a->lk), 0);
    a->order[a->n++] = 99;
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(lock, waiters_acquire_in_fifo_order_and_a_releaser_cannot_barge)
{
    struct arena a = { 0 };
    cr_assert_eq(ringo_lock_new(&a.lk), 0);
    cr_assert_eq(run_clean(fair_main, &a), 0);
    int want[] = { 0, 1, 2, 3, 4, 5, 99 };
    cr_assert_eq(a.n, 7);
    cr_assert_arr_eq(a.order, want, sizeof want);
    ringo_lock_free(a.lk);
}

static int cancel_waiting_main(void *arg)
{
    struct arena *a = arg;
    struct contender c[3];
    ringo_task *t[3];
    cr_assert_eq(ringo_lock_acquire(a->lk), 0);
    spawn_contenders(c, t, 3, a);
    cr_assert_eq(ringo_cancel(t[1]), 0);
    cr_assert_eq(ringo_await(t[1]), -ECANCELED);
    cr_assert_eq(c[1].ret, -ECANCELED);
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    cr_assert_eq(ringo_await(t[0]), 0);
    cr_assert_eq(ringo_await(t[2]), 0);
    cr_assert_not(c[1].held);
    cr_assert_eq(ringo_lock_release(a->lk), -EPERM, "the lock ends unlocked");
    return 0;
}

Test(lock, cancelled_waiter_leaves_the_queue_and_the_lock_passes_on)
{
    struct arena a = { 0 };
    cr_assert_eq(ringo_lock_new(&a.lk), 0);
    cr_assert_eq(run_clean(cancel_waiting_main, &a), 0);
    int want[] = { 0, 2 };
    cr_assert_eq(a.n, 2);
    cr_assert_arr_eq(a.order, want, sizeof want);
    ringo_lock_free(a.lk);
}

static int cancel_granted_main(void *arg)
{
    struct arena *a = arg;
    struct contender c[3];
    ringo_task *t[3];
    cr_assert_eq(ringo_lock_acquire(a->lk), 0);
    spawn_contenders(c, t, 3, a);
    /* The release hands the lock to contender 0, which has not run yet when
     * it is cancelled: it must come back with -ECANCELED, holding nothing,
     * and the lock must go on to contender 1. */
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    cr_assert_eq(ringo_cancel(t[0]), 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(c[0].ret, -ECANCELED);
    cr_assert_not(c[0].held);
    cr_assert_eq(ringo_await(t[1]), 0);
    cr_assert_eq(ringo_await(t[2]), 0);
    cr_assert_eq(ringo_lock_acquire(a->lk), 0, "the lock is free again");
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    return 0;
}

Test(lock, waiter_cancelled_after_being_handed_the_lock_passes_it_on)
{
    struct arena a = { 0 };
    cr_assert_eq(ringo_lock_new(&a.lk), 0);
    cr_assert_eq(run_clean(cancel_granted_main, &a), 0);
    int want[] = { 1, 2 };
    cr_assert_eq(a.n, 2);
    cr_assert_arr_eq(a.order, want, sizeof want);
    ringo_lock_free(a.lk);
}

static int acquire_with_deadline(void *arg)
{
    struct contender *c = arg;
    int64_t t0 = ringo_now();
    ringo_deadline(t0 + RINGO_MS(20));
    c->ret = ringo_lock_acquire(c->a->lk);
    c->held = c->ret == 0;
    cr_assert_geq(ringo_now() - t0, RINGO_MS(20));
    return 0;
}

static int deadline_main(void *arg)
{
    struct arena *a = arg;
    struct contender slow = { .a = a, .id = 7, .ret = 1 };
    struct contender c[1];
    ringo_task *ts, *t[1];
    cr_assert_eq(ringo_lock_acquire(a->lk), 0);
    cr_assert_eq(ringo_spawn(&ts, acquire_with_deadline, &slow), 0);
    cr_assert_eq(ringo_yield(), 0);
    spawn_contenders(c, t, 1, a);   /* queued behind the one with a deadline */
    cr_assert_eq(ringo_await(ts), 0);
    cr_assert_eq(slow.ret, -ETIMEDOUT);
    cr_assert_not(slow.held);
    /* The timed-out waiter left no trace: the release goes to the next one. */
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    cr_assert_eq(ringo_await(t[0]), 0);
    cr_assert_eq(a->n, 1);
    cr_assert_eq(a->order[0], 0);
    return 0;
}

Test(lock, deadline_interrupts_the_wait_and_leaves_no_trace)
{
    struct arena a = { 0 };
    cr_assert_eq(ringo_lock_new(&a.lk), 0);
    cr_assert_eq(run_clean(deadline_main, &a), 0);
    ringo_lock_free(a.lk);
}

static int hold_then_yield(void *arg)
{
    struct arena *a = arg;
    cr_assert_eq(ringo_lock_acquire(a->lk), 0);
    a->n = 1;
    return 0;   /* returns holding it: somebody else releases */
}

static int other_release_main(void *arg)
{
    struct arena *a = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, hold_then_yield, a), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(a->n, 1);
    /* As asyncio: a lock is not tied to the task that acquired it. */
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    cr_assert_eq(ringo_lock_release(a->lk), -EPERM);
    return 0;
}

Test(lock, another_task_may_release_a_held_lock)
{
    struct arena a = { 0 };
    cr_assert_eq(ringo_lock_new(&a.lk), 0);
    cr_assert_eq(run_clean(other_release_main, &a), 0);
    ringo_lock_free(a.lk);
}

static int free_refused_main(void *arg)
{
    struct arena *a = arg;
    struct contender c[2];
    ringo_task *t[2];
    cr_assert_eq(ringo_lock_acquire(a->lk), 0);
    spawn_contenders(c, t, 2, a);
    stderr_capture_begin();
    ringo_lock_free(a->lk);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_lock_free: 2 tasks still wait on this lock; not freed"),
                       "stderr: %s", err);
    free(err);
    /* Still usable: the waiters get it. */
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    cr_assert_eq(a->n, 2);
    return 0;
}

Test(lock, free_with_waiters_is_refused_with_a_message)
{
    struct arena a = { 0 };
    cr_assert_eq(ringo_lock_new(&a.lk), 0);
    cr_assert_eq(run_clean(free_refused_main, &a), 0);
    ringo_lock_free(a.lk);
}

static int acquire_only(void *arg)
{
    return ringo_lock_acquire(arg);
}

static int slot_reuse_main(void *arg)
{
    struct arena *a = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, hold_then_yield, a), 0);
    cr_assert_eq(ringo_await(t), 0);   /* finished holding the lock */
    /* Task slots are reused: whichever new task lands in the finished
     * owner's slot must still wait like any other, not be taken for the
     * owner (-EDEADLK). */
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(ringo_spawn(&t, acquire_only, a->lk), 0);
        cr_assert_eq(ringo_yield(), 0);
        cr_assert_eq(ringo_cancel(t), 0);
        cr_assert_eq(ringo_await(t), -ECANCELED, "task %d did not wait", i);
    }
    cr_assert_eq(ringo_lock_release(a->lk), 0);
    return 0;
}

Test(lock, a_new_task_in_a_finished_owners_slot_does_not_own_the_lock)
{
    struct arena a = { 0 };
    cr_assert_eq(ringo_lock_new(&a.lk), 0);
    cr_assert_eq(run_clean(slot_reuse_main, &a), 0);
    ringo_lock_free(a.lk);
}

/* ---- stress ------------------------------------------------------------ */

#define STRESS_TASKS 10000

struct stress { ringo_lock *lk; long counter; int inside, max_inside; };

static int increment(void *arg)
{
    struct stress *s = arg;
    int ret = ringo_lock_acquire(s->lk);
    if (ret < 0)
        return ret;
    if (++s->inside > s->max_inside)
        s->max_inside = s->inside;
    long v = s->counter;
    ret = ringo_yield();   /* everyone else runs here: a lost update would show */
    s->counter = v + 1;
    s->inside--;
    int rel = ringo_lock_release(s->lk);
    return ret < 0 ? ret : rel;
}

static int stress_main(void *arg)
{
    struct stress *s = arg;
    ringo_task **t = calloc(STRESS_TASKS, sizeof *t);
    cr_assert_not_null(t);
    for (int i = 0; i < STRESS_TASKS; i++)
        cr_assert_eq(ringo_spawn(&t[i], increment, s), 0);
    for (int i = 0; i < STRESS_TASKS; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    free(t);
    return 0;
}

Test(lock, ten_thousand_tasks_contending_count_exactly)
{
    struct stress s = { 0 };
    cr_assert_eq(ringo_lock_new(&s.lk), 0);
    cr_assert_eq(run_clean(stress_main, &s), 0);
    cr_assert_eq(s.counter, STRESS_TASKS);
    cr_assert_eq(s.max_inside, 1);
    ringo_lock_free(s.lk);
}
