/* Event: wait/set/clear, every waiter wakes, a wake-up survives a clear,
 * cancelled and timed-out waiters, errors. Ported from CPython's
 * test_asyncio/test_locks.py (EventTests). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

struct waiters {
    ringo_event *e;
    int order[16];
    int n;
};

struct waiter { struct waiters *w; int id; int ret; };

static int wait_and_log(void *arg)
{
    struct waiter *x = arg;
    x->ret = ringo_event_wait(x->w->e);
    if (x->ret == 0)
        x->w->order[x->w->n++] = x->id;
    return x->ret;
}

static void spawn_waiters(struct waiter *x, ringo_task **t, int n, struct waiters *w)
{
    for (int i = 0; i < n; i++) {
        x[i] = (struct waiter){ .w = w, .id = i, .ret = 1 };
        cr_assert_eq(ringo_spawn(&t[i], wait_and_log, &x[i]), 0);
    }
    cr_assert_eq(ringo_yield(), 0);
}

static int basics_main(void *arg)
{
    (void)arg;
    ringo_event *e;
    cr_assert_eq(ringo_event_new(&e), 0);
    cr_assert_not(ringo_event_is_set(e));
    ringo_event_set(e);
    cr_assert(ringo_event_is_set(e));
    cr_assert_eq(ringo_event_wait(e), 0, "a set event returns at once");
    ringo_event_set(e);
    cr_assert(ringo_event_is_set(e), "set twice is harmless");
    ringo_event_clear(e);
    cr_assert_not(ringo_event_is_set(e));
    cr_assert_eq(ringo_event_wait(NULL), -EINVAL);
    ringo_event_set(NULL);
    ringo_event_clear(NULL);
    cr_assert_not(ringo_event_is_set(NULL));
    ringo_event_free(e);
    ringo_event_free(NULL);
    return 0;
}

Test(event, set_clear_is_set_and_errors)
{
    cr_assert_eq(ringo_event_new(NULL), -EINVAL);
    ringo_event *e;
    cr_assert_eq(ringo_event_new(&e), 0);
    cr_assert_eq(ringo_event_wait(e), -EPERM, "waiting needs a task");
    ringo_event_free(e);
    cr_assert_eq(run_clean(basics_main, NULL), 0);
}

static int all_wake_main(void *arg)
{
    struct waiters *w = arg;
    struct waiter x[5];
    ringo_task *t[5];
    spawn_waiters(x, t, 5, w);
    cr_assert_eq(w->n, 0, "nobody passes an unset event");
    ringo_event_set(w->e);
    /* Cleared before any waiter ran: the wake-ups stand, as in asyncio. */
    ringo_event_clear(w->e);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    cr_assert_not(ringo_event_is_set(w->e));
    return 0;
}

Test(event, set_wakes_every_waiter_in_order_even_if_cleared_at_once)
{
    struct waiters w = { 0 };
    cr_assert_eq(ringo_event_new(&w.e), 0);
    cr_assert_eq(run_clean(all_wake_main, &w), 0);
    int want[] = { 0, 1, 2, 3, 4 };
    cr_assert_eq(w.n, 5);
    cr_assert_arr_eq(w.order, want, sizeof want);
    ringo_event_free(w.e);
}

static int cancel_main(void *arg)
{
    struct waiters *w = arg;
    struct waiter x[3];
    ringo_task *t[3];
    spawn_waiters(x, t, 3, w);
    cr_assert_eq(ringo_cancel(t[1]), 0);      /* while waiting */
    cr_assert_eq(ringo_await(t[1]), -ECANCELED);
    ringo_event_set(w->e);
    cr_assert_eq(ringo_cancel(t[2]), 0);      /* woken, not yet run */
    cr_assert_eq(ringo_await(t[0]), 0);
    cr_assert_eq(ringo_await(t[2]), -ECANCELED);
    cr_assert_eq(x[1].ret, -ECANCELED);
    cr_assert_eq(x[2].ret, -ECANCELED);
    /* Nobody waits any more: free must go through quietly. */
    stderr_capture_begin();
    ringo_event_free(w->e);
    char *err = stderr_capture_end();
    cr_assert_str_empty(err);
    free(err);
    w->e = NULL;
    return 0;
}

Test(event, cancelled_waiters_return_ecanceled_and_leave_no_trace)
{
    struct waiters w = { 0 };
    cr_assert_eq(ringo_event_new(&w.e), 0);
    cr_assert_eq(run_clean(cancel_main, &w), 0);
    cr_assert_eq(w.n, 1);
    cr_assert_eq(w.order[0], 0);
}

static int deadline_waiter(void *arg)
{
    struct waiter *x = arg;
    int64_t t0 = ringo_now();
    ringo_deadline(t0 + RINGO_MS(20));
    x->ret = ringo_event_wait(x->w->e);
    cr_assert_geq(ringo_now() - t0, RINGO_MS(20));
    ringo_deadline(INT64_MAX);
    /* Without a deadline the same task waits normally again. */
    int again = ringo_event_wait(x->w->e);
    if (again == 0)
        x->w->order[x->w->n++] = x->id;
    return again;
}

static int deadline_main(void *arg)
{
    struct waiters *w = arg;
    struct waiter x = { .w = w, .id = 9, .ret = 1 };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, deadline_waiter, &x), 0);
    while (x.ret == 1)
        cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    cr_assert_eq(x.ret, -ETIMEDOUT);
    cr_assert_eq(ringo_yield(), 0);   /* let it queue again */
    ringo_event_set(w->e);
    cr_assert_eq(ringo_await(t), 0);
    return 0;
}

Test(event, deadline_interrupts_the_wait)
{
    struct waiters w = { 0 };
    cr_assert_eq(ringo_event_new(&w.e), 0);
    cr_assert_eq(run_clean(deadline_main, &w), 0);
    cr_assert_eq(w.n, 1);
    ringo_event_free(w.e);
}

static int refuse_main(void *arg)
{
    struct waiters *w = arg;
    struct waiter x[1];
    ringo_task *t[1];
    spawn_waiters(x, t, 1, w);
    stderr_capture_begin();
    ringo_event_free(w->e);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_event_free: 1 task still waits on this event; not freed"),
                       "stderr: %s", err);
    free(err);
    ringo_event_set(w->e);
    cr_assert_eq(ringo_await(t[0]), 0);
    return 0;
}

Test(event, free_with_waiters_is_refused_with_a_message)
{
    struct waiters w = { 0 };
    cr_assert_eq(ringo_event_new(&w.e), 0);
    cr_assert_eq(run_clean(refuse_main, &w), 0);
    ringo_event_free(w.e);
}
