/* Tasks: spawn, await, detach, names, scheduling order, bad handles. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static int ret_arg(void *arg) { return (int)(intptr_t)arg; }

static int spawn_await_main(void *arg)
{
    (void)arg;
    ringo_task *a, *b;
    cr_assert_eq(ringo_spawn(&a, ret_arg, (void *)(intptr_t)7), 0);
    cr_assert_eq(ringo_spawn(&b, ret_arg, (void *)(intptr_t)-EIO), 0);
    cr_assert_not(ringo_task_done(a), "a task must not run before its spawner suspends");
    cr_assert_eq(ringo_await(a), 7);
    cr_assert_eq(ringo_await(b), -EIO);
    return 3;
}

Test(task, await_returns_status_and_run_returns_mains)
{
    cr_assert_eq(run_clean(spawn_await_main, NULL), 3);
}

struct order { int log[16]; int n; };

struct order_arg { struct order *o; int id; };

static int append_yielding(void *arg)
{
    struct order_arg *a = arg;
    for (int i = 0; i < 3; i++) {
        a->o->log[a->o->n++] = a->id;
        cr_assert_eq(ringo_yield(), 0);
    }
    return 0;
}

static int order_main(void *arg)
{
    struct order *o = arg;
    struct order_arg args[2] = { { o, 1 }, { o, 2 } };
    ringo_task *t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_spawn(&t[i], append_yielding, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(task, yield_interleaves_ready_tasks_in_fifo_order)
{
    struct order o = { .n = 0 };
    cr_assert_eq(run_clean(order_main, &o), 0);
    int want[] = { 1, 2, 1, 2, 1, 2 };
    cr_assert_eq(o.n, 6);
    cr_assert_arr_eq(o.log, want, sizeof want);
}

static int record(void *arg)
{
    struct order *o = arg;
    o->log[o->n++] = (int)strtol(ringo_task_name(ringo_self()), NULL, 10);
    return 0;
}

static int fifo_main(void *arg)
{
    ringo_task *t[5];
    char name[8];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "%d", i);
        cr_assert_eq(ringo_spawn_named(&t[i], name, record, arg), 0);
    }
    for (int i = 4; i >= 0; i--)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(task, spawned_tasks_start_in_spawn_order)
{
    struct order o = { .n = 0 };
    cr_assert_eq(run_clean(fifo_main, &o), 0);
    int want[] = { 0, 1, 2, 3, 4 };
    cr_assert_arr_eq(o.log, want, sizeof want);
}

static int names_main(void *arg)
{
    (void)arg;
    cr_assert_str_eq(ringo_task_name(ringo_self()), "main");
    ringo_task *a, *b;
    cr_assert_eq(ringo_spawn(&a, ret_arg, NULL), 0);
    cr_assert_eq(strncmp(ringo_task_name(a), "Task-", 5), 0, "default name is %s",
                 ringo_task_name(a));
    char longname[100];
    memset(longname, 'x', sizeof longname - 1);
    longname[99] = 0;
    cr_assert_eq(ringo_spawn_named(&b, longname, ret_arg, NULL), 0);
    cr_assert_str_eq(ringo_task_name(b), longname);
    cr_assert_eq(ringo_await(a), 0);
    cr_assert_eq(ringo_await(b), 0);
    return 0;
}

Test(task, names_default_and_custom)
{
    cr_assert_eq(run_clean(names_main, NULL), 0);
}

static int set_flag(void *arg)
{
    ringo_sleep(RINGO_MS(1));
    *(int *)arg = 1;
    return 0;
}

static int detach_main(void *arg)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, set_flag, arg), 0);
    ringo_detach(t);
    while (!*(int *)arg)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    return 0;
}

Test(task, detached_task_runs_to_completion)
{
    int flag = 0;
    cr_assert_eq(run_clean(detach_main, &flag), 0);
    cr_assert_eq(flag, 1);
}

static int bad_handles_main(void *arg)
{
    (void)arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(NULL, ret_arg, NULL), -EINVAL);
    cr_assert_eq(ringo_spawn(&t, NULL, NULL), -EINVAL);
    cr_assert_eq(ringo_await(NULL), -EINVAL);
    cr_assert_eq(ringo_cancel(NULL), -EINVAL);
    cr_assert_not(ringo_task_done(NULL));
    cr_assert_null(ringo_task_name(NULL));
    ringo_detach(NULL);
    cr_assert_eq(ringo_await(ringo_self()), -EDEADLK);

    cr_assert_eq(ringo_spawn(&t, ret_arg, (void *)(intptr_t)5), 0);
    cr_assert_eq(ringo_await(t), 5);
    cr_assert_eq(ringo_await(t), -EINVAL, "awaiting a task twice");
    ringo_detach(t);   /* released already: ignored */

    cr_assert_eq(ringo_spawn(&t, ret_arg, NULL), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert(ringo_task_done(t));
    cr_assert_eq(ringo_cancel(t), -EALREADY, "cancelling a finished task");
    cr_assert_eq(ringo_await(t), 0);
    return 0;
}

