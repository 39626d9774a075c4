/* wait: each `when`, the timeout, counts, nothing cancelled and nothing
 * released, caller cancellation and deadline, bad arguments. Ported from
 * CPython's test_asyncio/test_tasks.py (test_wait*). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "helpers.h"

struct job { int64_t sleep_ns; int ret; int seen; };

static int job_fn(void *arg)
{
    struct job *j = arg;
    j->seen = ringo_sleep(j->sleep_ns);
    return j->seen < 0 ? j->seen : j->ret;
}

static void spawn_jobs(ringo_task **t, struct job *j, int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(ringo_spawn(&t[i], job_fn, &j[i]), 0);
}

/* Cancel what is left and await everything (wait released nothing). */
static void finish(ringo_task **t, int n)
{
    for (int i = 0; i < n; i++)
        if (!ringo_task_done(t[i]))
            ringo_cancel(t[i]);
    (void)ringo_gather(t, (size_t)n, NULL);
}

static int all_main(void *arg)
{
    (void)arg;
    struct job j[3] = { { RINGO_MS(1), 0, 1 }, { RINGO_MS(10), -EIO, 1 }, { RINGO_MS(5), 0, 1 } };
    ringo_task *t[3];
    spawn_jobs(t, j, 3);
    cr_assert_eq(ringo_wait(t, 3, RINGO_ALL_COMPLETED, -1), 3);
    for (int i = 0; i < 3; i++)
        cr_assert(ringo_task_done(t[i]));
    /* Nothing was released: each status can still be collected. */
    cr_assert_eq(ringo_await(t[0]), 0);
    cr_assert_eq(ringo_await(t[1]), -EIO);
    cr_assert_eq(ringo_await(t[2]), 0);
    return 0;
}

Test(wait, all_completed_waits_for_every_task)
{
    cr_assert_eq(run_clean(all_main, NULL), 0);
}

static int first_main(void *arg)
{
    (void)arg;
    struct job j[3] = { { RINGO_SEC(10), 0, 1 }, { RINGO_MS(5), 0, 1 }, { RINGO_SEC(10), 0, 1 } };
    ringo_task *t[3];
    spawn_jobs(t, j, 3);
    cr_assert_eq(ringo_wait(t, 3, RINGO_FIRST_COMPLETED, -1), 1);
    cr_assert(ringo_task_done(t[1]));
    cr_assert_not(ringo_task_done(t[0]));
    cr_assert_not(ringo_task_done(t[2]));
    /* It cancelled nothing: the others still run after a few yields. */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(j[0].seen, 1);
    cr_assert_eq(j[2].seen, 1);
    finish(t, 3);
    return 0;
}

Test(wait, first_completed_returns_after_the_first_and_cancels_nothing)
{
    int64_t t0 = ringo_now();
    cr_assert_eq(run_clean(first_main, NULL), 0);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(2));
}

static int first_exception_main(void *arg)
{
    (void)arg;
    struct job j[3] = { { RINGO_MS(1), 0, 1 }, { RINGO_MS(5), -EIO, 1 }, { RINGO_SEC(10), 0, 1 } };
    ringo_task *t[3];
    spawn_jobs(t, j, 3);
    cr_assert_eq(ringo_wait(t, 3, RINGO_FIRST_EXCEPTION, -1), 2);
    cr_assert(ringo_task_done(t[1]));
    cr_assert_not(ringo_task_done(t[2]));
    finish(t, 3);
    return 0;
}

Test(wait, first_exception_returns_at_the_first_failure)
{
    cr_assert_eq(run_clean(first_exception_main, NULL), 0);
}

