/* Timer order: every timer-driven wake-up (sleep, a deadline on a wait, an
 * op cut by its deadline, wait/wait_for timeouts) happens in deadline order,
 * ties in the order they were started, however late the loop runs. The
 * loop is made late by a task that computes without suspending. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/internal.h"
#include "helpers.h"

#define MAXLOG 16

struct log { int order[MAXLOG]; int n; };

static void busy_for(int64_t ns)
{
    int64_t until = ringo_now() + ns;
    while (ringo_now() < until)
        ;
}

static int busy_fn(void *arg)
{
    busy_for(*(int64_t *)arg);
    return 0;
}

struct sleeper { struct log *log; int ms; };

static int sleep_then_log(void *arg)
{
    struct sleeper *s = arg;
    cr_assert_eq(ringo_sleep(RINGO_MS(s->ms)), 0);
    s->log->order[s->log->n++] = s->ms;
    return 0;
}

static int late_sleeps_main(void *arg)
{
    struct log *log = arg;
    struct sleeper s[3] = { { log, 30 }, { log, 20 }, { log, 10 } };
    ringo_task *t[4];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_spawn(&t[i], sleep_then_log, &s[i]), 0);
    int64_t busy = RINGO_MS(50);
    cr_assert_eq(ringo_spawn(&t[3], busy_fn, &busy), 0);
    return ringo_gather(t, 4, NULL);
}

Test(timer, sleeps_expired_together_wake_in_deadline_order)
{
    struct log log = { .n = 0 };
    cr_assert_eq(run_clean(late_sleeps_main, &log), 0);
    int want[] = { 10, 20, 30 };
    cr_assert_eq(log.n, 3);
    cr_assert_arr_eq(log.order, want, sizeof want);
}

/* Equal deadlines: the order the waits started in. */
struct tie { struct log *log; int id; int64_t at; ringo_event *e; };

static int tie_fn(void *arg)
{
    struct tie *k = arg;
    ringo_deadline(k->at);
    cr_assert_eq(ringo_event_wait(k->e), -ETIMEDOUT);
    k->log->order[k->log->n++] = k->id;
    return 0;
}

static int ties_main(void *arg)
{
    struct log *log = arg;
    ringo_event *e;
    cr_assert_eq(ringo_event_new(&e), 0);
    int64_t at = ringo_now() + RINGO_MS(10);
    struct tie k[6];
    ringo_task *t[7];
    for (int i = 0; i < 6; i++) {
        k[i] = (struct tie){ log, i, at, e };
        cr_assert_eq(ringo_spawn(&t[i], tie_fn, &k[i]), 0);
    }
    int64_t busy = RINGO_MS(30);
    cr_assert_eq(ringo_spawn(&t[6], busy_fn, &busy), 0);
    int ret = ringo_gather(t, 7, NULL);
    ringo_event_free(e);
    return ret;
}

Test(timer, equal_deadlines_fire_in_the_order_they_were_armed)
{
    struct log log = { .n = 0 };
    cr_assert_eq(run_clean(ties_main, &log), 0);
    int want[] = { 0, 1, 2, 3, 4, 5 };
    cr_assert_eq(log.n, 6);
    cr_assert_arr_eq(log.order, want, sizeof want);
}

/* Every kind at once: a sleep, a deadline on an event wait, reads cut by
 * their linked timeouts, a wait() timeout and a wait_for() timeout, started
 * in an order unlike their deadlines'. What is logged is the wake-up the
 * timer causes: wait() returning, or wait_for()'s child being cancelled
 * (wait_for itself returns once that child has unwound, a pass later). */
enum kind { SLEEP, EVENT, READ, WAIT, WAIT_FOR };
struct mixed {
    struct log *log;
    enum kind kind;
    int ms;        /* deadline, from the common start */
    int64_t t0;
    ringo_event *e;
    int fds[2];
};

/* What wait_for's expiry wakes first: its child, cancelled. */
static int forever_logged(void *arg)
{
    struct mixed *m = arg;
    int ret = ringo_event_wait(m->e);
    m->log->order[m->log->n++] = m->ms;
    return ret;
}

static int forever(void *arg)
{
    return ringo_event_wait(arg);
}

static int mixed_fn(void *arg)
{
    struct mixed *m = arg;
    int64_t at = m->t0 + RINGO_MS(m->ms);
    char c;
    ringo_task *t;
    int ret = 0;
    switch (m->kind) {
    case SLEEP:
        ret = ringo_sleep(at - ringo_now());
        break;
    case EVENT:
        ringo_deadline(at);
        ret = ringo_event_wait(m->e) == -ETIMEDOUT ? 0 : -1;
        break;
    case READ:
        ringo_deadline(at);
        ret = ringo_read(m->fds[0], &c, 1, -1) == -ETIMEDOUT ? 0 : -1;
        break;
    case WAIT:
        cr_assert_eq(ringo_spawn(&t, forever, m->e), 0);
        ret = ringo_wait(&t, 1, RINGO_ALL_COMPLETED, at - ringo_now());
        m->log->order[m->log->n++] = m->ms;
        ringo_cancel(t);
        (void)ringo_await(t);
        return ret;
    case WAIT_FOR:
        cr_assert_eq(ringo_spawn(&t, forever_logged, m), 0);
        return ringo_wait_for(t, at - ringo_now()) == -ETIMEDOUT ? 0 : -1;
    }
    m->log->order[m->log->n++] = m->ms;
    return ret;
}

