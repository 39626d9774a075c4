/* tests/tsan/tsan_coro.c: many coroutines under ThreadSanitizer, which sees
 * each stack as a fiber. Tasks yield, sleep, spawn and await children, exit
 * and are reaped, or are cancelled asleep, all touching a plain shared
 * counter: a switch that TSan is not told about, or told without sync,
 * shows up as a wrong current fiber or a false race report on that counter. */
#include <sanitizer/tsan_interface.h>

#include "tsan_check.h"

#define NTASKS 1000
#define NCANCEL 100

static unsigned long shared;    /* plain on purpose: fibers of one thread */
static void *thread_fiber;      /* the thread's own, which no task runs on */
static unsigned wrong_fiber;

static int child(void *arg)
{
    int *v = arg;
    shared++;
    if (ringo_yield() < 0)
        return -ECANCELED;
    *v *= 3;
    return *v;
}

static int worker(void *arg)
{
    long i = (long)arg;
    void *me = __tsan_get_current_fiber();
    wrong_fiber += me == thread_fiber;
    for (int k = 0; k < 3; k++) {
        shared++;
        if (ringo_yield() < 0 || ringo_sleep(RINGO_US(i % 7 * 50)) < 0)
            return -ECANCELED;
        wrong_fiber += __tsan_get_current_fiber() != me;
    }
    int v = (int)i;
    ringo_task *c;
    int ret = ringo_spawn(&c, child, &v);
    if (ret < 0)
        return ret;
    ret = ringo_await(c);
    return ret == (int)i * 3 && v == (int)i * 3 ? 0 : -EPROTO;
}

static int sleeper(void *arg)
{
    (void)arg;
    shared++;
    return ringo_sleep(RINGO_SEC(10));
}

static int main_task(void *arg)
{
    (void)arg;
    static ringo_task *t[NTASKS], *s[NCANCEL];
    for (long i = 0; i < NCANCEL; i++)
        CHECK(ringo_spawn(&s[i], sleeper, NULL) == 0);
    for (long i = 0; i < NTASKS; i++)
        CHECK(ringo_spawn(&t[i], worker, (void *)i) == 0);
    int bad = 0;
    for (long i = 0; i < NTASKS; i++)
        bad += ringo_await(t[i]) != 0;
    CHECK(bad == 0);
    for (long i = 0; i < NCANCEL; i++)
        CHECK(ringo_cancel(s[i]) == 0);
    for (long i = 0; i < NCANCEL; i++)
        bad += ringo_await(s[i]) != -ECANCELED;
    CHECK(bad == 0);
    CHECK(shared == NCANCEL + NTASKS * 4);
    CHECK(wrong_fiber == 0);
    return 0;
}

int main(void)
{
    thread_fiber = __tsan_get_current_fiber();
    run_clean(main_task, NULL);
    CHECK(shared == NCANCEL + NTASKS * 4);
    return report("tsan_coro");
}
