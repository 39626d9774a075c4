/* deadline (asyncio.timeout): argument checks, a sleep cut at the deadline,
 * an op in flight cut by its linked timeout without touching the buffer, an
 * awaited child cancelled and waited for, nesting and restoring, stickiness
 * past the deadline, a deadline already past. Ported from CPython's
 * test_asyncio/test_timeouts.py. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static int args_main(void *arg)
{
    (void)arg;
    cr_assert_eq(ringo_deadline(-1), -EINVAL);
    cr_assert_eq(ringo_deadline(INT64_MAX), INT64_MAX, "no deadline by default");
    return 0;
}

Test(deadline, arguments)
{
    cr_assert_eq(ringo_deadline(INT64_MAX), -EPERM, "outside a task");
    cr_assert_eq(run_clean(args_main, NULL), 0);
}

static int sleep_main(void *arg)
{
    (void)arg;
    int64_t t0 = ringo_now();
    ringo_deadline(t0 + RINGO_MS(20));
    cr_assert_eq(ringo_sleep(RINGO_SEC(10)), -ETIMEDOUT);
    int64_t took = ringo_now() - t0;
    cr_assert_geq(took, RINGO_MS(20));
    cr_assert_lt(took, RINGO_SEC(1), "cut at the deadline, not at the sleep's end");
    ringo_deadline(INT64_MAX);
    cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    return 0;
}

Test(deadline, sleep_longer_than_the_deadline_ends_at_the_deadline)
{
    cr_assert_eq(run_clean(sleep_main, NULL), 0);
}

static int read_main(void *arg)
{
    int *fds = arg;
    char buf[32];
    memset(buf, 'Z', sizeof buf);
    int64_t t0 = ringo_now();
    ringo_deadline(t0 + RINGO_MS(20));
    cr_assert_eq(ringo_read(fds[0], buf, sizeof buf, -1), -ETIMEDOUT);
    cr_assert_lt(ringo_now() - t0, RINGO_SEC(1));
    for (size_t i = 0; i < sizeof buf; i++)
        cr_assert_eq(buf[i], 'Z', "the timed-out read wrote into the buffer at %zu", i);
    ringo_deadline(INT64_MAX);
    /* Nothing was consumed: what is written now is all there. */
    cr_assert_eq(write(fds[1], "abc", 3), 3);
    cr_assert_eq(ringo_read(fds[0], buf, sizeof buf, -1), 3);
    cr_assert_eq(memcmp(buf, "abc", 3), 0);
    return 0;
}

Test(deadline, read_on_an_empty_pipe_times_out_and_leaves_the_buffer)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(run_clean(read_main, fds), 0);
    close(fds[0]);
    close(fds[1]);
}

struct child { int seen; bool ended; };

static int slow_unwinding_child(void *arg)
{
    struct child *c = arg;
    c->seen = ringo_sleep(RINGO_SEC(10));
    int64_t end = ringo_now() + RINGO_MS(20);   /* cancelled: it cannot suspend */
    while (ringo_now() < end)
        ;
    c->ended = true;
    return c->seen;
}

static int await_main(void *arg)
{
    struct child *c = arg;
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, slow_unwinding_child, c), 0);
    ringo_deadline(ringo_now() + RINGO_MS(10));
    cr_assert_eq(ringo_await(t), -ETIMEDOUT);
    cr_assert(c->ended, "await returned before the cancelled child finished");
    ringo_deadline(INT64_MAX);
    return 0;
}

Test(deadline, awaiting_a_child_past_the_deadline_cancels_and_waits_for_it)
{
    struct child c = { 1, false };
    cr_assert_eq(run_clean(await_main, &c), 0);
    cr_assert_eq(c.seen, -ECANCELED);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static int nested_main(void *arg)
{
    (void)arg;
    int64_t t0 = ringo_now();
    int64_t outer = t0 + RINGO_MS(60);
    cr_assert_eq(ringo_deadline(outer), INT64_MAX);
    int64_t inner = min64(t0 + RINGO_MS(15), outer);
    cr_assert_eq(ringo_deadline(inner), outer, "the old deadline is returned");
    cr_assert_eq(ringo_sleep(RINGO_SEC(10)), -ETIMEDOUT);
    int64_t took = ringo_now() - t0;
    cr_assert_geq(took, RINGO_MS(15));
    cr_assert_lt(took, RINGO_MS(60), "the inner, shorter deadline fires first");
    cr_assert_eq(ringo_deadline(outer), inner);
    cr_assert_eq(ringo_yield(), 0, "restored: not past the outer deadline yet");
    cr_assert_eq(ringo_sleep(RINGO_SEC(10)), -ETIMEDOUT, "the outer deadline still applies");
    cr_assert_geq(ringo_now() - t0, RINGO_MS(60));
    cr_assert_eq(ringo_deadline(INT64_MAX), outer);
    return 0;
}

Test(deadline, nested_deadlines_restore)
{
    cr_assert_eq(run_clean(nested_main, NULL), 0);
}

static int sticky_main(void *arg)
{
    int *fds = arg;
    char buf[4];
    ringo_task *t;
    struct child c = { 1, false };
    cr_assert_eq(ringo_spawn(&t, slow_unwinding_child, &c), 0);
    ringo_deadline(ringo_now() + RINGO_MS(5));
    cr_assert_eq(ringo_sleep(RINGO_SEC(10)), -ETIMEDOUT);
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_yield(), -ETIMEDOUT);
    cr_assert_eq(ringo_sleep(RINGO_MS(50)), -ETIMEDOUT);
    cr_assert_eq(ringo_read(fds[0], buf, sizeof buf, -1), -ETIMEDOUT);
    cr_assert_eq(ringo_await(t), -ETIMEDOUT, "the child is cancelled and awaited");
    cr_assert_lt(ringo_now() - t0, RINGO_MS(45), "past the deadline, calls return at once");
    /* Extended: calls work again. */
    ringo_deadline(ringo_now() + RINGO_SEC(10));
    cr_assert_eq(ringo_sleep(RINGO_MS(1)), 0);
    ringo_deadline(INT64_MAX);
    return 0;
}

Test(deadline, past_the_deadline_every_suspending_call_times_out)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(run_clean(sticky_main, fds), 0);
    close(fds[0]);
    close(fds[1]);
}

static int past_main(void *arg)
{
    (void)arg;
    ringo_deadline(ringo_now() - RINGO_MS(1));
    cr_assert_eq(ringo_sleep(RINGO_MS(1)), -ETIMEDOUT);
    ringo_deadline(0);
    cr_assert_eq(ringo_nop(), -ETIMEDOUT);
    ringo_deadline(INT64_MAX);
    cr_assert_eq(ringo_nop(), 0);
    return 0;
}

Test(deadline, deadline_in_the_past_times_out_at_once)
{
    int64_t t0 = ringo_now();
    cr_assert_eq(run_clean(past_main, NULL), 0);
    cr_assert_lt(ringo_now() - t0, RINGO_MS(500));
}
