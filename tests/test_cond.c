/* Condition: wait/notify(n)/notify_all, the lock is held again on every way
 * out of wait (notified, cancelled, timed out), a notification taken by a
 * cancelled waiter passes on, errors. Ported from CPython's test_asyncio/
 * test_locks.py (ConditionTests). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

struct stage {
    ringo_lock *lk;
    ringo_cond *c;
    int order[16];
    int n;
};

struct waiter {
    struct stage *s;
    int id;
    int ret;
    int release_ret;   /* ringo_lock_release after wait: 0 iff wait left it held */
    int64_t deadline;  /* relative, 0 = none */
    int64_t took;
};

static int wait_once(void *arg)
{
    struct waiter *w = arg;
    cr_assert_eq(ringo_lock_acquire(w->s->lk), 0);
    int64_t t0 = ringo_now();
    if (w->deadline)
        ringo_deadline(t0 + w->deadline);
    w->ret = ringo_cond_wait(w->s->c);
    w->took = ringo_now() - t0;
    if (w->ret == 0)
        w->s->order[w->s->n++] = w->id;
    w->release_ret = ringo_lock_release(w->s->lk);
    return 0;
}

static void spawn_waiters(struct waiter *w, ringo_task **t, int n, struct stage *s)
{
    for (int i = 0; i < n; i++) {
        w[i] = (struct waiter){ .s = s, .id = i, .ret = 1, .release_ret = 1 };
        cr_assert_eq(ringo_spawn(&t[i], wait_once, &w[i]), 0);
    }
    cr_assert_eq(ringo_yield(), 0);
}

static void stage_new(struct stage *s)
{
    memset(s, 0, sizeof *s);
    cr_assert_eq(ringo_lock_new(&s->lk), 0);
    cr_assert_eq(ringo_cond_new(&s->c, s->lk), 0);
}

static void stage_free(struct stage *s)
{
    ringo_cond_free(s->c);
    ringo_lock_free(s->lk);
}

static int errors_main(void *arg)
{
    struct stage *s = arg;
    cr_assert_eq(ringo_cond_wait(s->c), -EPERM, "wait without the lock");
    cr_assert_eq(ringo_cond_wait(NULL), -EINVAL);
    ringo_cond_notify(NULL, 1);
    ringo_cond_notify_all(NULL);
    ringo_cond_notify(s->c, 3);   /* nobody waits: nothing happens */
    ringo_cond_notify_all(s->c);
    ringo_cond_free(NULL);
    return 0;
}

Test(cond, wait_without_the_lock_and_bad_arguments)
{
    struct stage s;
    stage_new(&s);
    ringo_cond *c;
    cr_assert_eq(ringo_cond_new(&c, NULL), -EINVAL);
    cr_assert_eq(ringo_cond_new(NULL, s.lk), -EINVAL);
    cr_assert_eq(ringo_cond_wait(s.c), -EPERM, "waiting needs a task");
    cr_assert_eq(run_clean(errors_main, &s), 0);
    stage_free(&s);
}

static int lock_other(void *arg)
{
    struct stage *s = arg;
    return ringo_lock_acquire(s->lk);   /* and keep it */
}

static int not_owner_main(void *arg)
{
    struct stage *s = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, lock_other, s), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(ringo_cond_wait(s->c), -EPERM, "locked, but by another task");
    cr_assert_eq(ringo_lock_release(s->lk), 0);
    return 0;
}

Test(cond, wait_with_a_lock_held_by_another_task_is_eperm)
{
    struct stage s;
    stage_new(&s);
    cr_assert_eq(run_clean(not_owner_main, &s), 0);
    stage_free(&s);
}

