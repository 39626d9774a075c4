/* shield: the result passes through; cancelling (or timing out) the caller
 * returns at once and leaves the shielded task running to its end, detached;
 * a caller already unwinding waits for the shielded task.
 * Ported from CPython's test_asyncio/test_tasks.py (test_shield*). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

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

/* The pattern the contract prescribes: a task cancelled in the middle of
 * its work unwinds, and does its cleanup I/O in a shielded child. */
struct unwinding {
    int fds[2];
    int first, shield_ret, after, cleanup_wrote;
    bool cleanup_done_at_return;
};

static int cleanup_fn(void *arg)
{
    struct unwinding *u = arg;
    cr_assert_eq(ringo_sleep(RINGO_MS(20)), 0, "the shielded child is not cancelled");
    u->cleanup_wrote = (int)ringo_write(u->fds[1], "bye", 3, -1);
    return 7;
}

static int unwinding_fn(void *arg)
{
    struct unwinding *u = arg;
    char c;
    u->first = (int)ringo_read(u->fds[0], &c, 1, -1);   /* cancelled here */
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, cleanup_fn, u), 0);
    u->shield_ret = ringo_shield(t);
    u->cleanup_done_at_return = u->cleanup_wrote == 3;
    u->after = ringo_sleep(RINGO_MS(1));
    return u->first;
}

static int unwinding_main(void *arg)
{
    struct unwinding *u = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, unwinding_fn, u), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    char buf[4] = { 0 };
    cr_assert_eq(ringo_read(u->fds[0], buf, 3, -1), 3);
    cr_assert_str_eq(buf, "bye");
    return 0;
}

Test(shield, already_cancelled_caller_waits_for_its_cleanup)
{
    struct unwinding u = { .first = 1 };
    cr_assert_eq(pipe(u.fds), 0);
    cr_assert_eq(run_clean(unwinding_main, &u), 0);
    close(u.fds[0]);
    close(u.fds[1]);
    cr_assert_eq(u.first, -ECANCELED);
    cr_assert_eq(u.shield_ret, 7, "the cleanup's status comes back");
    cr_assert(u.cleanup_done_at_return, "shield returned before the cleanup was done");
    cr_assert_eq(u.after, -ECANCELED, "the task stays cancelled after the shield");
}

static int precancelled_fn(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, inner_fn, &o->in), 0);
    ringo_cancel(ringo_self());
    int64_t t0 = ringo_now();
    o->ret = ringo_shield(t);
    o->took = ringo_now() - t0;
    o->saved_at_return = o->in.saved;
    return 0;
}

static int precancelled_main(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, precancelled_fn, o), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    return 0;
}

Test(shield, cancelled_before_the_call_gets_the_status)
{
    struct outer o = { .in = { RINGO_MS(10), -EIO, 1, false } };
    cr_assert_eq(run_clean(precancelled_main, &o), 0);
    cr_assert_eq(o.ret, -EIO);
    cr_assert(o.saved_at_return);
    cr_assert_geq(o.took, RINGO_MS(9));
}

static int past_deadline_main(void *arg)
{
    struct outer *o = arg;
    ringo_task *t;
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(1));
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), -ETIMEDOUT);
    cr_assert_eq(ringo_spawn(&t, inner_fn, &o->in), 0);
    o->ret = ringo_shield(t);
    o->saved_at_return = o->in.saved;
    ringo_deadline(old);
    return 0;
}

Test(shield, caller_past_its_deadline_waits_too)
{
    struct outer o = { .in = { RINGO_MS(10), 3, 1, false } };
    cr_assert_eq(run_clean(past_deadline_main, &o), 0);
    cr_assert_eq(o.ret, 3);
    cr_assert(o.saved_at_return);
}

/* An unwinding caller cannot be interrupted again (cancellation is sticky),
 * so a cycle of waits would hang: the deadlock breaker still ends it. */
static int self_waiting_fn(void *arg)
{
    void *item;
    return ringo_queue_get(arg, &item);   /* nobody puts: only this loop could */
}

static int unwinding_deadlock_main(void *arg)
{
    (void)arg;
    ringo_queue *q;
    cr_assert_eq(ringo_queue_new(&q, 1), 0);
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, self_waiting_fn, q), 0);
    ringo_cancel(ringo_self());
    int ret = ringo_shield(t);
    ringo_queue_free(q);
    return ret;
}

Test(shield, unwinding_caller_on_a_task_that_never_ends_is_not_hung)
{
    stderr_capture_begin();
    int ret = run_clean(unwinding_deadlock_main, NULL);
    free(stderr_capture_end());
    cr_assert(ret == -ECANCELED || ret == -EDEADLK, "got %d", ret);
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
