/* Barrier: rounds and arrival indices, reuse, abort and reset while tasks
 * wait (and a barrier broken until reset), cancellation and deadlines
 * before the round fills (the waiter leaves it) and after (the round
 * stands), errors. Ported from CPython's test_asyncio/test_locks.py
 * (BarrierTests). */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

struct party { ringo_barrier *b; int ret; bool back; int64_t deadline; };

static int party(void *arg)
{
    struct party *p = arg;
    if (p->deadline)
        ringo_deadline(ringo_now() + p->deadline);
    p->ret = ringo_barrier_wait(p->b);
    p->back = true;
    return 0;
}

/* Spawn n parties and let each reach the barrier. */
static void arrive(ringo_barrier *b, struct party *p, ringo_task **t, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (struct party){ .b = b, .ret = 100 };
        cr_assert_eq(ringo_spawn(&t[i], party, &p[i]), 0);
        cr_assert_eq(ringo_yield(), 0);
    }
}

static int rounds_main(void *arg)
{
    ringo_barrier *b = arg;
    for (int round = 0; round < 3; round++) {
        struct party p[2];
        ringo_task *t[2];
        arrive(b, p, t, 2);
        cr_assert_not(p[0].back || p[1].back, "round %d: they wait for the third", round);
        cr_assert_eq(ringo_barrier_wait(b), 2, "the last arrival gets parties - 1 at once");
        for (int i = 0; i < 2; i++) {
            cr_assert_eq(ringo_await(t[i]), 0);
            cr_assert_eq(p[i].ret, i, "round %d: arrival index", round);
        }
    }
    return 0;
}

Test(barrier, rounds_release_all_parties_with_their_arrival_index)
{
    ringo_barrier *b;
    cr_assert_eq(ringo_barrier_new(&b, 3), 0);
    cr_assert_eq(run_clean(rounds_main, b), 0);
    ringo_barrier_free(b);
}

static int one_main(void *arg)
{
    ringo_barrier *b = arg;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_barrier_wait(b), 0);
    return 0;
}

Test(barrier, one_party_never_waits_and_bad_arguments)
{
    ringo_barrier *b;
    cr_assert_eq(ringo_barrier_new(NULL, 1), -EINVAL);
    cr_assert_eq(ringo_barrier_new(&b, 0), -EINVAL);
    cr_assert_eq(ringo_barrier_new(&b, (unsigned)INT_MAX + 1), -EINVAL);
    cr_assert_eq(ringo_barrier_wait(NULL), -EINVAL);
    ringo_barrier_abort(NULL);
    ringo_barrier_reset(NULL);
    ringo_barrier_free(NULL);
    cr_assert_eq(ringo_barrier_new(&b, 1), 0);
    cr_assert_eq(ringo_barrier_wait(b), -EPERM, "a wait needs a task");
    cr_assert_eq(run_clean(one_main, b), 0);
    ringo_barrier_free(b);
}

static int abort_main(void *arg)
{
    ringo_barrier *b = arg;
    struct party p[2];
    ringo_task *t[2];
    arrive(b, p, t, 2);
    ringo_barrier_abort(b);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ringo_await(t[i]), 0);
        cr_assert_eq(p[i].ret, -EPIPE, "a waiter of a broken barrier");
    }
    cr_assert_eq(ringo_barrier_wait(b), -EPIPE, "broken until reset");
    ringo_barrier_reset(b);
    arrive(b, p, t, 2);
    cr_assert_eq(ringo_barrier_wait(b), 2, "usable again after the reset");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ringo_await(t[i]), 0);
        cr_assert_eq(p[i].ret, i);
    }
    return 0;
}

Test(barrier, abort_breaks_it_for_the_waiters_and_later_waits_until_reset)
{
    ringo_barrier *b;
    cr_assert_eq(ringo_barrier_new(&b, 3), 0);
    cr_assert_eq(run_clean(abort_main, b), 0);
    ringo_barrier_free(b);
}

static int reset_main(void *arg)
{
    ringo_barrier *b = arg;
    struct party p[2], q[2];
    ringo_task *t[2], *u[2];
    arrive(b, p, t, 2);
    ringo_barrier_reset(b);
    /* The reset waiters have not run yet: a new round starts from zero. */
    arrive(b, q, u, 2);
    cr_assert_eq(ringo_barrier_wait(b), 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ringo_await(t[i]), 0);
        cr_assert_eq(p[i].ret, -EPIPE, "waiting at the reset");
        cr_assert_eq(ringo_await(u[i]), 0);
        cr_assert_eq(q[i].ret, i, "the round after the reset");
    }
    return 0;
}

