/* group (TaskGroup): all succeed, the first failure cancels the siblings and
 * is returned, spawning from inside while waiting, a failing group refuses
 * spawns, cancelled members are not failures, the waiter cancelled, bad
 * arguments. Ported from CPython's test_asyncio/test_taskgroups.py. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "helpers.h"

struct member { int64_t sleep_ns; int ret; int seen; bool ended; };

static int member_fn(void *arg)
{
    struct member *m = arg;
    m->seen = ringo_sleep(m->sleep_ns);
    if (m->seen == -ECANCELED) {   /* unwind slowly: the group must wait */
        int64_t end = ringo_now() + RINGO_MS(10);
        while (ringo_now() < end)
            ;
    }
    m->ended = true;
    return m->seen < 0 ? m->seen : m->ret;
}

static int all_ok_main(void *arg)
{
    struct member *m = arg;
    ringo_group *g;
    cr_assert_eq(ringo_group_new(&g), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(ringo_group_spawn(g, member_fn, &m[i]), 0);
    cr_assert_eq(ringo_group_wait(g), 0);
    for (int i = 0; i < 5; i++)
        cr_assert(m[i].ended);
    return 0;
}

Test(group, all_succeed)
{
    struct member m[5];
    for (int i = 0; i < 5; i++)
        m[i] = (struct member){ RINGO_MS(i), 0, 1, false };
    cr_assert_eq(run_clean(all_ok_main, m), 0);
}

static int failure_main(void *arg)
{
    struct member *m = arg;
    ringo_group *g;
    cr_assert_eq(ringo_group_new(&g), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ringo_group_spawn(g, member_fn, &m[i]), 0);
    cr_assert_eq(ringo_group_wait(g), -EIO, "the first failure is returned");
    for (int i = 0; i < 4; i++)
        cr_assert(m[i].ended, "member %d not awaited", i);
    return 0;
}

Test(group, first_failure_cancels_the_siblings_and_is_returned)
{
    struct member m[4] = {
        { RINGO_SEC(10), 0, 1, false }, { RINGO_MS(5), -EIO, 1, false },
        { RINGO_MS(100), -ENOENT, 1, false }, { 0, 0, 1, false },
    };
    int64_t t0 = ringo_now();
    cr_assert_eq(run_clean(failure_main, m), 0);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(2));
    cr_assert_eq(m[0].seen, -ECANCELED);
    cr_assert_eq(m[2].seen, -ECANCELED, "a later failure must have been cancelled first");
    cr_assert_eq(m[3].seen, 0, "a member done before the failure is untouched");
}

struct nest { ringo_group *g; int depth; int *count; };

/* Spawns the next level into the same group after the waiter has started. */
static int nester_fn(void *arg)
{
    struct nest *n = arg;
    cr_assert_eq(ringo_sleep(RINGO_MS(2)), 0);
    (*n->count)++;
    if (n->depth > 0) {
        n[1] = (struct nest){ n->g, n->depth - 1, n->count };
        /* Two children sharing n[1]: they write identical values below. */
        for (int i = 0; i < 2; i++)
            cr_assert_eq(ringo_group_spawn(n->g, nester_fn, &n[1]), 0);
    }
    return 0;
}

static int inside_main(void *arg)
{
    int *count = arg;
    struct nest n[5];
    cr_assert_eq(ringo_group_new(&n[0].g), 0);
    n[0].depth = 3;
    n[0].count = count;
    cr_assert_eq(ringo_group_spawn(n[0].g, nester_fn, &n[0]), 0);
    cr_assert_eq(ringo_group_wait(n[0].g), 0);
    return 0;
}

Test(group, members_spawn_into_the_group_while_it_is_awaited)
{
    int count = 0;
    cr_assert_eq(run_clean(inside_main, &count), 0);
    /* depth 3: 1 + 2 + 4 + 8 tasks, all awaited before group_wait returned. */
    cr_assert_eq(count, 15);
}

struct failing { ringo_group *g; bool failed; bool late_ran; int late_ret; };

static int fail_now(void *arg)
{
    ((struct failing *)arg)->failed = true;
    return -EPIPE;
}

static int late_fn(void *arg)
{
    ((struct failing *)arg)->late_ran = true;
    return 0;
}

static int failing_main(void *arg)
{
    struct failing *f = arg;
    struct member sib = { RINGO_SEC(10), 0, 1, false };
    cr_assert_eq(ringo_group_new(&f->g), 0);
    cr_assert_eq(ringo_group_spawn(f->g, member_fn, &sib), 0);
    cr_assert_eq(ringo_group_spawn(f->g, fail_now, f), 0);
    /* fail_now returns without suspending once it has run. */
    while (!f->failed)
        cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_yield(), 0);
    f->late_ret = ringo_group_spawn(f->g, late_fn, f);
    cr_assert_eq(ringo_group_wait(f->g), -EPIPE);
    cr_assert_eq(sib.seen, -ECANCELED, "siblings are cancelled even before group_wait");
    return 0;
}