static int notify_main(void *arg)
{
    struct stage *s = arg;
    struct waiter w[3];
    ringo_task *t[3];
    spawn_waiters(w, t, 3, s);
    cr_assert_eq(s->n, 0);
    cr_assert_eq(ringo_lock_acquire(s->lk), 0, "every waiter released the lock");
    ringo_cond_notify(s->c, 1);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(s->n, 0, "a notified waiter needs the lock before it returns");
    cr_assert_eq(ringo_lock_release(s->lk), 0);
    cr_assert_eq(ringo_await(t[0]), 0);
    cr_assert_eq(s->n, 1);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(s->n, 1, "notify(1) woke one");
    ringo_cond_notify(s->c, 2048);
    cr_assert_eq(ringo_await(t[1]), 0);
    cr_assert_eq(ringo_await(t[2]), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(w[i].release_ret, 0, "waiter %d returned without the lock", i);
    return 0;
}

Test(cond, notify_wakes_n_waiters_in_fifo_order_each_with_the_lock)
{
    struct stage s;
    stage_new(&s);
    cr_assert_eq(run_clean(notify_main, &s), 0);
    int want[] = { 0, 1, 2 };
    cr_assert_eq(s.n, 3);
    cr_assert_arr_eq(s.order, want, sizeof want);
    stage_free(&s);
}

static int notify_all_main(void *arg)
{
    struct stage *s = arg;
    struct waiter w[4];
    ringo_task *t[4];
    spawn_waiters(w, t, 4, s);
    ringo_cond_notify_all(s->c);   /* without holding the lock: allowed */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(w[i].release_ret, 0);
    return 0;
}

Test(cond, notify_all_wakes_everyone)
{
    struct stage s;
    stage_new(&s);
    cr_assert_eq(run_clean(notify_all_main, &s), 0);
    int want[] = { 0, 1, 2, 3 };
    cr_assert_eq(s.n, 4);
    cr_assert_arr_eq(s.order, want, sizeof want);
    stage_free(&s);
}

static int cancel_reacquires_main(void *arg)
{
    struct stage *s = arg;
    struct waiter w[1];
    ringo_task *t[1];
    spawn_waiters(w, t, 1, s);
    cr_assert_eq(ringo_lock_acquire(s->lk), 0);
    cr_assert_eq(ringo_cancel(t[0]), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_yield(), 0);
    /* Cancelled, but it must wait for the lock before returning, and
     * cancellation (sticky) does not break that wait. */
    cr_assert_eq(w[0].ret, 1, "wait returned without re-acquiring the lock");
    cr_assert_eq(ringo_lock_release(s->lk), 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(w[0].ret, -ECANCELED);
    cr_assert_eq(w[0].release_ret, 0, "the lock was held when wait returned");
    return 0;
}

Test(cond, cancelled_wait_reacquires_the_lock_before_returning)
{
    struct stage s;
    stage_new(&s);
    cr_assert_eq(run_clean(cancel_reacquires_main, &s), 0);
    cr_assert_eq(s.n, 0);
    stage_free(&s);
}

static int cancel_notified_main(void *arg)
{
    struct stage *s = arg;
    struct waiter w[3];
    ringo_task *t[3];
    spawn_waiters(w, t, 3, s);
    ringo_cond_notify(s->c, 1);     /* to waiter 0... */
    cr_assert_eq(ringo_cancel(t[0]), 0);   /* ...cancelled before it runs */
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(w[0].ret, -ECANCELED);
    cr_assert_eq(w[0].release_ret, 0);
    cr_assert_eq(ringo_await(t[1]), 0, "the notification passed on to waiter 1");
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(w[2].ret, 1, "one notify, one waiter woken");
    ringo_cond_notify(s->c, 1);
    cr_assert_eq(ringo_await(t[2]), 0);
    return 0;
}

Test(cond, notification_taken_by_a_cancelled_waiter_passes_on)
{
    struct stage s;
    stage_new(&s);
    cr_assert_eq(run_clean(cancel_notified_main, &s), 0);
    int want[] = { 1, 2 };
    cr_assert_eq(s.n, 2);
    cr_assert_arr_eq(s.order, want, sizeof want);
    stage_free(&s);
}

static int deadline_main(void *arg)
{
    struct stage *s = arg;
    struct waiter w = { .s = s, .id = 0, .ret = 1, .release_ret = 1, .deadline = RINGO_MS(20) };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, wait_once, &w), 0);
    cr_assert_eq(ringo_yield(), 0);
    /* Hold the lock across the deadline: the timed-out waiter must wait for
     * it, its deadline notwithstanding. */
    cr_assert_eq(ringo_lock_acquire(s->lk), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(40)), 0);
    cr_assert_eq(w.ret, 1);
    cr_assert_eq(ringo_lock_release(s->lk), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(w.ret, -ETIMEDOUT);
    cr_assert_geq(w.took, RINGO_MS(40));
    cr_assert_eq(w.release_ret, 0, "the lock was held when wait returned");
    return 0;
}

Test(cond, deadline_interrupts_the_wait_and_the_lock_is_reacquired)
{
    struct stage s;
    stage_new(&s);
    cr_assert_eq(run_clean(deadline_main, &s), 0);
    stage_free(&s);
}

/* The classic use: a predicate checked in a loop under the lock. */
struct box { struct stage *s; int items; int consumed; };

static int consume(void *arg)
{
    struct box *b = arg;
    for (int k = 0; k < 100; k++) {
        cr_assert_eq(ringo_lock_acquire(b->s->lk), 0);
        while (b->items == 0)
            cr_assert_eq(ringo_cond_wait(b->s->c), 0);
        b->items--;
        b->consumed++;
        cr_assert_eq(ringo_lock_release(b->s->lk), 0);
    }
    return 0;
}

static int predicate_main(void *arg)
{
    struct box *b = arg;
    ringo_task *t[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_spawn(&t[i], consume, b), 0);
    for (int k = 0; k < 300; k++) {
        cr_assert_eq(ringo_lock_acquire(b->s->lk), 0);
        b->items++;
        ringo_cond_notify(b->s->c, 1);
        cr_assert_eq(ringo_lock_release(b->s->lk), 0);
        if (k % 7 == 0)
            cr_assert_eq(ringo_yield(), 0);
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(cond, predicate_loop_consumes_every_item)
{
    struct stage s;
    stage_new(&s);
    struct box b = { .s = &s };
    cr_assert_eq(run_clean(predicate_main, &b), 0);
    cr_assert_eq(b.consumed, 300);
    cr_assert_eq(b.items, 0);
    stage_free(&s);
}

static int refuse_main(void *arg)
{
    struct stage *s = arg;
    struct waiter w[2];
    ringo_task *t[2];
    spawn_waiters(w, t, 2, s);
    stderr_capture_begin();
    ringo_cond_free(s->c);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_cond_free: 2 tasks still wait on this condition"),
                       "stderr: %s", err);
    free(err);
    ringo_cond_notify_all(s->c);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(cond, free_with_waiters_is_refused_with_a_message)
{
    struct stage s;
    stage_new(&s);
    cr_assert_eq(run_clean(refuse_main, &s), 0);
    stage_free(&s);
}