Test(barrier, reset_breaks_the_current_round_only)
{
    ringo_barrier *b;
    cr_assert_eq(ringo_barrier_new(&b, 3), 0);
    cr_assert_eq(run_clean(reset_main, b), 0);
    ringo_barrier_free(b);
}

static int cancel_filling_main(void *arg)
{
    ringo_barrier *b = arg;
    struct party p[3];
    ringo_task *t[3];
    arrive(b, p, t, 2);
    cr_assert_eq(ringo_cancel(t[0]), 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(p[0].ret, -ECANCELED);
    /* It left the round: with us, two are there of three. */
    arrive(b, p + 2, t + 2, 1);
    cr_assert_not(p[1].back, "the cancelled waiter no longer counts");
    cr_assert_eq(ringo_barrier_wait(b), 2);
    cr_assert_eq(ringo_await(t[1]), 0);
    cr_assert_eq(ringo_await(t[2]), 0);
    cr_assert_eq(p[1].ret, 0, "indices are positions in the round: no repeats");
    cr_assert_eq(p[2].ret, 1);
    return 0;
}

Test(barrier, waiter_cancelled_before_the_round_fills_leaves_it)
{
    ringo_barrier *b;
    cr_assert_eq(ringo_barrier_new(&b, 3), 0);
    cr_assert_eq(run_clean(cancel_filling_main, b), 0);
    ringo_barrier_free(b);
}

static int cancel_draining_main(void *arg)
{
    ringo_barrier *b = arg;
    struct party p[2];
    ringo_task *t[2];
    arrive(b, p, t, 2);
    cr_assert_eq(ringo_barrier_wait(b), 2);   /* releases both; neither has run */
    cr_assert_eq(ringo_cancel(t[0]), 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(ringo_await(t[1]), 0);
    cr_assert_eq(p[0].ret, -ECANCELED, "cancelled after the release");
    cr_assert_eq(p[1].ret, 1, "the round stands for the others");
    /* And the barrier is not broken. */
    arrive(b, p, t, 2);
    cr_assert_eq(ringo_barrier_wait(b), 2);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(barrier, waiter_cancelled_after_the_release_leaves_the_round_standing)
{
    ringo_barrier *b;
    cr_assert_eq(ringo_barrier_new(&b, 3), 0);
    cr_assert_eq(run_clean(cancel_draining_main, b), 0);
    ringo_barrier_free(b);
}

static int deadline_main(void *arg)
{
    ringo_barrier *b = arg;
    struct party slow = { .b = b, .ret = 100, .deadline = RINGO_MS(20) };
    ringo_task *ts;
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_spawn(&ts, party, &slow), 0);
    cr_assert_eq(ringo_await(ts), 0);
    cr_assert_eq(slow.ret, -ETIMEDOUT);
    cr_assert_geq(ringo_now() - t0, RINGO_MS(15));
    struct party p[1];
    ringo_task *t[1];
    arrive(b, p, t, 1);
    cr_assert_not(p[0].back, "the timed-out waiter left no trace");
    cr_assert_eq(ringo_barrier_wait(b), 1);
    cr_assert_eq(ringo_await(t[0]), 0);
    cr_assert_eq(p[0].ret, 0);
    return 0;
}

Test(barrier, deadline_interrupts_the_wait_and_leaves_no_trace)
{
    ringo_barrier *b;
    cr_assert_eq(ringo_barrier_new(&b, 2), 0);
    cr_assert_eq(run_clean(deadline_main, b), 0);
    ringo_barrier_free(b);
}

static int refuse_main(void *arg)
{
    ringo_barrier *b = arg;
    struct party p[2];
    ringo_task *t[2];
    arrive(b, p, t, 2);
    stderr_capture_begin();
    ringo_barrier_free(b);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_barrier_free: 2 tasks still wait on this barrier"),
                       "stderr: %s", err);
    free(err);
    cr_assert_eq(ringo_barrier_wait(b), 2);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(barrier, free_with_waiters_is_refused_with_a_message)
{
    ringo_barrier *b;
    cr_assert_eq(ringo_barrier_new(&b, 3), 0);
    cr_assert_eq(run_clean(refuse_main, b), 0);
    ringo_barrier_free(b);
}
