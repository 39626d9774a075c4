/* Semaphore: counting, FIFO fairness with direct handoff, cancelled waiters
 * (waiting, or cancelled after being handed a permit) never eat a permit,
 * deadline, overflow, errors. Ported from CPython's test_asyncio/
 * test_locks.py (SemaphoreTests). */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

struct pool {
    ringo_sem *s;
    int order[16];
    int n;
};

struct taker { struct pool *p; int id; int ret; };

/* Take a permit and keep it (the test releases on its behalf). */
static int take(void *arg)
{
    struct taker *k = arg;
    k->ret = ringo_sem_acquire(k->p->s);
    if (k->ret == 0)
        k->p->order[k->p->n++] = k->id;
    return k->ret;
}

static void spawn_takers(struct taker *k, ringo_task **t, int n, struct pool *p)
{
    for (int i = 0; i < n; i++) {
        k[i] = (struct taker){ .p = p, .id = i, .ret = 1 };
        cr_assert_eq(ringo_spawn(&t[i], take, &k[i]), 0);
    }
    cr_assert_eq(ringo_yield(), 0);
}

static int counting_main(void *arg)
{
    struct pool *p = arg;
    struct taker k[6];
    ringo_task *t[6];
    spawn_takers(k, t, 5, p);   /* value 2: two get through, three wait */
    cr_assert_eq(p->n, 2);
    cr_assert_not(ringo_task_done(t[2]));
    cr_assert_eq(ringo_sem_release(p->s), 0);
    cr_assert_eq(ringo_sem_release(p->s), 0);
    /* No barging: those two permits went to takers 2 and 3 (not run yet), so
     * a newcomer queues behind taker 4. */
    k[5] = (struct taker){ .p = p, .id = 5, .ret = 1 };
    cr_assert_eq(ringo_spawn(&t[5], take, &k[5]), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_eq(k[5].ret, 1, "the newcomer took a permit promised to a waiter");
    cr_assert_eq(ringo_sem_release(p->s), 0);
    cr_assert_eq(ringo_sem_release(p->s), 0);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    /* Releases with nobody waiting count up again. */
    cr_assert_eq(ringo_sem_release(p->s), 0);
    cr_assert_eq(ringo_sem_release(p->s), 0);
    cr_assert_eq(ringo_sem_acquire(p->s), 0);
    cr_assert_eq(ringo_sem_acquire(p->s), 0);
    return 0;
}

Test(sem, counts_permits_and_serves_waiters_in_fifo_order)
{
    struct pool p = { 0 };
    cr_assert_eq(ringo_sem_new(&p.s, 2), 0);
    cr_assert_eq(run_clean(counting_main, &p), 0);
    int want[] = { 0, 1, 2, 3, 4, 5 };
    cr_assert_eq(p.n, 6);
    cr_assert_arr_eq(p.order, want, sizeof want);
    ringo_sem_free(p.s);
}

static int errors_main(void *arg)
{
    (void)arg;
    ringo_sem *s;
    cr_assert_eq(ringo_sem_new(&s, UINT_MAX - 1), 0);
    cr_assert_eq(ringo_sem_release(s), 0);
    cr_assert_eq(ringo_sem_release(s), -EOVERFLOW);
    cr_assert_eq(ringo_sem_acquire(s), 0);
    cr_assert_eq(ringo_sem_release(s), 0);
    ringo_sem_free(s);
    cr_assert_eq(ringo_sem_acquire(NULL), -EINVAL);
    cr_assert_eq(ringo_sem_release(NULL), -EINVAL);
    ringo_sem_free(NULL);
    return 0;
}

Test(sem, overflow_and_bad_arguments)
{
    cr_assert_eq(ringo_sem_new(NULL, 1), -EINVAL);
    ringo_sem *s;
    cr_assert_eq(ringo_sem_new(&s, 1), 0);
    cr_assert_eq(ringo_sem_acquire(s), -EPERM, "acquire needs a task");
    cr_assert_eq(ringo_sem_release(s), 0, "release never waits: fine anywhere");
    ringo_sem_free(s);
    cr_assert_eq(run_clean(errors_main, NULL), 0);
}

static int cancel_main(void *arg)
{
    struct pool *p = arg;
    struct taker k[4];
    ringo_task *t[4];
    spawn_takers(k, t, 4, p);   /* value 0: all four wait */
    cr_assert_eq(ringo_cancel(t[0]), 0);          /* cancelled while waiting */
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(ringo_sem_release(p->s), 0);     /* handed to taker 1... */
    cr_assert_eq(ringo_cancel(t[1]), 0);          /* ...cancelled before it runs */
    cr_assert_eq(ringo_await(t[1]), -ECANCELED);
    cr_assert_eq(ringo_await(t[2]), 0, "the permit passed on to the next waiter");
    cr_assert_not(ringo_task_done(t[3]), "one release, one permit");
    cr_assert_eq(ringo_sem_release(p->s), 0);
    cr_assert_eq(ringo_await(t[3]), 0);
    cr_assert_eq(k[0].ret, -ECANCELED);
    cr_assert_eq(k[1].ret, -ECANCELED);
    return 0;
}

Test(sem, cancelled_waiter_does_not_eat_a_permit)
{
    struct pool p = { 0 };
    cr_assert_eq(ringo_sem_new(&p.s, 0), 0);
    cr_assert_eq(run_clean(cancel_main, &p), 0);
    int want[] = { 2, 3 };
    cr_assert_eq(p.n, 2);
    cr_assert_arr_eq(p.order, want, sizeof want);
    ringo_sem_free(p.s);
}

static int deadline_taker(void *arg)
{
    struct taker *k = arg;
    int64_t t0 = ringo_now();
    ringo_deadline(t0 + RINGO_MS(20));
    k->ret = ringo_sem_acquire(k->p->s);
    cr_assert_geq(ringo_now() - t0, RINGO_MS(20));
    return 0;
}

static int deadline_main(void *arg)
{
    struct pool *p = arg;
    struct taker slow = { .p = p, .id = 9, .ret = 1 };
    struct taker k[1];
    ringo_task *ts, *t[1];
    cr_assert_eq(ringo_spawn(&ts, deadline_taker, &slow), 0);
    cr_assert_eq(ringo_yield(), 0);
    spawn_takers(k, t, 1, p);
    cr_assert_eq(ringo_await(ts), 0);
    cr_assert_eq(slow.ret, -ETIMEDOUT);
    cr_assert_eq(ringo_sem_release(p->s), 0);
    cr_assert_eq(ringo_await(t[0]), 0, "the release went to the waiter behind");
    return 0;
}

Test(sem, deadline_interrupts_the_wait_and_leaves_no_trace)
{
    struct pool p = { 0 };
    cr_assert_eq(ringo_sem_new(&p.s, 0), 0);
    cr_assert_eq(run_clean(deadline_main, &p), 0);
    cr_assert_eq(p.n, 1);
    cr_assert_eq(p.order[0], 0);
    ringo_sem_free(p.s);
}

static int refuse_main(void *arg)
{
    struct pool *p = arg;
    struct taker k[3];
    ringo_task *t[3];
    spawn_takers(k, t, 3, p);
    stderr_capture_begin();
    ringo_sem_free(p->s);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_sem_free: 3 tasks still wait"), "stderr: %s", err);
    free(err);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_sem_release(p->s), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(sem, free_with_waiters_is_refused_with_a_message)
{
    struct pool p = { 0 };
    cr_assert_eq(ringo_sem_new(&p.s, 0), 0);
    cr_assert_eq(run_clean(refuse_main, &p), 0);
    ringo_sem_free(p.s);
}

/* ---- BoundedSemaphore --------------------------------------------------- */

static int bounded_main(void *arg)
{
    struct pool *p = arg;
    cr_assert_eq(ringo_sem_release(p->s), -EOVERFLOW, "all permits free: one too many");
    struct taker k[3];
    ringo_task *t[3];
    spawn_takers(k, t, 3, p);   /* value 2: two get through, one waits */
    cr_assert_eq(p->n, 2);
    cr_assert_eq(ringo_sem_release(p->s), 0);   /* handed to taker 2, not run yet */
    cr_assert_eq(ringo_sem_release(p->s), 0);   /* value 1 + 1 on its way: at the bound */
    cr_assert_eq(ringo_sem_release(p->s), -EOVERFLOW,
                 "the permit on its way to the woken waiter counts against the bound");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    cr_assert_eq(p->n, 3);
    cr_assert_eq(ringo_sem_release(p->s), 0);   /* taker 2's permit */
    cr_assert_eq(ringo_sem_release(p->s), -EOVERFLOW, "and nothing changed on failure");
    cr_assert_eq(ringo_sem_acquire(p->s), 0);
    cr_assert_eq(ringo_sem_acquire(p->s), 0);
    cr_assert_eq(ringo_sem_release(p->s), 0);
    cr_assert_eq(ringo_sem_release(p->s), 0);
    return 0;
}

Test(sem, bounded_release_past_the_initial_value_is_refused)
{
    struct pool p = { 0 };
    cr_assert_eq(ringo_sem_new_bounded(NULL, 1), -EINVAL);
    cr_assert_eq(ringo_sem_new_bounded(&p.s, 2), 0);
    cr_assert_eq(run_clean(bounded_main, &p), 0);
    ringo_sem_free(p.s);
    ringo_sem *z;
    cr_assert_eq(ringo_sem_new_bounded(&z, 0), 0);
    cr_assert_eq(ringo_sem_release(z), -EOVERFLOW, "a bound of 0 allows no release");
    ringo_sem_free(z);
}

static int bounded_cancel_main(void *arg)
{
    struct pool *p = arg;
    cr_assert_eq(ringo_sem_acquire(p->s), 0);   /* value 0 */
    struct taker k[2];
    ringo_task *t[2];
    spawn_takers(k, t, 2, p);
    cr_assert_eq(ringo_sem_release(p->s), 0);   /* to taker 0 */
    cr_assert_eq(ringo_cancel(t[0]), 0);        /* which passes it on to taker 1 */
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(ringo_await(t[1]), 0);
    /* One permit in all, held by taker 1: one release, not two. */
    cr_assert_eq(ringo_sem_release(p->s), 0);
    cr_assert_eq(ringo_sem_release(p->s), -EOVERFLOW, "the cancelled waiter made a permit");
    return 0;
}

Test(sem, bounded_permit_passed_on_by_a_cancelled_waiter_stays_within_the_bound)
{
    struct pool p = { 0 };
    cr_assert_eq(ringo_sem_new_bounded(&p.s, 1), 0);
    cr_assert_eq(run_clean(bounded_cancel_main, &p), 0);
    cr_assert_eq(p.n, 1);
    cr_assert_eq(p.order[0], 1);
    ringo_sem_free(p.s);
}
