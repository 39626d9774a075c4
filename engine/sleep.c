/* Time: the clock, and sleeping on a user-space timer. A sleep costs no SQE
 * and no CQE: the loop's one wait in the kernel is bounded by the earliest
 * timer, and expired timers fire in deadline order (timer.c), so sleepers
 * wake in the order of their deadlines however late the loop runs. */
#include <stdio.h>
#include <time.h>

#include "engine/internal.h"

int64_t ringo_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RINGO_SEC(1) + ts.tv_nsec;
}

typedef struct sleep_wait {
    ringo__timer tm;
    ringo__wait wait;
    ringo_task *task;
    ringo_loop *loop;
} sleep_wait;

static void sleep_fire(ringo__timer *tm)
{
    ringo__wake(((sleep_wait *)tm)->task);
}

static void sleep_describe(const ringo__wait *w, char *buf, size_t n)
{
    const sleep_wait *s = (const sleep_wait *)((const char *)w - offsetof(sleep_wait, wait));
    int64_t left = s->tm.at - ringo_now();
    snprintf(buf, n, "sleep %.1f ms left", (double)(left > 0 ? left : 0) / 1e6);
}

static void sleep_cancel(ringo__wait *w)
{
    sleep_wait *s = (sleep_wait *)((char *)w - offsetof(sleep_wait, wait));
    ringo__timer_del(s->loop, &s->tm);
    ringo__wake(s->task);
}

int ringo_sleep(int64_t ns)
{
    if (ns <= 0)
        return ringo_yield();
    ringo_loop *l;
    int ret = ringo__enter(&l);
    if (ret < 0)
        return ret;
    ringo_task *cur = l->current;
    int64_t at = ringo_now();
    at = ns > INT64_MAX - at ? INT64_MAX : at + ns;
    /* Past the deadline the sleep is cut short, as asyncio.timeout would:
     * the sleep's own timer is then the deadline's. */
    bool cut = cur->deadline < at;
    if (cut)
        at = cur->deadline;
    sleep_wait s = {
        .tm = { .at = at, .idx = RINGO_TIMER_IDLE, .fire = sleep_fire },
        .wait = { .cancel = sleep_cancel, .describe = sleep_describe },
        .task = cur,
        .loop = l,
    };
    if (ringo__timer_add(l, &s.tm) < 0)
        return -ENOMEM;
    ringo__suspend(l, &s.wait);
    /* Woken by something else than the timer or a cancel (the deadlock
     * breaker cannot be: a timer is armed): disarm in any case. */
    ringo__timer_del(l, &s.tm);
    if (cur->cancelled)
        return -ECANCELED;
    return cut ? -ETIMEDOUT : 0;
}
