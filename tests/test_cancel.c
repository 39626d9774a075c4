/* Cancellation: delivery at the suspension point, stickiness, ops in flight,
 * statuses, propagation through await. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

struct probe { int ret, ret2, ret3; int64_t took; };

static int long_sleeper(void *arg)
{
    struct probe *p = arg;
    int64_t t0 = ringo_now();
    p->ret = ringo_sleep(RINGO_SEC(10));
    p->took = ringo_now() - t0;
    p->ret2 = ringo_sleep(RINGO_SEC(10));   /* sticky: at once */
    p->ret3 = ringo_yield();
    return 0;
}

static int cancel_sleep_main(void *arg)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, long_sleeper, arg), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(10)), 0);
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_cancel(t), 0, "a second cancel request is harmless");
    cr_assert_eq(ringo_await(t), -ECANCELED, "a cancelled task that returns 0 has status -ECANCELED");
    return 0;
}

Test(cancel, sleeping_task_wakes_with_ecanceled_and_stays_cancelled)
{
    struct probe p = { 1, 1, 1, 0 };
    int64_t t0 = ringo_now();
    cr_assert_eq(run_clean(cancel_sleep_main, &p), 0);
    cr_assert_eq(p.ret, -ECANCELED);
    cr_assert_eq(p.ret2, -ECANCELED);
    cr_assert_eq(p.ret3, -ECANCELED);
    cr_assert_lt(p.took, RINGO_SEC(2));
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(2));
}

struct reader { int fd; char buf[64]; ssize_t ret; };

static int blocked_reader(void *arg)
{
    struct reader *r = arg;
    char local[64];
    memset(local, 'Z', sizeof local);
    r->ret = ringo_read(r->fd, local, sizeof local, -1);
    memcpy(r->buf, local, sizeof local);
    return 0;
}

static int cancel_read_main(void *arg)
{
    int *fds = arg;
    struct reader r = { .fd = fds[0] };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, blocked_reader, &r), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(10)), 0);
    cr_assert_not(ringo_task_done(t));
    cr_assert_eq(ringo_cancel(t), 0);
    cr_assert_eq(ringo_await(t), -ECANCELED);
    cr_assert_eq(r.ret, -ECANCELED);
    for (size_t i = 0; i < sizeof r.buf; i++)
        cr_assert_eq(r.buf[i], 'Z', "the cancelled read wrote into the buffer at %zu", i);
    /* The cancelled read consumed nothing: bytes written now are all there. */
    cr_assert_eq(write(fds[1], "hello", 5), 5);
    char got[8] = { 0 };
    cr_assert_eq(ringo_read(fds[0], got, sizeof got, -1), 5);
    cr_assert_str_eq(got, "hello");
    return 0;
}

Test(cancel, read_blocked_on_a_pipe_is_cancelled_without_touching_the_buffer)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(run_clean(cancel_read_main, fds), 0);
    close(fds[0]);
    close(fds[1]);
}

static int returns_eio_when_cancelled(void *arg)
{
    (void)arg;
    return ringo_sleep(RINGO_SEC(10)) == -ECANCELED ? -EIO : 0;
}

static int never_runs(void *arg)
{
    *(int *)arg = 1;
    return 0;
}

static int statuses_main(void *arg)
{
    ringo_task *a, *b;
    cr_assert_eq(ringo_spawn(&a, returns_eio_when_cancelled, NULL), 0);
    cr_assert_eq(ringo_spawn(&b, never_runs, arg), 0);
    cr_assert_eq(ringo_cancel(b), 0);      /* before its first step */
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(ringo_cancel(a), 0);
    cr_assert_eq(ringo_await(a), -EIO, "a task's own error beats -ECANCELED");
    cr_assert_eq(ringo_await(b), -ECANCELED);
    return 0;
}

Test(cancel, statuses_and_cancel_before_first_step)
{
    int ran = 0;
    cr_assert_eq(run_clean(statuses_main, &ran), 0);
    cr_assert_eq(ran, 0, "a task cancelled before it started must not run");
}

static int self_cancel_main(void *arg)
{
    (void)arg;
    cr_assert_eq(ringo_cancel(ringo_self()), 0);
    int a = ringo_yield();
    int b = ringo_sleep(RINGO_MS(1));
    ringo_task *t;
    static int ran;
    /* Spawning is not a suspension: it still works while unwinding. */
    cr_assert_eq(ringo_spawn(&t, never_runs, &ran), 0);
    ringo_detach(t);
    return (a == -ECANCELED && b == -ECANCELED) ? 0 : -EIO;
}

Test(cancel, self_cancel_is_delivered_at_the_next_suspension)
{
    cr_assert_eq(run_clean(self_cancel_main, NULL), -ECANCELED);
}

struct chain { ringo_task *child; int child_sleep; };

static int child_sleeps(void *arg)
{
    struct chain *c = arg;
    c->child_sleep = ringo_sleep(RINGO_SEC(10));
    return c->child_sleep;
}

static int parent_awaits(void *arg)
{
    struct chain *c = arg;
    cr_assert_eq(ringo_spawn(&c->child, child_sleeps, c), 0);
    return ringo_await(c->child);
}

static int propagate_main(void *arg)
{
    ringo_task *p;
    cr_assert_eq(ringo_spawn(&p, parent_awaits, arg), 0);
    cr_assert_eq(ringo_sleep(RINGO_MS(5)), 0);
    cr_assert_eq(ringo_cancel(p), 0);
    cr_assert_eq(ringo_await(p), -ECANCELED);
    return 0;
}

Test(cancel, cancelling_an_awaiter_cancels_the_awaited_task_and_waits_for_it)
{
    struct chain c = { NULL, 1 };
    cr_assert_eq(run_clean(propagate_main, &c), 0);
    cr_assert_eq(c.child_sleep, -ECANCELED, "the awaited child must have been cancelled and finished");
}

static int cancel_many_main(void *arg)
{
    (void)arg;
    enum { N = 1000 };
    static ringo_task *t[N];
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_spawn(&t[i], returns_eio_when_cancelled, NULL), 0);
    cr_assert_eq(ringo_yield(), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_cancel(t[i]), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_await(t[i]), -EIO);
    return 0;
}

Test(cancel, a_thousand_ops_in_flight_cancelled_together)
{
    cr_assert_eq(run_clean(cancel_many_main, NULL), 0);
}
