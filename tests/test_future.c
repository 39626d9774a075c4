/* Futures: a result set once, before or after waits start, from a task,
 * from a foreign thread and from two racing threads (-EALREADY for the
 * loser); many waiters on one loop and on two; a cancelled or timed-out
 * wait leaves the future unset; errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "loops_helpers.h"

static int value_slot;   /* an address to pass as the value */

struct waiter { ringo_future *f; int ret; void *value; bool back; int64_t deadline; };

static int waiter(void *arg)
{
    struct waiter *w = arg;
    if (w->deadline)
        ringo_deadline(ringo_now() + w->deadline);
    w->ret = ringo_future_wait(w->f, &w->value);
    w->back = true;
    return 0;
}

static ringo_task *start(struct waiter *w, ringo_future *f)
{
    *w = (struct waiter){ .f = f, .ret = 1 };
    ringo_task *t;
    cr_assert_eq(ringo_spawn(&t, waiter, w), 0);
    cr_assert_eq(ringo_yield(), 0);
    cr_assert_not(w->back, "it should wait");
    return t;
}

struct setter { ringo_future *f; int status; int ret; };

static void *set_thread(void *arg)
{
    struct setter *s = arg;
    s->ret = ringo_future_set(s->f, s->status, &value_slot);
    return NULL;
}

static int set_before_main(void *arg)
{
    ringo_future *f = arg;
    void *v = NULL;
    cr_assert_eq(ringo_future_wait(f, &v), 42, "set before the loop even ran");
    cr_assert_eq(v, &value_slot);
    cr_assert_eq(ringo_future_wait(f, NULL), 42, "value may be NULL; waits repeat");
    /* Set from a foreign thread, which finished before the wait started. */
    ringo_future *g;
    cr_assert_eq(ringo_future_new(&g), 0);
    struct setter s = { .f = g, .status = -ENOENT };
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, set_thread, &s), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(s.ret, 0);
    v = NULL;
    cr_assert_eq(ringo_future_wait(g, &v), -ENOENT, "the status set, also a negative one");
    cr_assert_eq(v, &value_slot);
    ringo_future_free(g);
    return 0;
}

Test(future, set_before_the_wait_starts)
{
    ringo_future *f;
    cr_assert_eq(ringo_future_new(&f), 0);
    cr_assert_not(ringo_future_done(f));
    cr_assert_eq(ringo_future_set(f, 42, &value_slot), 0);
    cr_assert(ringo_future_done(f));
    cr_assert_eq(ringo_future_set(f, 7, NULL), -EALREADY);
    cr_assert_eq(run_clean(set_before_main, f), 0);
    ringo_future_free(f);
}

static int foreign_after_main(void *arg)
{
    ringo_future *f = arg;
    struct waiter w[3];
    ringo_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = start(&w[i], f);
    /* All three are suspended in the wait: only now does the thread exist. */
    struct setter s = { .f = f, .status = 5 };
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, set_thread, &s), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ringo_await(t[i]), 0);
        cr_assert_eq(w[i].ret, 5, "waiter %d", i);
        cr_assert_eq(w[i].value, &value_slot);
    }
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(s.ret, 0);
    cr_assert_eq(ringo_future_set(f, 6, NULL), -EALREADY);
    return 0;
}

Test(future, set_from_a_foreign_thread_after_the_waits_started)
{
    ringo_future *f;
    cr_assert_eq(ringo_future_new(&f), 0);
    cr_assert_eq(run_clean(foreign_after_main, f), 0);
    ringo_future_free(f);
}

static int task_set_main(void *arg)
{
    ringo_future *f = arg;
    struct waiter w[2];
    ringo_task *t[2] = { start(&w[0], f), start(&w[1], f) };
    cr_assert_eq(ringo_future_set(f, 0, NULL), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ringo_await(t[i]), 0);
        cr_assert_eq(w[i].ret, 0);
        cr_assert_null(w[i].value);
    }
    return 0;
}

Test(future, set_from_a_task_of_the_loop_wakes_every_waiter)
{
    ringo_future *f;
    cr_assert_eq(ringo_future_new(&f), 0);
    cr_assert_eq(run_clean(task_set_main, f), 0);
    ringo_future_free(f);
}

