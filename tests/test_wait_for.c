/* wait_for: result in time, timeout (the task is cancelled and really
 * awaited), a task finishing at the timeout instant keeps its result, an
 * error raised while unwinding wins, timeout 0 and < 0, caller cancellation,
 * reference released. Ported from CPython's test_asyncio/test_waitfor.py. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "helpers.h"

static void spin(int64_t ns)
{
    int64_t end = ringo_now() + ns;
    while (ringo_now() < end)
        ;
}

struct job {
    int64_t sleep_ns;
    int ret;            /* returned after the sleep */
    int on_cancel;      /* returned when the sleep was cancelled */
    int64_t unwind_ns;  /* spun after a cancel (a cancelled task cannot suspend) */
    int seen;
    bool ran, ended;
};

static int job_fn(void *arg)
{
    struct job *j = arg;
    j->ran = true;
    j->seen = ringo_sleep(j->sleep_ns);
    if (j->seen == -ECANCELED) {
        spin(j->unwind_ns);
        j->ended = true;
        return j->on_cancel;
    }
    j->ended = true;
    return j->ret;
}

static int in_time_main(void *arg)
{
    (void)arg;
    struct job j = { .sleep_ns = RINGO_MS(5), .ret = -EIO };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, job_fn, &j), 0);
    cr_assert_eq(ringo_wait_for(t, RINGO_SEC(5)), -EIO, "the task's own status");
    cr_assert_eq(ringo_await(t), -EINVAL, "the reference was released");
    cr_assert_eq(ringo_spawn(&t, job_fn, &j), 0);
    cr_assert_eq(ringo_wait_for(t, -1), -EIO, "< 0: no timeout");
    return 0;
}

Test(wait_for, returns_the_status_when_in_time)
{
    int64_t t0 = ringo_now();
    cr_assert_eq(run_clean(in_time_main, NULL), 0);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(2));
}

static int timeout_main(void *arg)
{
    struct job *j = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, job_fn, j), 0);
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_wait_for(t, RINGO_MS(10)), -ETIMEDOUT);
    /* Checked right away: wait_for must have waited for the unwinding. */
    cr_assert(j->ended, "wait_for returned before the cancelled task finished");
    int64_t took = ringo_now() - t0;
    cr_assert_geq(took, RINGO_MS(10) + j->unwind_ns);
    cr_assert_lt(took, RINGO_SEC(2));
    cr_assert_eq(ringo_yield(), 0, "the caller's deadline was restored");
    return 0;
}

Test(wait_for, timeout_cancels_the_task_and_waits_until_it_finished)
{
    struct job j = { .sleep_ns = RINGO_SEC(10), .on_cancel = 0, .unwind_ns = RINGO_MS(30) };
    cr_assert_eq(run_clean(timeout_main, &j), 0);
    cr_assert_eq(j.seen, -ECANCELED);
}

static int reraise_main(void *arg)
{
    (void)arg;
    struct job j = { .sleep_ns = RINGO_SEC(10), .on_cancel = -EIO };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, job_fn, &j), 0);
    cr_assert_eq(ringo_wait_for(t, RINGO_MS(5)), -EIO,
                 "an error raised while unwinding is returned, not -ETIMEDOUT");
    return 0;
}

Test(wait_for, error_raised_during_cancellation_is_returned)
{
    cr_assert_eq(run_clean(reraise_main, NULL), 0);
}

struct spinner { int64_t ns; bool ended; };

/* Never suspends: finishes after the timeout has expired, before the
 * caller had a chance to act on it. */
static int spinner_fn(void *arg)
{
    struct spinner *s = arg;
    spin(s->ns);
    s->ended = true;
    return 0;
}

static int same_instant_main(void *arg)
{
    (void)arg;
    struct spinner s = { RINGO_MS(30), false };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, spinner_fn, &s), 0);
    cr_assert_eq(ringo_wait_for(t, RINGO_MS(5)), 0, "a task done by the timeout keeps its result");
    cr_assert(s.ended);
    cr_assert_eq(ringo_yield(), 0);
    return 0;
}

Test(wait_for, task_completing_at_the_timeout_keeps_its_result)
{
    cr_assert_eq(run_clean(same_instant_main, NULL), 0);
}

static int zero_main(void *arg)
{
    (void)arg;
    struct job j = { .sleep_ns = 0, .ret = -ENOENT };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, job_fn, &j), 0);
    while (!ringo_task_done(t))
        cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_wait_for(t, 0), -ENOENT, "timeout 0 on a finished task: its status");

    struct job k = { .sleep_ns = RINGO_SEC(10) };
    cr_assert_eq(ringo_spawn(&t, job_fn, &k), 0);
    cr_assert_eq(ringo_wait_for(t, 0), -ETIMEDOUT);
    cr_assert_not(k.ran, "timeout 0 on a task not started: it never runs");

    struct job m = { .sleep_ns = RINGO_SEC(10), .unwind_ns = RINGO_MS(20) };
    cr_assert_eq(ringo_spawn(&t, job_fn, &m), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_wait_for(t, 0), -ETIMEDOUT);
    cr_assert(m.ended, "timeout 0 still waits for the cancelled task");
    return 0;
}

Test(wait_for, timeout_zero)
{
    cr_assert_eq(run_clean(zero_main, NULL), 0);
}

struct outer { struct job j; int ret; bool ended_at_return; };

static int outer_fn(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, job_fn, &o->j), 0);
    o->ret = ringo_wait_for(t, RINGO_SEC(10));
    o->ended_at_return = o->j.ended;
    return o->ret;
}

static int caller_cancel_main(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, outer_fn, o), 0);
    while (!o->j.ran)
        cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    return 0;
}

Test(wait_for, cancelled_caller_cancels_and_awaits_the_task)
{
    struct outer o = { .j = { .sleep_ns = RINGO_SEC(10), .unwind_ns = RINGO_MS(20) } };
    cr_assert_eq(run_clean(caller_cancel_main, &o), 0);
    cr_assert_eq(o.ret, -ECANCELED);
    cr_assert_eq(o.j.seen, -ECANCELED);
    cr_assert(o.ended_at_return);
}

static int bad_args_main(void *arg)
{
    (void)arg;
    cr_assert_eq(ringo_wait_for(NULL, RINGO_MS(1)), -EINVAL);
    cr_assert_eq(ringo_wait_for(ringo_self(), RINGO_MS(1)), -EDEADLK);
    return 0;
}

Test(wait_for, bad_arguments)
{
    cr_assert_eq(run_clean(bad_args_main, NULL), 0);
    cr_assert_eq(ringo_wait_for(NULL, 0), -EPERM);
}