Test(group, failing_group_refuses_spawns)
{
    struct failing f = { 0 };
    cr_assert_eq(run_clean(failing_main, &f), 0);
    cr_assert_eq(f.late_ret, -ECANCELED);
    cr_assert_not(f.late_ran);
}

static int self_cancel_fn(void *arg)
{
    (void)arg;
    ringo_cancel(ringo_self());
    return ringo_sleep(RINGO_MS(1));
}

static int cancelled_member_main(void *arg)
{
    struct member *m = arg;
    ringo_group *g;
    cr_assert_eq(ringo_group_new(&g), 0);
    cr_assert_eq(ringo_group_spawn(g, self_cancel_fn, NULL), 0);
    cr_assert_eq(ringo_group_spawn(g, member_fn, m), 0);
    cr_assert_eq(ringo_group_wait(g), 0, "a cancelled member is not a failure");
    return 0;
}

Test(group, cancelled_member_is_not_a_failure)
{
    struct member m = { RINGO_MS(10), 0, 1, false };
    cr_assert_eq(run_clean(cancelled_member_main, &m), 0);
    cr_assert_eq(m.seen, 0, "the sibling must not have been cancelled");
}

struct waiter { struct member m[3]; int ret; bool all_ended_at_return, entered; };

static int waiter_fn(void *arg)
{
    struct waiter *w = arg;
    ringo_group *g;
    cr_assert_eq(ringo_group_new(&g), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_group_spawn(g, member_fn, &w->m[i]), 0);
    w->entered = true;
    w->ret = ringo_group_wait(g);
    w->all_ended_at_return = w->m[0].ended && w->m[1].ended && w->m[2].ended;
    return w->ret;
}

static int waiter_cancel_main(void *arg)
{
    struct waiter *w = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, waiter_fn, w), 0);
    while (!w->entered)
        cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_yield(), 0);   /* let the members start */
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    return 0;
}

Test(group, cancelled_waiter_cancels_and_awaits_every_member)
{
    struct waiter w = { .m = { { RINGO_SEC(10), 0, 1, false }, { RINGO_SEC(10), 0, 1, false },
                               { RINGO_SEC(10), 0, 1, false } } };
    cr_assert_eq(run_clean(waiter_cancel_main, &w), 0);
    cr_assert_eq(w.ret, -ECANCELED);
    cr_assert(w.all_ended_at_return);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(w.m[i].seen, -ECANCELED);
}

static int deadline_main(void *arg)
{
    struct member *m = arg;
    ringo_group *g;
    cr_assert_eq(ringo_group_new(&g), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_group_spawn(g, member_fn, &m[i]), 0);
    int64_t old = ringo_deadline(ringo_now() + RINGO_MS(10));
    cr_assert_eq(ringo_group_wait(g), -ETIMEDOUT);
    cr_assert(m[0].ended && m[1].ended);
    ringo_deadline(old);
    return 0;
}

Test(group, waiter_deadline_cancels_and_awaits_every_member)
{
    struct member m[2] = { { RINGO_MS(1), 0, 1, false }, { RINGO_SEC(10), 0, 1, false } };
    cr_assert_eq(run_clean(deadline_main, m), 0);
    cr_assert_eq(m[0].seen, 0);
    cr_assert_eq(m[1].seen, -ECANCELED);
}

static int bad_args_main(void *arg)
{
    (void)arg;
    ringo_group *g;
    cr_assert_eq(ringo_group_new(NULL), -EINVAL);
    cr_assert_eq(ringo_group_spawn(NULL, member_fn, NULL), -EINVAL);
    cr_assert_eq(ringo_group_wait(NULL), -EINVAL);
    cr_assert_eq(ringo_group_new(&g), 0);
    cr_assert_eq(ringo_group_spawn(g, NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_group_wait(g), 0, "an empty group");
    return 0;
}

Test(group, bad_arguments_and_empty_group)
{
    cr_assert_eq(run_clean(bad_args_main, NULL), 0);
    ringo_group *g;
    cr_assert_eq(ringo_group_new(&g), 0, "constructors work outside a loop");
    cr_assert_eq(ringo_group_spawn(g, member_fn, NULL), -EPERM);
    cr_assert_eq(ringo_group_wait(g), -EPERM, "outside a loop; g is freed all the same");
}
