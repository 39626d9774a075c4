/* Sleep: ordering, accuracy, concurrency, sleep(0). */
#include <criterion/criterion.h>
#include <errno.h>

#include "helpers.h"

struct wake_log { int order[8]; int n; };
struct sleeper { struct wake_log *log; int ms; };

static int sleep_then_log(void *arg)
{
    struct sleeper *s = arg;
    cr_assert_eq(ringo_sleep(RINGO_MS(s->ms)), 0);
    s->log->order[s->log->n++] = s->ms;
    return 0;
}

static int ordering_main(void *arg)
{
    struct wake_log *log = arg;
    struct sleeper s[4] = { { log, 40 }, { log, 10 }, { log, 30 }, { log, 20 } };
    ringo_task *t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ringo_spawn(&t[i], sleep_then_log, &s[i]), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(sleep, sleepers_wake_in_deadline_order)
{
    struct wake_log log = { .n = 0 };
    cr_assert_eq(run_clean(ordering_main, &log), 0);
    int want[] = { 10, 20, 30, 40 };
    cr_assert_arr_eq(log.order, want, sizeof want);
}

static int accuracy_main(void *arg)
{
    int64_t *late = arg;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = ringo_now();
        cr_assert_eq(ringo_sleep(RINGO_MS(20)), 0);
        int64_t took = ringo_now() - t0;
        cr_assert_geq(took, RINGO_MS(20), "woke %lld ns early", (long long)(RINGO_MS(20) - took));
        if (took - RINGO_MS(20) < *late)
            *late = took - RINGO_MS(20);
    }
    return 0;
}

Test(sleep, never_wakes_early_and_rarely_late)
{
    /* The best of five must be close: a shared machine may delay one. */
    int64_t late = INT64_MAX;
    cr_assert_eq(run_clean(accuracy_main, &late), 0);
    cr_assert_lt(late, RINGO_MS(5), "best wake-up was %lld us late", (long long)(late / 1000));
}

static int sleep_20ms(void *arg) { (void)arg; return ringo_sleep(RINGO_MS(20)); }

static int concurrent_main(void *arg)
{
    enum { N = 2000 };
    static ringo_task *t[N];
    int64_t t0 = ringo_now();
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_spawn(&t[i], sleep_20ms, NULL), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    *(int64_t *)arg = ringo_now() - t0;
    return 0;
}

Test(sleep, sleeps_run_concurrently)
{
    int64_t took = 0;
    cr_assert_eq(run_clean(concurrent_main, &took), 0);
    cr_assert_lt(took, RINGO_MS(1000), "2000 sleeps of 20 ms took %lld ms", (long long)(took / 1000000));
}

static int bump(void *arg) { (*(int *)arg)++; return 0; }

static int zero_main(void *arg)
{
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, bump, arg), 0);
    cr_assert_eq(ringo_sleep(0), 0);
    cr_assert_eq(*(int *)arg, 1, "sleep(0) must let the ready task run");
    cr_assert_eq(ringo_sleep(-5), 0);
    return ringo_await(t);
}

Test(sleep, sleep_zero_or_negative_yields)
{
    int n = 0;
    cr_assert_eq(run_clean(zero_main, &n), 0);
}

static int hello(void *arg)
{
    (void)arg;
    int64_t t0 = ringo_now();
    ringo_sleep(RINGO_MS(100));
    return ringo_now() - t0 >= RINGO_MS(100) ? 0 : -EIO;
}

Test(sleep, tutorial_hello_program_runs)
{
    cr_assert_eq(run_clean(hello, NULL), 0);
}

static int64_t wake_at;

static int sleep_until_shared_instant(void *arg)
{
    (void)arg;
    return ringo_sleep(wake_at - ringo_now());
}

static int overflow_main(void *arg)
{
    /* More timeouts expiring at once than the completion ring holds: the
     * kernel parks the excess and the loop must still see every one. */
    enum { N = 10000 };
    static ringo_task *t[N];
    wake_at = ringo_now() + RINGO_MS(200);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ringo_spawn(&t[i], sleep_until_shared_instant, NULL), 0);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += ringo_await(t[i]) == 0;
    *(int *)arg = ok;
    return 0;
}

Test(sleep, completion_ring_overflow_loses_nothing)
{
    int ok = 0;
    cr_assert_eq(run_clean(overflow_main, &ok), 0);
    cr_assert_eq(ok, 10000);
}
