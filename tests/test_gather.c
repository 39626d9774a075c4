/* gather: statuses and the first failure in index order, zero tasks,
 * cancellation and deadline of the caller (every child cancelled and awaited),
 * bad handles, references released. Ported from CPython's
 * test_asyncio/test_tasks.py (gather tests, return_exceptions=True). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "helpers.h"

struct job { int64_t sleep_ns; int ret; int seen; bool ended; };

/* Sleep, then return ret; records what the sleep returned. When cancelled,
 * takes a while to unwind (spinning: a cancelled task cannot suspend), so a
 * gather that did not really await it would return before `ended` is set. */
static int job_fn(void *arg)
{
    struct job *j = arg;
    j->seen = ringo_sleep(j->sleep_ns);
    if (j->seen == -ECANCELED) {
        int64_t end = ringo_now() + RINGO_MS(20);
        while (ringo_now() < end)
            ;
    }
    j->ended = true;
    return j->seen < 0 ? j->seen : j->ret;
}

static void spawn_jobs(ringo_task **t, struct job *j, int n)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(ringo_spawn(&t[i], job_fn, &j[i]), 0);
}

static int mixed_main(void *arg)
{
    (void)arg;
    /* -ENOENT finishes first in time, -EIO comes first in index order. */
    struct job j[4] = {
        { RINGO_MS(5), 0, 1, false }, { RINGO_MS(30), -EIO, 1, false },
        { RINGO_MS(1), 0, 1, false }, { RINGO_MS(2), -ENOENT, 1, false },
    };
    ringo_task *t[4];
    spawn_jobs(t, j, 4);
    int st[4] = { 1, 1, 1, 1 };
    cr_assert_eq(ringo_gather(t, 4, st), -EIO);
    cr_assert_eq(st[0], 0);
    cr_assert_eq(st[1], -EIO);
    cr_assert_eq(st[2], 0);
    cr_assert_eq(st[3], -ENOENT);
    for (int i = 0; i < 4; i++)
        cr_assert(j[i].ended);
    /* Every reference was released: the handles are stale now. */
    cr_assert_eq(ringo_await(t[0]), -EINVAL);
    return 0;
}

Test(gather, statuses_and_first_failure_in_index_order)
{
    cr_assert_eq(run_clean(mixed_main, NULL), 0);
}

static int all_ok_main(void *arg)
{
    (void)arg;
    enum { N = 200 };   /* well past any small-n fast path */
    static struct job j[N];
    static ringo_task *t[N];
    for (int i = 0; i < N; i++)
        j[i] = (struct job){ RINGO_US(i % 7), 0, 1, false };
    spawn_jobs(t, j, N);
    cr_assert_eq(ringo_gather(t, N, NULL), 0, "statuses is optional");
    for (int i = 0; i < N; i++)
        cr_assert(j[i].ended);
    return 0;
}

Test(gather, many_tasks_all_succeed)
{
    cr_assert_eq(run_clean(all_ok_main, NULL), 0);
}

static int empty_main(void *arg)
{
    (void)arg;
    ringo_task *none[1];
    cr_assert_eq(ringo_gather(NULL, 0, NULL), 0);
    cr_assert_eq(ringo_gather(none, 0, NULL), 0);
    cr_assert_eq(ringo_gather(NULL, 3, NULL), -EINVAL);
    return 0;
}

Test(gather, zero_tasks_and_bad_arguments)
{
    cr_assert_eq(run_clean(empty_main, NULL), 0);
    ringo_task *none[1];
    cr_assert_eq(ringo_gather(none, 0, NULL), -EPERM, "outside a loop");
}

struct gatherer { struct job j[3]; int st[3]; int ret; bool entered; };

static int gatherer_fn(void *arg)
{
    struct gatherer *g = arg;
    ringo_task *t[3];
    spawn_jobs(t, g->j, 3);
    g->entered = true;
    g->ret = ringo_gather(t, 3, g->st);
    for (int i = 0; i < 3; i++)
        cr_assert(g->j[i].ended, "gather returned before child %d had finished", i);
    return g->ret;
}

