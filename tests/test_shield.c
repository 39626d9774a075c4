/* shield: the result passes through; cancelling (or timing out) the caller
 * returns at once and leaves the shielded task running to its end, detached.
 * Ported from CPython's test_asyncio/test_tasks.py (test_shield*). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "helpers.h"

struct inner { int64_t sleep_ns; int ret; int seen; bool saved; };

/* The "save" the caller wants to happen even if it is cancelled. */
static int inner_fn(void *arg)
{
    struct inner *in = arg;
    in->seen = ringo_sleep(in->sleep_ns);
    if (in->seen < 0)
        return in->seen;
    in->saved = true;
    return in->ret;
}

static int result_main(void *arg)
{
    (void)arg;
    struct inner in = { RINGO_MS(5), -EIO, 1, false };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, inner_fn, &in), 0);
    cr_assert_eq(ringo_shield(t), -EIO);
    cr_assert(in.saved);
    cr_assert_eq(ringo_await(t), -EINVAL, "the reference was released");
    return 0;
}

Test(shield, passes_the_status_through)
{
    cr_assert_eq(run_clean(result_main, NULL), 0);
}

struct outer { struct inner in; int ret; int64_t took; bool saved_at_return, entered; };

static int outer_fn(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, inner_fn, &o->in), 0);
    o->entered = true;
    int64_t t0 = ringo_now();
    o->ret = ringo_shield(t);
    o->took = ringo_now() - t0;
    o->saved_at_return = o->in.saved;
    return o->ret;
}

/* Wait (by sleeping in small steps, not by hoping) for the detached task. */
static void wait_saved(const struct inner *in)
{
    for (int i = 0; i < 200 && !in->saved; i++)
        cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
}

static int outer_cancel_main(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, outer_fn, o), 0);
    while (!o->entered)
        cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert_not(o->in.saved, "the caller must not have waited for the shielded task");
    wait_saved(&o->in);
    return 0;
}

Test(shield, cancelled_caller_returns_at_once_and_the_task_completes)
{
    struct outer o = { .in = { RINGO_MS(50), 0, 1, false } };
    cr_assert_eq(run_clean(outer_cancel_main, &o), 0);
    cr_assert_eq(o.ret, -ECANCELED);
    cr_assert_lt(o.took, RINGO_MS(40));
    cr_assert_not(o.saved_at_return);
    cr_assert_eq(o.in.seen, 0, "the shielded task was cancelled");
    cr_assert(o.in.saved);
}

static int outer_deadline_main(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, inner_fn, &o->in), 0);
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(10));
    o->ret = ringo_shield(t);
    ringo_deadline(old);
    cr_assert_not(o->in.saved);
    wait_saved(&o->in);
    return 0;
}

Test(shield, caller_deadline_returns_etimedout_and_the_task_completes)
{
    struct outer o = { .in = { RINGO_MS(50), 0, 1, false } };
    cr_assert_eq(run_clean(outer_deadline_main, &o), 0);
    cr_assert_eq(o.ret, -ETIMEDOUT);
    cr_assert_eq(o.in.seen, 0);
    cr_assert(o.in.saved);
}

static int precancelled_fn(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, inner_fn, &o->in), 0);
    ringo_cancel(ringo_self());
    o->ret = ringo_shield(t);
    return 0;
}

static int precancelled_main(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, precancelled_fn, o), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    wait_saved(&o->in);
    return 0;
}

Test(shield, already_cancelled_caller_leaves_the_task_running)
{
    struct outer o = { .in = { RINGO_MS(10), 0, 1, false } };
    cr_assert_eq(run_clean(precancelled_main, &o), 0);
    cr_assert_eq(o.ret, -ECANCELED);
    cr_assert(o.in.saved);
}

static int bad_args_main(void *arg)
{
    (void)arg;
    cr_assert_eq(ringo_shield(NULL), -EINVAL);
    cr_assert_eq(ringo_shield(ringo_self()), -EDEADLK);
    return 0;
}

Test(shield, bad_arguments)
{
    cr_assert_eq(run_clean(bad_args_main, NULL), 0);
    cr_assert_eq(ringo_shield(NULL), -EPERM);
}