static int mixed_main(void *arg)
{
    struct log *log = arg;
    ringo_event *e;
    cr_assert_eq(ringo_event_new(&e), 0);
    static const struct { enum kind kind; int ms; } plan[] = {
        { READ, 35 }, { SLEEP, 30 }, { WAIT_FOR, 25 }, { EVENT, 20 }, { READ, 15 },
        { WAIT, 12 }, { SLEEP, 10 }, { READ, 5 },
    };
    enum { N = sizeof plan / sizeof plan[0] };
    struct mixed m[N];
    ringo_task *t[N + 1];
    int64_t t0 = ringo_now();
    for (int i = 0; i < N; i++) {
        m[i] = (struct mixed){ log, plan[i].kind, plan[i].ms, t0, e, { -1, -1 } };
        cr_assert_eq(pipe(m[i].fds), 0);
        cr_assert_eq(ringo_spawn(&t[i], mixed_fn, &m[i]), 0);
    }
    int64_t busy = RINGO_MS(60);
    cr_assert_eq(ringo_spawn(&t[N], busy_fn, &busy), 0);
    int st[N + 1];
    int ret = ringo_gather(t, N + 1, st);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(st[i], 0, "task %d (kind %d) ended with %d", i, m[i].kind, st[i]);
        close(m[i].fds[0]);
        close(m[i].fds[1]);
    }
    ringo_event_free(e);
    return ret;
}

Test(timer, every_kind_of_timed_wake_up_keeps_deadline_order)
{
    struct log log = { .n = 0 };
    cr_assert_eq(run_clean(mixed_main, &log), 0);
    int want[] = { 5, 10, 12, 15, 20, 25, 30, 35 };
    cr_assert_eq(log.n, 8);
    cr_assert_arr_eq(log.order, want, sizeof want);
}

/* At scale, under load: 100 000 tasks each waiting until its own moment, at
 * random in a 200 ms window that opens 1 s after they are spawned. The
 * moment is the task's deadline, absolute, so the order it logs is exactly
 * the engine's (a relative sleep starts counting a little after the task
 * read the clock, by however long a busy machine preempted the thread in
 * between). */
#define MANY 100000

struct many { int64_t *woke; size_t n; int64_t spread; int64_t base; };
struct many_task { struct many *m; int64_t delay, at; };

static int many_fn(void *arg)
{
    struct many_task *k = arg;
    k->at = k->m->base + k->delay;
    if (ringo_now() >= k->at)
        return 0;   /* the starting pass outran this deadline: not counted */
    ringo_deadline(k->at);
    if (ringo_sleep(RINGO_SEC(60)) != -ETIMEDOUT)
        return -EIO;
    k->m->woke[k->m->n++] = k->at;
    return 0;
}

static int many_main(void *arg)
{
    struct many *m = arg;
    struct many_task *k = calloc(MANY, sizeof *k);
    ringo_task **t = calloc(MANY, sizeof *t);
    cr_assert(k && t);
    srand(42);
    for (size_t i = 0; i < MANY; i++) {
        k[i] = (struct many_task){ m, (1 + (int64_t)(rand() % 200000)) * 1000, 0 };
        cr_assert_eq(ringo_spawn(&t[i], many_fn, &k[i]), 0);
    }
    /* Read by the tasks once main waits: later than the pass that starts
     * them all can take, even sanitized. */
    m->base = ringo_now() + RINGO_SEC(1);
    int ret = ringo_gather(t, MANY, NULL);
    free(k);
    free(t);
    return ret;
}

Test(timer, hundred_thousand_random_sleeps_wake_in_order, .timeout = 120)
{
    struct many m = { .woke = calloc(MANY, sizeof(int64_t)) };
    cr_assert_eq(run_clean(many_main, &m), 0);
    cr_assert_geq(m.n, MANY * 9 / 10, "only %zu of the tasks started before their deadline", m.n);
    size_t out_of_order = 0;
    int64_t worst = 0;
    for (size_t i = 1; i < m.n; i++) {
        int64_t back = m.woke[i - 1] - m.woke[i];
        if (back > 0)
            out_of_order++;
        if (back > worst)
            worst = back;
    }
    free(m.woke);
    cr_assert_eq(out_of_order, 0, "%zu wake-ups out of deadline order, worst by %lld ns",
                 out_of_order, (long long)worst);
}

