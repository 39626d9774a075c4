/* ringo_run: statuses, configuration, leftovers at the end, debug mode. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static int ret_arg(void *arg) { return (int)(intptr_t)arg; }

Test(run, returns_mains_status)
{
    cr_assert_eq(run_clean(ret_arg, (void *)0), 0);
    cr_assert_eq(run_clean(ret_arg, (void *)(intptr_t)-ENOENT), -ENOENT);
}

static int nested(void *arg)
{
    (void)arg;
    return ringo_run(ret_arg, NULL);
}

Test(run, bad_arguments)
{
    cr_assert_eq(ringo_run(NULL, NULL), -EINVAL);
    ringo_config bad = { .flags = 0x80000000u };
    cr_assert_eq(ringo_run_config(&bad, ret_arg, NULL), -EINVAL);
    ringo_config huge = { .entries = 1u << 20 };
    cr_assert_eq(ringo_run_config(&huge, ret_arg, NULL), -EINVAL);
    cr_assert_eq(run_clean(nested, NULL), -EBUSY, "ringo_run inside a running loop");
}

static int deep(int n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    return n == 0 ? pad[0] : deep(n - 1) + (pad[0] != (char)n);
}

static int deep_task(void *arg)
{
    (void)arg;
    ringo_sleep(1);
    return deep(200);   /* ~200 KiB of frames */
}

Test(run, config_sets_stack_size_and_ring_size)
{
    ringo_config cfg = { .entries = 8, .stack_size = 1024 * 1024 };
    cr_assert_eq(run_clean_config(&cfg, deep_task, NULL), 0);
    cr_assert_eq(run_clean_config(NULL, ret_arg, NULL), 0);
}

struct leftover { int cleaned; };

static int sleeps_forever(void *arg)
{
    struct leftover *l = arg;
    if (ringo_sleep(RINGO_SEC(3600)) == -ECANCELED)
        l->cleaned++;
    return 0;
}

static int leaves_tasks(void *arg)
{
    for (int i = 0; i < 3; i++) {
        ringo_task *t;
        cr_assert_eq(ringo_spawn(&t, sleeps_forever, arg), 0);
        if (i)
            ringo_detach(t);  /* one handle is simply dropped: still cancelled */
    }
    return ringo_yield();
}

Test(run, leftover_tasks_are_cancelled_and_awaited)
{
    struct leftover l = { 0 };
    int64_t t0 = ringo_now();
    cr_assert_eq(run_clean(leaves_tasks, &l), 0);
    cr_assert_eq(l.cleaned, 3);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(2));
}

static int busy(void *arg)
{
    (void)arg;
    int64_t end = ringo_now() + RINGO_MS(150);
    while (ringo_now() < end)
        ;
    return 0;
}

static int fails(void *arg) { (void)arg; return -EIO; }

static int debug_main(void *arg)
{
    (void)arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn_named(&t, "spinner", busy, NULL), 0);
    cr_assert_eq(ringo_await(t), 0);
    cr_assert_eq(ringo_spawn_named(&t, "failer", fails, NULL), 0);
    ringo_detach(t);
    static struct leftover lingering;
    cr_assert_eq(ringo_spawn_named(&t, "lingerer", sleeps_forever, &lingering), 0);
    ringo_detach(t);
    return ringo_sleep(RINGO_MS(1));
}

Test(run, debug_mode_warns_about_slow_unretrieved_and_leftover_tasks)
{
    ringo_config cfg = { .flags = RINGO_CFG_DEBUG };
    stderr_capture_begin();
    int ret = run_clean_config(&cfg, debug_main, NULL);
    char *err = stderr_capture_end();
    cr_assert_eq(ret, 0);
    cr_assert_not_null(strstr(err, "task 'spinner' ran"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "task 'failer' failed"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "task 'lingerer'"), "stderr: %s", err);
    free(err);
}

static int quiet_main(void *arg)
{
    (void)arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, fails, NULL), 0);
    return ringo_await(t) == -EIO ? 0 : -1;
}

Test(run, debug_mode_is_quiet_for_a_clean_program)
{
    setenv("RINGO_DEBUG", "1", 1);
    stderr_capture_begin();
    int ret = run_clean(quiet_main, NULL);
    char *err = stderr_capture_end();
    unsetenv("RINGO_DEBUG");
    cr_assert_eq(ret, 0);
    /* Where io_uring is refused, debug mode says once that epoll runs. */
    const char *rest = err;
    if (strncmp(rest, "ringo: backend epoll: ", 22) == 0 && strchr(rest, '\n'))
        rest = strchr(rest, '\n') + 1;
    cr_assert_str_empty(rest, "unexpected warnings: %s", err);
    free(err);
}

static int await_arg(void *arg)
{
    return ringo_await(*(ringo_task **)arg);
}

static ringo_task *cycle_a, *cycle_b;

static int deadlock_main(void *arg)
{
    (void)arg;
    /* a awaits b and b awaits a: neither can finish, and cancelling them
     * (at loop close) does not interrupt an await. */
    cr_assert_eq(ringo_spawn(&cycle_a, await_arg, &cycle_b), 0);
    cr_assert_eq(ringo_spawn(&cycle_b, await_arg, &cycle_a), 0);
    cr_assert_eq(ringo_await(ringo_self()), -EDEADLK);
    return ringo_yield();
}

Test(run, an_await_cycle_is_broken_not_a_hang)
{
    stderr_capture_begin();
    int ret = run_clean(deadlock_main, NULL);
    char *err = stderr_capture_end();
    cr_assert_eq(ret, 0);
    cr_assert_not_null(strstr(err, "deadlock"), "stderr: %s", err);
    free(err);
}

static int ring_work(void *arg)
{
    (void)arg;
    cr_assert_eq(ringo_nop(), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(2)), 0);
    return 0;
}

Test(run, sqpoll_config_runs_or_falls_back)
{
    ringo_config cfg = { .flags = RINGO_CFG_SQPOLL };
    cr_assert_eq(run_clean_config(&cfg, ring_work, NULL), 0);
}