static int cancel_main(void *arg)
{
    ringo_future *f = arg;
    struct waiter w[3];
    ringo_task *t[3];
    for (int i = 0; i < 2; i++)
        t[i] = start(&w[i], f);
    cr_assert_eq(ringo_cancel(t[0]), 0);
    cr_assert_eq(ringo_await(t[0]), -ECANCELED);
    cr_assert_eq(w[0].ret, -ECANCELED);
    cr_assert_not(ringo_future_done(f), "a cancelled wait leaves the future unset");
    w[2] = (struct waiter){ .f = f, .ret = 1, .deadline = RINGO_MS(20) };
    int64_t t0 = ringo_now();
    cr_assert_eq(ringo_spawn(&t[2], waiter, &w[2]), 0);
    cr_assert_eq(ringo_await(t[2]), 0);
    cr_assert_eq(w[2].ret, -ETIMEDOUT);
    cr_assert_geq(ringo_now() - t0, RINGO_MS(15));
    cr_assert_not(ringo_future_done(f), "so does a timed-out one");
    cr_assert_not(w[1].back, "the other waiter still waits");
    /* Served, then cancelled before it ran: -ECANCELED, the result stays. */
    struct waiter late;
    ringo_task *tl = start(&late, f);
    cr_assert_eq(ringo_future_set(f, 9, &value_slot), 0);
    cr_assert_eq(ringo_cancel(tl), 0);
    cr_assert_eq(ringo_await(tl), -ECANCELED);
    cr_assert_eq(late.ret, -ECANCELED);
    cr_assert_eq(ringo_await(t[1]), 0);
    cr_assert_eq(w[1].ret, 9);
    void *v;
    cr_assert_eq(ringo_future_wait(f, &v), 9);
    cr_assert_eq(v, &value_slot);
    return 0;
}

Test(future, cancelled_or_timed_out_wait_leaves_it_unset)
{
    ringo_future *f;
    cr_assert_eq(ringo_future_new(&f), 0);
    cr_assert_eq(run_clean(cancel_main, f), 0);
    ringo_future_free(f);
}

struct race { ringo_future *f; struct setter s[2]; struct waiter w; };

static int race_main(void *arg)
{
    struct race *r = arg;
    ringo_task *t = start(&r->w, r->f);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        r->s[i] = (struct setter){ .f = r->f, .status = 100 + i };
        cr_assert_eq(pthread_create(&th[i], NULL, set_thread, &r->s[i]), 0);
    }
    cr_assert_eq(ringo_await(t), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_join(th[i], NULL), 0);
    return 0;
}

Test(future, two_threads_race_to_set_and_one_wins)
{
    for (int round = 0; round < 50; round++) {
        struct race r;
        cr_assert_eq(ringo_future_new(&r.f), 0);
        cr_assert_eq(run_clean(race_main, &r), 0);
        int winner = r.s[0].ret == 0 ? 0 : 1;
        cr_assert_eq(r.s[winner].ret, 0);
        cr_assert_eq(r.s[1 - winner].ret, -EALREADY, "round %d: both set it", round);
        cr_assert_eq(r.w.ret, 100 + winner, "the waiter saw the winner's result");
        ringo_future_free(r.f);
    }
}

struct two_loops { ringo_future *f; struct waiter w[2]; };

static int remote_waiter(void *arg)
{
    return waiter(arg);
}

static int two_loops_main(void *arg)
{
    struct two_loops *x = arg;
    x->w[0] = (struct waiter){ .f = x->f, .ret = 1 };
    x->w[1] = (struct waiter){ .f = x->f, .ret = 1 };
    ringo_task *t[2];
    cr_assert_eq(ringo_spawn_on(ringo_loop_at(1), &t[1], remote_waiter, &x->w[1]), 0);
    cr_assert_eq(ringo_spawn(&t[0], waiter, &x->w[0]), 0);
    cr_assert_eq(ringo_yield(), 0);
    struct setter s = { .f = x->f, .status = 3 };
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, set_thread, &s), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    return 0;
}

Test(future, waiters_on_two_loops_and_a_foreign_setter)
{
    struct two_loops x;
    cr_assert_eq(ringo_future_new(&x.f), 0);
    cr_assert_eq(run_loops_clean(NULL, 2, two_loops_main, &x), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(x.w[i].ret, 3, "waiter on loop %d", i);
        cr_assert_eq(x.w[i].value, &value_slot);
    }
    ringo_future_free(x.f);
}

static int refuse_main(void *arg)
{
    ringo_future *f = arg;
    struct waiter w[2];
    ringo_task *t[2] = { start(&w[0], f), start(&w[1], f) };
    stderr_capture_begin();
    ringo_future_free(f);
    char *err = stderr_capture_end();
    cr_assert_not_null(strstr(err, "ringo_future_free: 2 tasks still wait on this future"),
                       "stderr: %s", err);
    free(err);
    cr_assert_eq(ringo_future_set(f, 1, NULL), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ringo_await(t[i]), 0);
    return 0;
}

Test(future, bad_arguments_and_free_with_waiters_refused)
{
    ringo_future *f;
    cr_assert_eq(ringo_future_new(NULL), -EINVAL);
    cr_assert_eq(ringo_future_set(NULL, 0, NULL), -EINVAL);
    cr_assert_eq(ringo_future_wait(NULL, NULL), -EINVAL);
    cr_assert_not(ringo_future_done(NULL));
    ringo_future_free(NULL);
    cr_assert_eq(ringo_future_new(&f), 0);
    cr_assert_eq(ringo_future_wait(f, NULL), -EPERM, "a wait needs a task");
    cr_assert_eq(run_clean(refuse_main, f), 0);
    ringo_future_free(f);
}