/* ---- the structure itself, on a loop record that never runs ----------- */

/* Against a model (a flag per timer): timers armed from a moment ago to 6 s
 * ahead (across the far buckets' 4.3 s window and past it), some disarmed,
 * the clock stepped unevenly. Every step must fire exactly the armed timers
 * now due, in (deadline, arming) order, and ringo__timer_next must name the
 * earliest armed deadline. */
#define MODEL_N 20000

struct mtimer { ringo__timer tm; int armed; int64_t at; uint64_t seq; };
static struct mtimer *fired_log[MODEL_N];
static size_t nfired;

static void model_fire(ringo__timer *tm)
{
    struct mtimer *m = (struct mtimer *)tm;
    cr_assert(m->armed, "a disarmed timer fired");
    m->armed = 0;
    fired_log[nfired++] = m;
}

static uint64_t mrng = 0x243f6a8885a308d3u;
static uint64_t mrand(uint64_t mod)
{
    mrng ^= mrng << 13, mrng ^= mrng >> 7, mrng ^= mrng << 17;
    return mrng % mod;
}

static void arm(ringo_loop *l, struct mtimer *m, int64_t at)
{
    m->tm = (ringo__timer){ .at = at, .idx = RINGO_TIMER_IDLE, .fire = model_fire };
    cr_assert_eq(ringo__timer_add(l, &m->tm), 0);
    m->at = at;
    m->seq = m->tm.seq;
    m->armed = 1;
}

static void check_step(ringo_loop *l, struct mtimer *ts)
{
    /* A step fires at most 1024 (their tasks then run while cache-warm);
     * the loop steps again at once while timers are due. */
    nfired = 0;
    size_t was;
    do {
        was = nfired;
        ringo__timers_run(l);
        cr_assert_leq(nfired - was, 1024, "one step fired %zu", nfired - was);
    } while (nfired - was == 1024);
    for (size_t i = 0; i < nfired; i++) {
        cr_assert_leq(fired_log[i]->at, l->now, "fired early");
        if (i)
            cr_assert(fired_log[i - 1]->at < fired_log[i]->at ||
                      (fired_log[i - 1]->at == fired_log[i]->at &&
                       fired_log[i - 1]->seq < fired_log[i]->seq), "fired out of order");
    }
    int64_t first = INT64_MAX;
    for (size_t i = 0; i < MODEL_N; i++) {
        if (!ts[i].armed)
            continue;
        cr_assert_gt(ts[i].at, l->now, "timer %zu due and not fired", i);
        if (ts[i].at < first)
            first = ts[i].at;
    }
    cr_assert_eq(ringo__timer_next(l), first);
}

Test(timer, heap_and_far_buckets_fire_what_is_due_in_order)
{
    ringo_loop *l = calloc(1, sizeof *l);
    struct mtimer *ts = calloc(MODEL_N, sizeof *ts);
    cr_assert(l && ts);
    l->now = RINGO_SEC(1000);
    for (int round = 0; round < 400; round++) {
        for (int k = 0; k < 200; k++) {
            struct mtimer *m = &ts[mrand(MODEL_N)];
            if (m->armed) {
                ringo__timer_del(l, &m->tm);
                m->armed = 0;
                cr_assert_eq(m->tm.idx, RINGO_TIMER_IDLE);
            } else {
                /* Some share a deadline: ties must keep arming order. */
                int64_t ahead = mrand(4) ? (int64_t)mrand(RINGO_SEC(6)) : (int64_t)mrand(8) * RINGO_MS(3);
                arm(l, m, l->now - RINGO_MS(1) + ahead);
            }
        }
        l->now += mrand(4) ? (int64_t)mrand(RINGO_MS(5)) : (int64_t)mrand(RINGO_MS(200));
        check_step(l, ts);
    }
    l->now += RINGO_SEC(10);
    check_step(l, ts);
    cr_expect(!ringo__timers_armed(l));
    ringo__timers_free(l);
    free(ts);
    free(l);
}

/* A loop that idles with only far timers must still wake for the first:
 * the next deadline is exact, not a bucket's start. */
Test(timer, next_deadline_is_exact_with_only_far_timers)
{
    ringo_loop *l = calloc(1, sizeof *l);
    struct mtimer a, b;
    cr_assert(l);
    l->now = RINGO_SEC(50);
    arm(l, &a, l->now + RINGO_MS(700) + 123);
    arm(l, &b, l->now + RINGO_MS(300) + 45);
    cr_expect_eq(ringo__timer_next(l), l->now + RINGO_MS(300) + 45);
    ringo__timer_del(l, &b.tm);
    cr_expect_eq(ringo__timer_next(l), l->now + RINGO_MS(700) + 123);
    ringo__timer_del(l, &a.tm);
    cr_expect_eq(ringo__timer_next(l), INT64_MAX);
    cr_expect(!ringo__timers_armed(l));
    ringo__timers_free(l);
    free(l);
}
