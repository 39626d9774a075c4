/* Timer order: every timer-driven wake-up (sleep, a deadline on a wait, an
 * op cut by its deadline, wait/wait_for timeouts) happens in deadline order,
 * ties in the order they were started, however late the loop runs. The
 * loop is made late by a task that computes without suspending. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

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