static int cancel_main(void *arg)
{
    struct gatherer *g = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, gatherer_fn, g), 0);
    /* Child 0 finishes before the cancel, the others sleep long. */
    while (!g->j[0].ended)
        cr_assert_eq(ringo_yield(), 0);
    cr_assert(g->entered);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    return 0;
}

Test(gather, cancelling_the_caller_cancels_and_awaits_every_child)
{
    struct gatherer g = { .j = { { 0, 0, 1, false }, { RINGO_SEC(10), 0, 1, false },
                                 { RINGO_SEC(10), 0, 1, false } } };
    int64_t t0 = ringo_now();
    cr_assert_eq(run_clean(cancel_main, &g), 0);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(2));
    cr_assert_eq(g.ret, -ECANCELED);
    cr_assert_eq(g.j[0].seen, 0);
    cr_assert_eq(g.st[0], 0, "a child done before the cancel keeps its status");
    for (int i = 1; i < 3; i++) {
        cr_assert_eq(g.j[i].seen, -ECANCELED, "child %d was not cancelled", i);
        cr_assert_eq(g.st[i], -ECANCELED);
    }
}

static int deadline_main(void *arg)
{
    struct gatherer *g = arg;
    ringo_task *t[3];
    spawn_jobs(t, g->j, 3);
    ringo_deadline(ringo_now() + RINGO_MS(20));
    g->ret = ringo_gather(t, 3, g->st);
    for (int i = 0; i < 3; i++)
        cr_assert(g->j[i].ended);
    ringo_deadline(INT64_MAX);
    return 0;
}

Test(gather, caller_deadline_cancels_and_awaits_every_child)
{
    struct gatherer g = { .j = { { RINGO_MS(1), -EIO, 1, false }, { RINGO_SEC(10), 0, 1, false },
                                 { RINGO_SEC(10), 0, 1, false } } };
    int64_t t0 = ringo_now();
    cr_assert_eq(run_clean(deadline_main, &g), 0);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(2));
    cr_assert_eq(g.ret, -ETIMEDOUT);
    cr_assert_eq(g.st[0], -EIO);
    cr_assert_eq(g.st[1], -ECANCELED);
    cr_assert_eq(g.st[2], -ECANCELED);
}

static int precancelled_main(void *arg)
{
    struct gatherer *g = arg;
    ringo_task *t[3];
    spawn_jobs(t, g->j, 3);
    ringo_cancel(ringo_self());
    g->ret = ringo_gather(t, 3, g->st);
    return 0;
}

Test(gather, already_cancelled_caller_still_cancels_and_awaits)
{
    struct gatherer g = { .j = { { RINGO_SEC(10), 0, 1, false }, { RINGO_SEC(10), 0, 1, false },
                                 { RINGO_SEC(10), 0, 1, false } } };
    cr_assert_eq(run_clean(precancelled_main, &g), -ECANCELED);
    cr_assert_eq(g.ret, -ECANCELED);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(g.st[i], -ECANCELED);
        cr_assert_not(g.j[i].ended, "a task cancelled before its first step never runs");
    }
}

static int bad_handle_main(void *arg)
{
    (void)arg;
    struct job j[2] = { { RINGO_MS(5), 0, 1, false }, { RINGO_MS(1), -EIO, 1, false } };
    ringo_task *a, *b;
    cr_assert_eq(ringo_spawn(&a, job_fn, &j[0]), 0);
    cr_assert_eq(ringo_spawn(&b, job_fn, &j[1]), 0);
    ringo_task *t[4] = { a, NULL, b, a };   /* NULL, and a listed twice */
    int st[4];
    cr_assert_eq(ringo_gather(t, 4, st), -EINVAL);
    cr_assert_eq(st[0], 0);
    cr_assert_eq(st[1], -EINVAL);
    cr_assert_eq(st[2], -EIO);
    cr_assert_eq(st[3], -EINVAL);
    cr_assert(j[0].ended && j[1].ended, "the valid tasks are still awaited");
    return 0;
}

Test(gather, bad_handles_give_einval_and_the_valid_ones_are_still_awaited)
{
    cr_assert_eq(run_clean(bad_handle_main, NULL), 0);
}