static int first_exception_cancelled_main(void *arg)
{
    (void)arg;
    /* A cancelled task is not an exception (asyncio checks f.cancelled()
     * first), so the wait goes on until every task is done. */
    struct job j[2] = { { RINGO_SEC(10), 0, 1 }, { RINGO_MS(20), 0, 1 } };
    ringo_task *t[2];
    spawn_jobs(t, j, 2);
    cr_assert_eq(ringo_cancel(t[0]), 0);
    cr_assert_eq(ringo_wait(t, 2, RINGO_FIRST_EXCEPTION, -1), 2);
    cr_assert_eq(j[1].seen, 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(ringo_await(t[1]), 0);
    /* All succeed: FIRST_EXCEPTION acts as ALL_COMPLETED. */
    struct job k[2] = { { RINGO_MS(1), 0, 1 }, { RINGO_MS(3), 0, 1 } };
    spawn_jobs(t, k, 2);
    cr_assert_eq(ringo_wait(t, 2, RINGO_FIRST_EXCEPTION, -1), 2);
    finish(t, 2);
    return 0;
}

Test(wait, first_exception_ignores_cancelled_tasks)
{
    cr_assert_eq(run_clean(first_exception_cancelled_main, NULL), 0);
}

static int timeout_main(void *arg)
{
    (void)arg;
    struct job j[3] = { { RINGO_MS(1), 0, 1 }, { RINGO_SEC(10), 0, 1 }, { RINGO_SEC(10), 0, 1 } };
    ringo_task *t[3];
    spawn_jobs(t, j, 3);
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_wait(t, 3, RINGO_ALL_COMPLETED, RINGO_MS(20)), 1, "the timeout is not an error");
    int64_t took = ringo_now() - t0;
    cr_assert_geq(took, RINGO_MS(20));
    cr_assert_lt(took, RINGO_SEC(1));
    for (int i = 0; i < 5; i++)
        cr_assert_eq(ringo_yield(), 0, "the timeout must not leave the caller timed out");
    cr_assert_eq(j[1].seen, 1, "the timeout cancelled a task");
    cr_assert_eq(j[2].seen, 1);
    /* Timeout 0: a poll, no suspension. */
    cr_assert_eq(ringo_wait(t, 3, RINGO_FIRST_EXCEPTION, 0), 1);
    cr_assert_eq(ringo_wait(t, 3, RINGO_FIRST_COMPLETED, RINGO_SEC(10)), 1, "already met: at once");
    finish(t, 3);
    return 0;
}

Test(wait, timeout_returns_the_count_and_cancels_nothing)
{
    cr_assert_eq(run_clean(timeout_main, NULL), 0);
}

struct waiter { ringo_task *t; int ret; };

static int waiter_fn(void *arg)
{
    struct waiter *w = arg;
    w->ret = ringo_wait(&w->t, 1, RINGO_ALL_COMPLETED, -1);
    return w->ret;
}

static int caller_cancel_main(void *arg)
{
    (void)arg;
    struct job j = { RINGO_MS(30), 0, 1 };
    struct waiter w = { .ret = 1 };
    ringo_task *wt;
    cr_assert_eq(ringo_spawn(&w.t, job_fn, &j), 0);
    cr_assert_eq(ringo_spawn(&wt, waiter_fn, &w), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(wt), 0);
    cr_assert_eq(ringo_await(wt), -ECANCELED);
    cr_assert_eq(w.ret, -ECANCELED);
    cr_assert_not(ringo_task_done(w.t));
    cr_assert_eq(ringo_await(w.t), 0, "the waited-on task must not be cancelled");
    return 0;
}

Test(wait, cancelled_caller_gets_ecanceled_and_the_tasks_run_on)
{
    cr_assert_eq(run_clean(caller_cancel_main, NULL), 0);
}

static int caller_deadline_main(void *arg)
{
    (void)arg;
    struct job j = { RINGO_SEC(10), 0, 1 };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, job_fn, &j), 0);
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(10));
    cr_assert_eq(ringo_wait(&t, 1, RINGO_ALL_COMPLETED, RINGO_SEC(5)), -ETIMEDOUT,
                 "the caller's deadline is an error, unlike the timeout");
    ringo_deadline(old);
    cr_assert_not(ringo_task_done(t));
    cr_assert_eq(ringo_yield(), 0, "the caller's deadline was restored");
    finish(&t, 1);
    return 0;
}

Test(wait, caller_deadline_gives_etimedout)
{
    cr_assert_eq(run_clean(caller_deadline_main, NULL), 0);
}

static int bad_args_main(void *arg)
{
    (void)arg;
    struct job j = { 0, 0, 1 };
    ringo_task *t[2];
    spawn_jobs(t, &j, 1);
    cr_assert_eq(ringo_wait(NULL, 1, RINGO_ALL_COMPLETED, -1), -EINVAL);
    cr_assert_eq(ringo_wait(t, 0, RINGO_ALL_COMPLETED, -1), -EINVAL, "empty set, as asyncio");
    cr_assert_eq(ringo_wait(t, 1, (enum ringo_when)7, -1), -EINVAL);
    t[1] = NULL;
    cr_assert_eq(ringo_wait(t, 2, RINGO_ALL_COMPLETED, -1), -EINVAL);
    t[1] = ringo_self();
    cr_assert_eq(ringo_wait(t, 2, RINGO_ALL_COMPLETED, -1), -EINVAL);
    cr_assert_eq(ringo_await(t[0]), 0);
    cr_assert_eq(ringo_wait(t, 1, RINGO_ALL_COMPLETED, -1), -EINVAL, "released handle");
    return 0;
}

Test(wait, bad_arguments)
{
    cr_assert_eq(run_clean(bad_args_main, NULL), 0);
    ringo_task *t = NULL;
    cr_assert_eq(ringo_wait(&t, 1, RINGO_ALL_COMPLETED, -1), -EPERM);
}