Test(task, bad_handles_return_errors)
{
    cr_assert_eq(run_clean(bad_handles_main, NULL), 0);
}

struct detached { ringo_task *self; int slept, self_cancel; bool done; };

static int detached_sleeper(void *arg)
{
    struct detached *d = arg;
    d->slept = ringo_sleep(RINGO_MS(5));
    cr_assert_str_eq(ringo_task_name(ringo_self()), "sleeper", "a task may always name itself");
    d->self_cancel = ringo_cancel(ringo_self());
    d->done = true;
    return 0;
}

static int released_main(void *arg)
{
    struct detached *d = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn_named(&t, "sleeper", detached_sleeper, d), 0);
    ringo_detach(t);
    /* Every handle-taking call sees a released handle as it sees NULL. */
    cr_assert_eq(ringo_cancel(t), -EINVAL, "cancel on a detached handle");
    cr_assert_eq(ringo_await(t), -EINVAL);
    cr_assert_eq(ringo_wait_for(t, 0), -EINVAL);
    cr_assert_eq(ringo_shield(t), -EINVAL);
    cr_assert_eq(ringo_wait(&t, 1, RINGO_ALL_COMPLETED, 0), -EINVAL);
    int st = 1;
    cr_assert_eq(ringo_gather(&t, 1, &st), -EINVAL);
    cr_assert_eq(st, -EINVAL);
    cr_assert_not(ringo_task_done(t));
    cr_assert_null(ringo_task_name(t));
    while (!d->done)
        cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);

    cr_assert_eq(ringo_spawn(&t, ret_arg, NULL), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(ringo_cancel(t), -EINVAL, "cancel on an awaited handle");
    cr_assert_not(ringo_task_done(t));
    cr_assert_null(ringo_task_name(t));
    return 0;
}

Test(task, released_handle_is_refused_by_every_call)
{
    struct detached d = { 0 };
    cr_assert_eq(run_clean(released_main, &d), 0);
    cr_assert_eq(d.slept, 0, "the detached task was cancelled through a released handle");
    cr_assert_eq(d.self_cancel, 0, "a detached task may cancel itself");
}

static int waiter(void *arg)
{
    return ringo_await(arg);
}

static int double_awaiter_main(void *arg)
{
    (void)arg;
    ringo_task *slow, *w;
    int flag = 0;
    cr_assert_eq(ringo_spawn(&slow, set_flag, &flag), 0);
    cr_assert_eq(ringo_spawn(&w, waiter, slow), 0);
    cr_assert_eq(ringo_yield(), 0);          /* w is now awaiting slow */
    cr_assert_eq(ringo_await(slow), -EINVAL, "a second awaiter of one handle");
    cr_assert_eq(ringo_await(w), 0);
    return 0;
}

Test(task, second_concurrent_await_is_refused)
{
    cr_assert_eq(run_clean(double_awaiter_main, NULL), 0);
}

static int count_up(void *arg) { (*(int *)arg)++; return 0; }

static int many_main(void *arg)
{
    enum { N = 10000 };
    static ringo_task *t[N];
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_spawn(&t[i], count_up, arg), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(task, ten_thousand_tasks_spawned_and_awaited)
{
    int n = 0;
    cr_assert_eq(run_clean(many_main, &n), 0);
    cr_assert_eq(n, 10000);
}

Test(task, calls_outside_a_loop_return_eperm)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, ret_arg, NULL), -EPERM);
    cr_assert_eq(ringo_sleep(RINGO_MS(1)), -EPERM);
    cr_assert_eq(ringo_yield(), -EPERM);
    cr_assert_eq(ringo_nop(), -EPERM);
    cr_assert_null(ringo_self());
}

struct crowd { ringo_event *go; int started, finished; };

static int wait_for_go(void *arg)
{
    struct crowd *c = arg;
    c->started++;
    int ret = ringo_event_wait(c->go);
    c->finished++;
    return ret;
}

static int hundred_thousand_main(void *arg)
{
    enum { N = 100000 };
    struct crowd *c = arg;
    ringo_task **t = malloc(N * sizeof *t);
    cr_assert_not_null(t);
    cr_assert_eq(ringo_event_new(&c->go), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_spawn(&t[i], wait_for_go, c), 0, "spawn %d", i);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(c->started, N, "all %d tasks are alive and waiting at once", N);
    cr_assert_eq(c->finished, 0);
    ringo_event_set(c->go);
    int failed = 0;
    for (int i = 0; i < N; i++)
        failed += ringo_await(t[i]) != 0;
    cr_assert_eq(failed, 0);
    ringo_event_free(c->go);
    free(t);
    return 0;
}

Test(task, hundred_thousand_live_tasks, .timeout = 120)
{
    struct crowd c = { NULL, 0, 0 };
    cr_assert_eq(run_clean(hundred_thousand_main, &c), 0);
    cr_assert_eq(c.finished, 100000);
}
